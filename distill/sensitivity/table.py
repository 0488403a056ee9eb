"""The sensitivity table of one condition: one row per parameter (docs/design.md §2.4).

Inputs: the parameter's plan (:func:`pipeline.sensitivity.perturbation`), the fit summary of
the condition's own readout (the base point) and of each side's point
(:mod:`distill.sensitivity.points`). Columns (``T`` for each compared number of segments):

=============================  =============================================================
``parameter``, ``label``       config path and what it is
``base_value``, ``unit``       the condition's value (as written in the config) and its unit
``step``, ``value_minus/plus`` relative step and the values simulated
``status``, ``reason``         ok / one-sided / invalid / failed, and why
``fit_minus/base/plus``        selected macro model of each point
``tau_ltp_*_s``, ``plateau_*`` τ_LTP (s) and plateau p(∞) at −/0/+
``elasticity_tau[_minus/plus]``  central [one-sided] elasticity of τ_LTP
``elasticity_plateau[...]``    of the plateau
``ratio_T<T>_*``               RF(1, T) / RF(T, T) at −/0/+
``elasticity_ratio_T<T>[...]``   its elasticities
``max_abs_dRF_T<T>``           max |RF±(t, T) − RF0(t, T)| over t and both sides
``max_rel_dRF_T<T>``           max |RF±(t, T) / RF0(t, T) − 1|
``schedule_elasticity``        elasticity of RF(1, T)/RF(T, T) for the first T (central, else
                               one-sided): the tornado's bar
``moves_schedule``             yes when |schedule elasticity| >= the threshold, no below,
                               empty when it could not be measured
``expected_elasticity_tau``,   the rate model's prediction (distill/sensitivity/theory.py),
``expected_schedule_elasticity``  with the same finite steps; empty for the tripartite model
``theory``                     agrees / differs: both measured elasticities within the
                               tolerance of the prediction
=============================  =============================================================
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from pipeline.units import ANY, parse_quantity, unit_text

from ..errors import RetentionError
from ..macro_models import FittedCurve
from ..retention import retention_factor
from ..sweeps.analysis import FITTED
from ..sweeps.plots import PARAMETER_NAMES
from .elasticity import SIDES, best_elasticity, elasticities, schedule_changes, shape_ratio
from .theory import rate_prediction

#: Row statuses: both sides fitted; one side only; neither side valid; a valid side failed.
ROW_STATUSES = ("ok", "one-sided", "invalid", "failed")


def label(parameter: str) -> str:
    """What a parameter is, e.g. ``constants.tau_pl`` -> "long-term process time constant
    τ_pl", ``nonlinearities.kappa.gain`` -> "kappa gain" (the sweep plots' names)."""
    parts = parameter.split(".")
    if parts[-1] in ("gain", "threshold") and len(parts) >= 2:
        return f"{parts[-2]} {parts[-1]}"
    return PARAMETER_NAMES.get(parts[-1], parts[-1])


def number(value: Any, key: str = "value") -> float:
    """A parameter value in SI units (a quantity string or a plain number)."""
    if value is None:
        return math.nan
    return float(parse_quantity(value, ANY, key)) if isinstance(value, str) else float(value)


def schedule(point: dict[str, Any] | None, T: int) -> np.ndarray | None:
    """RF(·, T) of a fitted point (its selected curve, onset removed), None without a fit or
    when the curve gives no valid schedule at this T."""
    if point is None or point.get("macro_model") is None or point["status"] not in FITTED:
        return None
    macro = point["macro_model"]
    curve = FittedCurve.from_dict(macro["name"], macro["params"]).retention_curve()
    try:
        return retention_factor(curve, point["tau_cycle_s"], T)
    except RetentionError:
        return None


def _value(point: dict[str, Any] | None, key: str) -> float:
    if point is None or point.get("status") not in FITTED or point.get(key) is None:
        return math.nan
    return float(point[key])


def _triple(row: dict, name: str, suffix: str, values: dict[str, float]) -> None:
    for side in ("minus", "base", "plus"):
        row[f"{name}_{side}{suffix}"] = values[side]


def _elastic(row: dict, name: str, e: dict[str, float]) -> None:
    row[name] = e["central"]
    row[f"{name}_minus"] = e["minus"]
    row[f"{name}_plus"] = e["plus"]


