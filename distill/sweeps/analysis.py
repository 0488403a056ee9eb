"""Sweep analysis: distill one sweep point without failing and aggregate a sweep into a
table (plots: distill/sweeps/plots.py; command line: ``python -m distill.sweeps``).

A point's ``fit.json``::

    {"sweep", "point", "condition", "values": {param: value}, "status", "reason",
     "warnings": [...], "retention": <distill's retention JSON, or null>}

``status`` is one of :data:`STATUSES`. Points whose readout does not saturate within the
simulated time are never silently fitted: ``not saturated`` points (distill refuses them)
have no fit, ``weakly saturated`` ones (the fit reaches 50–90 % of its asymptote) keep their
fit with a warning; both are flagged in the table and drawn differently in every plot.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.io import atomic_write_json, atomic_write_text

from ..errors import DistillError, DistillWarning, NoEligibleModelError, ReadoutShapeError
from ..io import read_readout
from ..macro_models import FittedCurve
from ..pipeline import distill

#: Point statuses, from good to bad.
STATUSES = ("ok", "poor fit", "weakly saturated", "not saturated", "no rise",
            "no eligible model", "failed")
#: Statuses that carry a usable fit (all but "ok" are flagged).
FITTED = ("ok", "poor fit", "weakly saturated")


# --- one point --------------------------------------------------------------------------------

#: Point status of each ReadoutShapeError kind (distill.errors.SHAPE_KINDS).
SHAPE_STATUS = {"flat": "no rise", "no_rise": "no rise", "rise_then_fall": "failed",
                "not_saturated": "not saturated", "strict": "failed"}
#: Point status of the warnings that flag a usable fit (others leave it "ok").
WARNING_STATUS = {"weakly_saturated": "weakly saturated", "poor_fit": "poor fit"}


def classify(error: DistillError) -> str:
    """Status of a point whose readout distill refused (by the error's type and kind)."""
    if isinstance(error, ReadoutShapeError):
        return SHAPE_STATUS[error.kind]
    if isinstance(error, NoEligibleModelError):
        return "no eligible model"
    return "failed"


#: bootstrap resamples over pairs per sweep point (fewer than a condition's 200: many points)
SWEEP_BOOTSTRAP = 50


def fit_point(readout_path: str | Path, params: dict[str, Any], max_segments: int,
              n_boot: int = SWEEP_BOOTSTRAP) -> dict:
    """Distill one sweep point; never raises for a readout that cannot be distilled.

    ``n_boot``: bootstrap resamples over pairs (tripartite readouts; 0 for none)."""
    sweep = params.get("sweep", {})
    out = {"sweep": sweep.get("name"), "point": sweep.get("point"),
           "condition": params["condition"], "values": sweep.get("values", {}),
           "status": "ok", "reason": None, "warnings": [], "retention": None}
    try:
        readout = read_readout(readout_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DistillWarning)
            result = distill(readout, params["condition"], max_segments, n_boot=n_boot)
    except DistillError as err:
        out.update(status=classify(err), reason=str(err))
        return out
    out["retention"] = result.to_json()
    out["warnings"] = list(result.warnings)
    for kind, status in WARNING_STATUS.items():  # in order: the first flag found wins
        if kind in result.warning_kinds:
            out["status"] = status
            out["reason"] = result.warnings[result.warning_kinds.index(kind)]
            break
    return out


def write_point(path: str | Path, payload: dict) -> None:
    """Write a point's fit JSON atomically (indent 2, a trailing newline, no NaN)."""
    atomic_write_json(path, payload)


# --- the table ----------------------------------------------------------------------------------

def display_values(values: list[Any]) -> tuple[list[float], str]:
    """Numbers of a parameter's values in the unit of the first one, and that unit's text."""
    if not isinstance(values[0], str):
        return [float(v) for v in values], ""
    import re

    from pipeline.units import ANY, parse_quantity

    unit = re.sub(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*", "", values[0]).strip()
    scale = float(parse_quantity(f"1 {unit}", ANY, "sweep value"))
    return [float(parse_quantity(v, ANY, "sweep value")) / scale for v in values], unit


def value_column(name: str, unit: str) -> str:
    """Table column holding a swept parameter's numbers (display unit in brackets)."""
    return f"{name} [{unit}]" if unit else f"{name} [1]"


def curve_summary(retention: dict) -> dict[str, float]:
    """Plateau p(∞), rise, time to 63.2 % of the rise (s) and the fitted LTP time constant
    τ_LTP (s) of forms that have one (sat_exp, exp_onset; NaN for other models)."""
    macro = retention["macro_model"]
    curve = FittedCurve.from_dict(macro["name"], macro["params"])
    total = float(curve.increment(0.0, np.inf))
    p0 = float(curve(np.array([0.0]))[0])
    t63 = math.nan
    if total > 0:
        from scipy.optimize import brentq

        hi = retention["duration_s"]
        while float(curve.increment(0.0, hi)) < 0.632 * total and hi < 1e9:
            hi *= 2
        t63 = brentq(lambda t: float(curve.increment(0.0, t)) - 0.632 * total, 0.0, hi)
    tau = math.nan
    derived = retention.get("derived") or {}
    if str(derived.get("tau_ltp_definition", "")).startswith("fitted"):
        tau = float(derived["tau_ltp_s"])
    elif macro["name"] == "sat_exp":  # retention files written before "derived" existed
        tau = macro["params"].get("tau", math.nan)
    return {"plateau": p0 + total, "rise": total, "t63_s": t63, "tau_s": tau}


def sweep_table(fits: list[dict], segments: list[int]) -> pd.DataFrame:
    """One row per point: parameter values, status, fitted macro model, RF(t, T)."""
    rows = []
    names = list(fits[0]["values"]) if fits else []
    numbers = {n: display_values([f["values"][n] for f in fits]) for n in names}
    for k, fit in enumerate(fits):
        row: dict[str, Any] = {"sweep": fit["sweep"], "point": fit["point"]}
        for name, value in fit["values"].items():
            row[name] = value
            row[value_column(name, numbers[name][1])] = numbers[name][0][k]
        row.update(status=fit["status"], reason=fit["reason"] or "",
                   warnings=" | ".join(fit["warnings"]))
        ret = fit["retention"]
        if ret is not None and fit["status"] in FITTED:
            macro = ret["macro_model"]
            row.update(model=macro["name"], model_params=json.dumps(macro["params"]),
                       r2=macro["r2"], aic=macro["aic"],
                       saturation_fraction=macro["saturation_fraction"], **curve_summary(ret))
            for T in segments:
                rf = ret["schedules"].get(str(T))
                row[f"RF1_T{T}"] = rf[0] if rf else math.nan
                row[f"RF_T{T}"] = json.dumps(rf) if rf else ""
        rows.append(row)
    table = pd.DataFrame(rows)
    for col in ("model", "model_params", "r2", "aic", "saturation_fraction", "plateau",
                "rise", "t63_s", "tau_s"):
        if col not in table:
            table[col] = math.nan
    return table


def write_table(table: pd.DataFrame, path: str | Path) -> None:
    """Write the table as CSV, atomically."""
    atomic_write_text(path, table.to_csv(index=False))


def load_point(point_dir: str | Path) -> tuple[dict, pd.DataFrame]:
    """A point's fit JSON and readout table."""
    point_dir = Path(point_dir)
    fit = json.loads((point_dir / "fit.json").read_text())
    return fit, pd.read_csv(point_dir / "readout.csv")
