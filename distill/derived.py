"""Named, biologically meaningful quantities of a fitted LTP curve, and bootstrap intervals.

Every retention JSON carries a ``"derived"`` object (:func:`derived_quantities`):

==================  ===========================================================================
key                 meaning
==================  ===========================================================================
``tau_ltp_s``       LTP time constant τ_LTP, s: the fitted τ of ``sat_exp`` and ``exp_onset``;
                    for forms without one (hill, logistic, double_exp) the time to 63.2 % of
                    the total rise, which equals τ for a saturating exponential
``tau_ltp_cycles``  τ_LTP / τc (STP cycles)
``tau_ltp_stderr_s``  standard error of τ_LTP when it is a fitted parameter, else null
``tau_ltp_definition``  which of the two definitions above was used
``plateau``         p(∞), the saturation level (units of the readout)
``rise``            p(∞) − p(0)
``cycles_to_90``    time at which the curve reaches 90 % of its total rise, in cycles
``shape_ratio_16``  RF(1, 16) / RF(16, 16): how much more the first of 16 segments is retained
                    than the last (1 = flat 1/T); null when max_segments < 16
==================  ===========================================================================

With per-pair readouts (the tripartite simulation writes every pair's value at every cycle
boundary) :func:`bootstrap_pairs` resamples the pairs with replacement, refits the selected
form to each resampled mean (weighted by its spread) and gives 95 % percentile intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import brentq

from .macro_models import FittedCurve, get_model

SHAPE_T = 16
BOOTSTRAP_N = 200


#: Halvings or doublings of the search interval of :func:`rise_time`: enough to go from any
#: positive float to any other (2^-1074 .. 2^1024).
_MAX_STEPS = 2_100


def rise_time(curve: FittedCurve, share: float) -> float:
    """Time (s) at which ``curve`` has completed ``share`` (0..1) of its total rise.

    Scale-free: the search starts at the curve's own time scale and brackets the answer
    within a factor of 2 before a root search with a tolerance relative to it, so the
    result scales exactly with the unit of time (NaN if the curve has no rise, or does not
    reach ``share`` at any finite time)."""
    unit = curve.unit_rise()  # the same shares, without under- or overflow in p
    total = float(unit.increment(0.0, np.inf))
    if not total > 0:
        return float("nan")
    target = share * total

    def done(t: float) -> bool:
        return float(unit.increment(0.0, t)) >= target

    hi = curve.time_scale()
    for _ in range(_MAX_STEPS):
        if done(hi) or not np.isfinite(hi):
            break
        hi *= 2.0
    if not (np.isfinite(hi) and done(hi)):
        return float("nan")
    for _ in range(_MAX_STEPS):
        if hi / 2.0 == 0.0 or not done(hi / 2.0):
            break
        hi /= 2.0
    return float(brentq(lambda t: float(unit.increment(0.0, t)) - target, 0.0, hi,
                        xtol=1e-13 * hi, rtol=1e-13))


def tau_ltp(curve: FittedCurve) -> tuple[float, str]:
    """(τ_LTP in s, definition): the form's time constant, or the 63.2 % rise time."""
    name = curve.model.tau_param
    if name is not None:
        return float(curve.params[curve.model.param_names.index(name)]), f"fitted {name}"
    return rise_time(curve, 1.0 - np.exp(-1.0)), "time to 63.2 % of the rise"


def fmt(value: float | None, spec: str = ".3g") -> str:
    """A derived quantity for a plot or a summary line: ``n/a`` where the JSON holds null."""
    return "n/a" if value is None else format(value, spec)


def derived_quantities(
    curve: FittedCurve,
    tau_cycle_s: float,
    schedules: dict[int, np.ndarray],
    stderr: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The ``"derived"`` object of the retention JSON (see module docstring); finite floats or
    null only."""
    tau_s, definition = tau_ltp(curve)
    total = float(curve.increment(0.0, np.inf))
    p0 = float(curve(0.0))
    name = curve.model.tau_param
    se = None if (stderr is None or name is None) else stderr.get(name)
    shape = None
    if SHAPE_T in schedules:
        rf = schedules[SHAPE_T]
        shape = float(rf[0] / rf[-1])
    t90 = rise_time(curve, 0.9)

    def finite(x: float | None) -> float | None:
        return float(x) if x is not None and np.isfinite(x) else None

    return {
        "tau_ltp_s": finite(tau_s),
        "tau_ltp_cycles": finite(tau_s / tau_cycle_s),
        "tau_ltp_stderr_s": finite(se),
        "tau_ltp_definition": definition,
        "plateau": finite(p0 + total),
        "rise": finite(total),
        "cycles_to_90": finite(t90 / tau_cycle_s),
        "shape_ratio_16": finite(shape),
    }


def pair_weights(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(mean, SD of the mean) over pairs (columns) at every point; the SD is floored at a tenth
    of its median positive value (the first point, where every pair starts alike, has SD 0) and
    is None when the pairs never differ."""
    pairs = np.asarray(pairs, dtype=float)
    mean = pairs.mean(axis=1)
    if pairs.shape[1] < 2:
        return mean, None
    sem = pairs.std(axis=1, ddof=1) / np.sqrt(pairs.shape[1])
    positive = sem[sem > 0]
    if positive.size == 0:
        return mean, None
    return mean, np.maximum(sem, 0.1 * float(np.median(positive)))


def bootstrap_pairs(
    name: str,
    time_s: np.ndarray,
    pairs: np.ndarray,
    tau_cycle_s: float,
    n_boot: int = BOOTSTRAP_N,
    seed: int = 0,
) -> dict[str, Any]:
    """Refit candidate ``name`` to ``n_boot`` resamples (with replacement) of the pairs
    (columns of ``pairs``, one row per time in ``time_s`` s); 95 % percentile intervals of its
    parameters and of τ_LTP (s), plateau and cycles to 90 %. Resamples whose fit fails are
    counted, not used. Repeatable for a given ``seed``."""
    from .fit import fit_candidate  # here: fit imports this package's retention helpers

    model = get_model(name)
    rng = np.random.default_rng(seed)
    n_pairs = pairs.shape[1]
    rows: list[dict[str, float]] = []
    failed = 0
    for _ in range(n_boot):
        sample = pairs[:, rng.integers(0, n_pairs, n_pairs)]
        mean, sigma = pair_weights(sample)
        fit = fit_candidate(model, time_s, mean, tau_cycle_s, 1, sigma)
        if fit.status != "ok" or fit.curve is None:
            failed += 1
            continue
        tau_s, _ = tau_ltp(fit.curve)
        row = dict(fit.params)
        row.update(tau_ltp_s=tau_s, plateau=float(fit.curve(np.inf)),
                   cycles_to_90=rise_time(fit.curve, 0.9) / tau_cycle_s)
        rows.append(row)
    ci: dict[str, list[float]] = {}
    for key in (rows[0] if rows else {}):
        values = np.array([r[key] for r in rows], dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            ci[key] = [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]
    return {"model": name, "resamples": n_boot, "failed": failed, "n_pairs": int(n_pairs),
            "seed": int(seed), "ci95": ci}