def parameter_row(plan: dict[str, Any], base: dict[str, Any],
                  points: dict[str, dict[str, Any] | None], segments: list[int],
                  threshold: float, tolerance: float,
                  base_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """One row of the table (see the module doc). ``points`` maps each side to its point's
    summary (None for an invalid point); ``base_params``, the condition's resolved parameters,
    enable the rate model's prediction."""
    name = plan["parameter"]
    key = f"{plan['condition']}.{name}"
    specs = plan["points"]
    row: dict[str, Any] = {
        "parameter": name, "label": label(name), "base_value": plan["base_value"],
        "unit": unit_text(plan["base_value"]) if isinstance(plan["base_value"], str) else "",
        "step": plan["step"],
        "value_minus": specs["minus"]["value"], "value_plus": specs["plus"]["value"]}
    fitted = {s: points.get(s) is not None and points[s]["status"] in FITTED for s in SIDES}
    reasons = []
    for side in SIDES:
        if not specs[side]["valid"]:
            reasons.append(f"{side}: invalid: {specs[side]['reason']}")
        elif not fitted[side]:
            point = points.get(side) or {}
            reasons.append(f"{side}: {point.get('status', 'missing')}: "
                           f"{point.get('reason') or ''}".rstrip(": "))
    if all(fitted.values()):
        status = "ok"
    elif any(fitted.values()):
        status = "one-sided"
    elif not any(specs[s]["valid"] for s in SIDES):
        status = "invalid"
    else:
        status = "failed"
    row.update(status=status, reason="; ".join(reasons))
    sides = {"base": base, **{s: points.get(s) for s in SIDES}}
    row.update({f"fit_{s}": p["macro_model"]["name"] if p and p.get("macro_model") else ""
                for s, p in sides.items()})
    x0 = number(plan["base_value"], key)
    x = {s: number(specs[s]["value"], key) if specs[s]["valid"] else math.nan for s in SIDES}
    for quantity, column, suffix in (("tau_ltp_s", "tau_ltp", "_s"), ("plateau", "plateau", "")):
        values = {s: _value(p, quantity) for s, p in sides.items()}
        _triple(row, column, suffix, values)
        _elastic(row, f"elasticity_{column.replace('_ltp', '')}",
                 elasticities(x0, values["base"], x, values))
    rf0 = {T: schedule(base, T) for T in segments}
    for T in segments:
        rf = {s: schedule(points.get(s), T) for s in SIDES}
        ratios = {s: shape_ratio(r) if r is not None else math.nan for s, r in rf.items()}
        ratios["base"] = shape_ratio(rf0[T]) if rf0[T] is not None else math.nan
        _triple(row, f"ratio_T{T}", "", ratios)
        _elastic(row, f"elasticity_ratio_T{T}", elasticities(x0, ratios["base"], x, ratios))
        changes = (schedule_changes(rf0[T], rf) if rf0[T] is not None
                   else {"max_abs_dRF": math.nan, "max_rel_dRF": math.nan})
        row[f"max_abs_dRF_T{T}"] = changes["max_abs_dRF"]
        row[f"max_rel_dRF_T{T}"] = changes["max_rel_dRF"]
    first = segments[0]
    e_schedule = best_elasticity({"central": row[f"elasticity_ratio_T{first}"],
                                  "minus": row[f"elasticity_ratio_T{first}_minus"],
                                  "plus": row[f"elasticity_ratio_T{first}_plus"]})
    row["schedule_elasticity"] = e_schedule
    row["moves_schedule"] = "" if not math.isfinite(e_schedule) else (
        "yes" if abs(e_schedule) >= threshold else "no")
    row["threshold"] = threshold
    row.update(theory_columns(plan, base_params, x0, x, row, first, tolerance))
    return row


def theory_columns(plan: dict[str, Any], base_params: dict[str, Any] | None, x0: float,
                   x: dict[str, float], row: dict[str, Any], T: int,
                   tolerance: float) -> dict[str, Any]:
    """Predicted elasticities of τ_LTP and of RF(1, T)/RF(T, T) (rate model; the same finite
    steps as the simulation) and whether the measured ones agree within ``tolerance``."""
    out = {"expected_elasticity_tau": math.nan, "expected_schedule_elasticity": math.nan,
           "tolerance": tolerance, "theory": ""}
    if base_params is None or base_params.get("model") == "tripartite":
        return out
    predicted = {"base": rate_prediction(base_params, [T])}
    for side in SIDES:
        params = plan["points"][side]["params"]
        predicted[side] = rate_prediction(params, [T]) if params is not None else None
    tau = {s: p["tau_ltp_s"] if p else math.nan for s, p in predicted.items()}
    ratio = {s: p["ratio"][T] if p else math.nan for s, p in predicted.items()}
    e_tau = elasticities(x0, tau["base"], x, tau)
    e_ratio = elasticities(x0, ratio["base"], x, ratio)
    # compare like with like: central with central, else the one-sided value measured
    measured_central = math.isfinite(row["elasticity_tau"])
    pick = (lambda e: e["central"]) if measured_central else best_elasticity
    out["expected_elasticity_tau"] = pick(e_tau)
    out["expected_schedule_elasticity"] = pick(e_ratio)
    measured = (row["elasticity_tau"] if measured_central else best_elasticity(
        {"central": math.nan, "minus": row["elasticity_tau_minus"],
         "plus": row["elasticity_tau_plus"]}), row["schedule_elasticity"])
    expected = (out["expected_elasticity_tau"], out["expected_schedule_elasticity"])
    if all(math.isfinite(v) for v in (*measured, *expected)):
        ok = all(abs(m - e) <= tolerance for m, e in zip(measured, expected, strict=True))
        out["theory"] = "agrees" if ok else "differs"
    return out


def sensitivity_table(plans: list[dict[str, Any]], base: dict[str, Any],
                      points: dict[str, dict[str, dict[str, Any] | None]],
                      segments: list[int], threshold: float, tolerance: float,
                      base_params: dict[str, Any] | None = None) -> pd.DataFrame:
    """The table of one condition: one :func:`parameter_row` per plan, in plan order.
    ``points[parameter][side]`` is that point's summary (None when invalid)."""
    rows = [parameter_row(plan, base, points.get(plan["parameter"], {}), segments, threshold,
                          tolerance, base_params) for plan in plans]
    return pd.DataFrame(rows)
