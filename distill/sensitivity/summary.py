"""What a condition's sensitivity table says, in numbers and in one sentence.

:func:`summarise` gives which parameters move the schedule (|schedule elasticity| >= the
threshold), which do not, which could not be measured, and for the rate model the check of
the prediction (elasticity of τ_LTP to τ_pl, γ_l and the period; the largest elasticity among
the other parameters); :func:`sentence` turns it into what it means for a user's swap.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from .theory import SCHEDULE_PARAMETERS


def _fmt(x: float) -> str:
    return f"{x:+.2f}" if abs(x) >= 0.005 else f"{x:+.1e}"


def _largest(table: pd.DataFrame, column: str) -> dict[str, Any] | None:
    values = table[column].astype(float)
    values = values[values.notna()]
    if values.empty:
        return None
    idx = values.abs().idxmax()
    return {"parameter": table.loc[idx, "parameter"], "label": table.loc[idx, "label"],
            "value": float(values[idx])}


def fit_changes(table: pd.DataFrame) -> list[str]:
    """Parameters whose points select another macro model than the condition's own fit: their
    elasticities mix a change of curve family with the change of biology."""
    base = table["fit_base"].fillna("")
    changed = [(table[f"fit_{side}"].fillna("") != base) & (table[f"fit_{side}"].fillna("") != "")
               for side in ("minus", "plus")]
    return list(table.loc[changed[0] | changed[1], "parameter"])


def summarise(table: pd.DataFrame, condition: str, model: str, segments: list[int],
              threshold: float, tolerance: float) -> dict[str, Any]:
    """The condition's findings as plain JSON (see the module doc)."""
    e = table["schedule_elasticity"].astype(float)
    moves = table[e.abs() >= threshold].assign(_abs=e.abs()).sort_values("_abs",
                                                                          ascending=False)
    still = table[e.abs() < threshold]
    unmeasured = table[e.isna()]
    out: dict[str, Any] = {
        "condition": condition, "model": model, "segments": segments, "threshold": threshold,
        "parameters": len(table),
        "moves_schedule": [{"parameter": r.parameter, "label": r.label,
                            "schedule_elasticity": float(r.schedule_elasticity)}
                           for r in moves.itertuples()],
        "does_not_move": list(still["parameter"]),
        "not_measured": [{"parameter": r.parameter, "status": r.status, "reason": r.reason}
                         for r in unmeasured.itertuples()],
        "largest_still_schedule": _largest(still, "schedule_elasticity"),
        "largest_still_plateau": _largest(still, "elasticity_plateau"),
        "statuses": {k: int(v) for k, v in table["status"].value_counts().items()},
        "fit_changes": fit_changes(table),
        "theory": None,
    }
    theory = table["theory"].fillna("") if "theory" in table else pd.Series(dtype=str)
    if model != "tripartite" and (theory != "").any():
        key = table.set_index("parameter")
        named = {p: {"tau": float(key.loc[p, "elasticity_tau"]),
                     "expected_tau": float(key.loc[p, "expected_elasticity_tau"]),
                     "schedule": float(key.loc[p, "schedule_elasticity"]),
                     "expected_schedule": float(key.loc[p, "expected_schedule_elasticity"])}
                 for p in SCHEDULE_PARAMETERS if p in key.index}
        others = table[~table["parameter"].isin(SCHEDULE_PARAMETERS)]
        measured = table[theory != ""]
        out["theory"] = {
            "tolerance": tolerance, "named": named,
            "largest_other_tau": _largest(others, "elasticity_tau"),
            "largest_other_schedule": _largest(others, "schedule_elasticity"),
            "agrees": int((measured["theory"] == "agrees").sum()),
            "differs": list(measured.loc[measured["theory"] == "differs", "parameter"]),
            "checked": len(measured)}
    return out


def sentence(summary: dict[str, Any]) -> str:
    """What the numbers mean for a user who swaps a parameter of this condition."""
    T = summary["segments"][0]
    thr = summary["threshold"]
    n = summary["parameters"]
    moves = summary["moves_schedule"]
    still = summary["does_not_move"]
    crit = f"|elasticity of RF(1, {T})/RF({T}, {T})| ≥ {thr:g}"
    head = (f"Condition {summary['condition']} ({summary['model']} model): "
            f"{len(moves)} of {n} parameters move the schedule RF(·, {T}) ({crit})")
    if moves:
        head += ": " + ", ".join(f"{m['label']} ({_fmt(m['schedule_elasticity'])})"
                                 for m in moves[:8])
        if len(moves) > 8:
            head += f" and {len(moves) - 8} more"
    parts = [head + "."]
    largest = summary["largest_still_schedule"]
    plateau = summary["largest_still_plateau"]
    if still and largest is not None:
        text = (f"The other {len(still)} change it by an elasticity of at most "
                f"{abs(largest['value']):.2g} ({largest['label']})")
        if plateau is not None and abs(plateau["value"]) >= thr:
            text += (f", although some move the plateau (up to {_fmt(plateau['value'])}, "
                     f"{plateau['label']}), which RF's normalisation removes")
        parts.append(text + ".")
    if moves and not still:
        parts.append("Every measured parameter moves the schedule at this step: any swap gives "
                     "a different schedule.")
    elif moves and len(still) >= len(moves):
        names = ", ".join(m["label"] for m in moves[:4])
        parts.append(f"A user who swaps any of the {len(still)} others regenerates the same "
                     f"schedule (within {thr:g} × the relative change); to change the schedule, "
                     f"change {names}.")
    elif moves:
        parts.append(f"Most of this model's parameters shape the schedule: a swap of almost any "
                     f"of them gives a different schedule; only {len(still)} do not "
                     f"({', '.join(still[:6])}{', ...' if len(still) > 6 else ''}).")
    else:
        parts.append("No parameter moves the schedule at this step: any swap regenerates the "
                     "same schedule.")
    changes = summary.get("fit_changes") or []
    if changes:
        parts.append(f"For {len(changes)} parameter{'s' if len(changes) > 1 else ''} a point "
                     "selects another macro model than the condition's own fit (a change of "
                     "curve family, see the fit columns).")
    if summary["not_measured"]:
        parts.append(f"{len(summary['not_measured'])} could not be measured (see the table's "
                     "reason column).")
    return " ".join(parts)


def theory_sentence(summary: dict[str, Any]) -> str:
    """The rate model's prediction against the simulation, in one sentence ('' without)."""
    theory = summary.get("theory")
    if not theory:
        return ""
    named = theory["named"]
    bits = []
    for key, name in (("constants.tau_pl", "τ_pl"), ("constants.gamma_l", "γ_l"),
                      ("protocol.period", "the period")):
        if key in named and math.isfinite(named[key]["tau"]):
            bits.append(f"{name} {_fmt(named[key]['tau'])} (predicted "
                        f"{_fmt(named[key]['expected_tau'])})")
    other = theory["largest_other_tau"]
    text = "Elasticity of τ_LTP to " + ", ".join(bits) + "."
    if other is not None:
        text += (f" Largest among the other parameters: {_fmt(other['value'])} "
                 f"({other['label']}; predicted 0).")
    verdict = ("all agree" if not theory["differs"]
               else f"differ: {', '.join(theory['differs'])}")
    text += (f" Prediction vs simulation within ±{theory['tolerance']:g} (τ_LTP and schedule "
             f"elasticities) for {theory['agrees']} of {theory['checked']} parameters; "
             f"{verdict}.")
    return text
