"""Elasticities and schedule changes of one perturbed parameter (docs/design.md §2.4).

For a quantity y measured at a parameter's base value x0 and at x± = x0 (1 ± h)::

    central     e   = [(y+ − y−) / y0] / [(x+ − x−) / x0]
    one-sided   e±  = [(y± − y0) / y0] / [(x± − x0) / x0]

(dimensionless: the % change of y per % change of x). The x's are the values actually
simulated (after rounding to 6 significant digits), not the nominal step. With only one
valid side the central elasticity is NaN and the one-sided one stands.

Schedule measures for a number of segments T, against the condition's own schedule RF0:

- ``ratio``: RF(1, T) / RF(T, T), how much more the first of T segments is retained than the
  last (1 = flat); its elasticity is the **schedule elasticity** (the tornado's bars);
- ``max_abs_dRF``: max over t and both sides of |RF±(t, T) − RF0(t, T)| (RF units);
- ``max_rel_dRF``: max over t and both sides of |RF±(t, T) / RF0(t, T) − 1|.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

#: Sides of a perturbation, in table order.
SIDES = ("minus", "plus")


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def elasticities(x0: float, y0: float | None, x: Mapping[str, float | None],
                 y: Mapping[str, float | None]) -> dict[str, float]:
    """Central and one-sided elasticities of y with respect to x (see the module doc).

    ``x`` and ``y`` map ``minus``/``plus`` to the values at that side (None or NaN where the
    point is missing or invalid). Returns ``{"central", "minus", "plus"}``, NaN where a value
    is missing, y0 is 0 or the step is 0.
    """
    nan = math.nan
    out = {"central": nan, "minus": nan, "plus": nan}
    if not _finite(x0, y0) or x0 == 0 or y0 == 0:
        return out
    for side in SIDES:
        if _finite(x.get(side), y.get(side)) and x[side] != x0:
            out[side] = ((y[side] - y0) / y0) / ((x[side] - x0) / x0)
    if _finite(x.get("minus"), x.get("plus"), y.get("minus"), y.get("plus")) and \
            x["plus"] != x["minus"]:
        out["central"] = ((y["plus"] - y["minus"]) / y0) / ((x["plus"] - x["minus"]) / x0)
    return out


def best_elasticity(e: Mapping[str, float]) -> float:
    """The central elasticity, else the one-sided one that exists, else NaN."""
    if math.isfinite(e["central"]):
        return e["central"]
    sided = [e[s] for s in SIDES if math.isfinite(e[s])]
    return float(np.mean(sided)) if sided else math.nan


def shape_ratio(rf: Sequence[float]) -> float:
    """RF(1, T) / RF(T, T) of one schedule (1 for a flat one)."""
    rf = np.asarray(rf, dtype=float)
    return float(rf[0] / rf[-1])


def schedule_changes(rf0: Sequence[float], rf: Mapping[str, Sequence[float] | None]
                     ) -> dict[str, float]:
    """``max_abs_dRF`` and ``max_rel_dRF`` of the perturbed schedules ``rf`` (by side, None if
    missing) against the condition's own ``rf0``; NaN when no side has a schedule."""
    base = np.asarray(rf0, dtype=float)
    absolute, relative = [], []
    for side in SIDES:
        if rf.get(side) is None:
            continue
        d = np.asarray(rf[side], dtype=float) - base
        absolute.append(float(np.max(np.abs(d))))
        relative.append(float(np.max(np.abs(d / base))))
    if not absolute:
        return {"max_abs_dRF": math.nan, "max_rel_dRF": math.nan}
    return {"max_abs_dRF": max(absolute), "max_rel_dRF": max(relative)}
