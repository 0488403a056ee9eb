"""Memory retention factor RF(t, T) from a fitted LTP curve (docs/design.md §4.1).

Segment t of a sequence of T segments gets the share of LTP growth during STP cycle t::

    RF(t, T) = [p(t·τc) − p((t−1)·τc)] / [p(T·τc) − p(0)],   t = 1..T

with p the fitted macro model (time in s) and τc the cycle period (s).

Numerics. The increments d_t = p(t·τc) − p((t−1)·τc) are taken from the curve's stable
``increment`` method when it has one (see :mod:`distill.macro_models`); a plain callable is
differenced. The denominator p(T·τc) − p(0) equals Σ_t d_t exactly in real arithmetic
(telescoping sum), so it is computed as the float64 sum of the same increments: then
Σ_t RF(t, T) = 1 up to rounding (|Σ − 1| ≲ T·2⁻⁵³ ≈ 1e-14 for T = 64), independently of any
cancellation in p(T·τc) − p(0). Increments that rise by no more than ``RTOL`` (relative) — a
rounding artefact of nearly equal increments — are flattened with a running minimum before
normalising; dividing by one positive number keeps the order, so the schedule is exactly
non-increasing. A curve whose increments are non-positive or rise by more than ``RTOL`` raises
:class:`~distill.errors.RetentionError`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import RetentionError

RTOL = 1e-9  # allowed relative rise of one increment over the previous one (rounding)

Curve = Callable[[np.ndarray], np.ndarray]


def cycle_increments(curve: Curve, tau_cycle_s: float, T: int) -> np.ndarray:
    """d_t = p(t·τc) − p((t−1)·τc) for t = 1..T (dimensionless), τc in s."""
    if not (isinstance(T, int | np.integer) and T >= 1):
        raise ValueError(f"number of segments T must be an integer >= 1, got {T!r}")
    if not (np.isfinite(tau_cycle_s) and tau_cycle_s > 0):
        raise ValueError(f"cycle period tau_cycle_s must be positive, got {tau_cycle_s!r} s")
    edges = np.arange(T + 1, dtype=float) * tau_cycle_s
    increment = getattr(curve, "increment", None)
    if increment is not None:
        d = increment(edges[:-1], edges[1:])
    else:
        d = np.diff(np.asarray(curve(edges), dtype=float))
    return np.asarray(d, dtype=float).reshape(T)


def increments_problem(d: np.ndarray, rtol: float = RTOL) -> str | None:
    """Why increments ``d`` cannot give an RF schedule (``None`` if they can): they must be
    finite, positive, and non-increasing (within ``rtol`` relative)."""
    if not np.all(np.isfinite(d)):
        return "curve is not finite over the horizon"
    bad = np.flatnonzero(d <= 0)
    if bad.size:
        return (f"curve does not increase over cycle t={bad[0] + 1} "
                f"(increment {d[bad[0]]:.3g}; RF would not be positive)")
    rising = np.flatnonzero(d[1:] > d[:-1] * (1 + rtol))
    if rising.size:
        t = rising[0] + 1
        return (f"curve is not concave at cycle resolution: increment rises from cycle t={t} "
                f"to t={t + 1} ({d[t - 1]:.3g} -> {d[t]:.3g}; sigmoid-like onset), so RF would "
                "not be non-increasing")
    return None


def _schedule_from_increments(d: np.ndarray) -> np.ndarray:
    reason = increments_problem(d)
    if reason is not None:
        raise RetentionError(f"no valid retention schedule: {reason}")
    d = np.minimum.accumulate(d)  # remove rises of at most RTOL (rounding), see module doc
    return d / d.sum()


def retention_factor(curve: Curve, tau_cycle_s: float, T: int) -> np.ndarray:
    """RF(t, T) for t = 1..T: an array of length T, positive, non-increasing, summing to 1.

    ``curve`` maps time in s to p^l (a :class:`~distill.macro_models.FittedCurve` or any
    vectorised callable); ``tau_cycle_s`` is the cycle period τc in s; ``T`` the number of
    segments. Raises :class:`~distill.errors.RetentionError` if the curve is not increasing and
    concave at cycle resolution over [0, T·τc].
    """
    return _schedule_from_increments(cycle_increments(curve, tau_cycle_s, T))


def retention_schedules(
    curve: Curve, tau_cycle_s: float, max_segments: int
) -> dict[int, np.ndarray]:
    """``{T: RF(·, T)}`` for every T in 1..max_segments (see :func:`retention_factor`).

    The increments are computed and checked once over the longest horizon; each schedule is
    the normalised prefix of length T.
    """
    d = cycle_increments(curve, tau_cycle_s, max_segments)
    reason = increments_problem(d)
    if reason is not None:
        raise RetentionError(f"no valid retention schedule: {reason}")
    return {T: _schedule_from_increments(d[:T]) for T in range(1, max_segments + 1)}


def sat_exp_closed_form(tau_cycle_s: float, tau_s: float, T: int) -> np.ndarray:
    """Closed-form RF of a saturating exponential (τ in s), the test oracle::

        RF(t, T) = (1 − e^{−τc/τ}) e^{−(t−1)τc/τ} / (1 − e^{−Tτc/τ})
    """
    t = np.arange(1, T + 1, dtype=float)
    r = tau_cycle_s / tau_s
    return -np.expm1(-r) * np.exp(-(t - 1) * r) / -np.expm1(-T * r)
