"""Fit the macro-model candidates to a readout and select one by AIC.

Fitting (per candidate, :func:`fit_candidate`):

* Data are normalised first (t / duration, (p − p(0)) / rise, rise = max p − p(0)) so that the
  starting points, bounds and step sizes of every candidate do not depend on τc or on the scale
  of p^l (which may be 0.01 or 1). Parameters and covariance are scaled back to physical units.
* ``scipy.optimize.curve_fit`` (trust-region reflective, bounds of
  :mod:`distill.macro_models`) is started from several data-driven guesses; the start with the
  smallest residual sum of squares wins. A start that raises is recorded; a candidate whose
  starts all fail is reported with ``status = "failed"`` and no parameters — nothing crashes.
* Standard errors are sqrt(diag(pcov)) of curve_fit's covariance (residual variance
  RSS / (n − k)). A candidate is *not identifiable* if that covariance is not finite or the
  column-normalised Jacobian at the optimum has condition number > ``MAX_COND`` (e.g. a double
  exponential whose second amplitude went to 0, leaving τ2 free).

Information criteria (Gaussian errors of unknown variance, constants dropped)::

    AIC  = n ln(RSS / n) + 2k
    AICc = AIC + 2k(k + 1) / (n − k − 1)          (reported when n > k + 1)

with n the number of readout points and k the number of curve parameters. The error variance is
not counted in k: that adds the same 2 to every candidate and does not change the ranking. RSS
is floored at n·(2⁻⁵² · max|p|)² so that an exact fit gives a finite AIC.

Weights. With a per-point standard deviation ``sigma`` (the tripartite readout's spread across
pairs divided by √n_pairs) the fit minimises Σ (r_i/σ_i)² and RSS in the criteria is that
weighted sum; R² stays unweighted. Without it every point weighs the same.

Anchor (project decision): the offset is bounded to within ``offset_halfwidth`` rises of the
readout's first point: 2 % of the rise, or 3 noise SDs if the readout is noisier (noise from the
second differences, 1.4826 · MAD / √6). A candidate whose p(0) is further from the readout's
start than that (a logistic whose inflection lies before t = 0) is ineligible.

Eligibility (project decision, RF must be positive and non-increasing): a fitted, identifiable,
anchored candidate is eligible only if the increments of its retention curve over cycles,
p(t·τc) − p((t−1)·τc) for t = 1..T_max (T_max = the largest number of segments), are all positive
and non-increasing (see :func:`distill.retention.increments_problem`; the retention curve of an
onset form is its exponential without the onset, :meth:`FittedCurve.retention_curve`).
Ineligible candidates are reported with ``eligible = false`` and a ``reason``.

Selection (:func:`select_model`): the simplest eligible candidate whose AICc is within
``DELTA_AICC`` = 10 of the lowest eligible AICc. "Simplest" = fewest parameters, then the order
of :data:`~distill.macro_models.MODELS` (mechanistic forms first). A more flexible curve must
therefore be clearly better (ΔAICc > 10: the simpler one has essentially no support) to win.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from .errors import NoEligibleModelError
from .macro_models import MODELS, FittedCurve, MacroModel, get_model, scale_factors, to_physical
from .retention import cycle_increments, increments_problem

DELTA_AICC = 10.0  # a more complex candidate must lower AICc by more than this to be selected
ANCHOR_RISE = 0.02  # offset bound and p(0) tolerance, share of the rise (widened by the noise)
ANCHOR_NOISE_SIGMAS = 3.0
MAX_COND = 1e8  # condition number of the column-normalised Jacobian beyond which: not identifiable
MAXFEV_PER_PARAM = 300


@dataclass
class CandidateFit:
    """Outcome of fitting one candidate. Parameters and standard errors in physical units
    (time constants in s, amplitudes and offsets in units of p^l)."""

    name: str
    n_params: int
    status: Literal["ok", "failed"]
    params: dict[str, float] = field(default_factory=dict)
    stderr: dict[str, float] = field(default_factory=dict)
    r2: float | None = None
    aic: float | None = None
    aicc: float | None = None
    rss: float | None = None
    saturation_fraction: float | None = None
    eligible: bool = False
    reason: str | None = None
    delta_aic: float | None = None
    delta_aicc: float | None = None
    p0: float | None = None
    curve: FittedCurve | None = None
    residuals: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (finite floats or null only; no params if the fit failed)."""
        out: dict[str, Any] = {
            "name": self.name,
            "formula": get_model(self.name).formula,
            "status": self.status,
            "n_params": self.n_params,
            "params": dict(self.params),
            "stderr": dict(self.stderr),
            "r2": self.r2,
            "aic": self.aic,
            "aicc": self.aicc,
            "delta_aic": self.delta_aic,
            "delta_aicc": self.delta_aicc,
            "p0": self.p0,
            "saturation_fraction": self.saturation_fraction,
            "eligible": self.eligible,
            "reason": self.reason,
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def information_criteria(rss: float, n: int, k: int, y_scale: float,
                         unit: float = 1.0) -> tuple[float, float | None]:
    """(AIC, AICc) for a Gaussian least-squares fit; see module docstring. AICc is ``None``
    when n ≤ k + 1.

    ``rss`` and ``y_scale`` may be given in units of ``unit`` (the residual sum of squares is
    then ``rss · unit²``): the fit passes them in rises, so that no square of p^l has to be
    formed, and AIC = n ln(rss/n) + 2n ln(unit) + 2k is finite for any representable scale.
    """
    floor = n * (np.finfo(float).eps * max(y_scale, np.finfo(float).tiny)) ** 2
    aic = n * (float(np.log(max(rss, floor) / n)) + 2 * float(np.log(unit))) + 2 * k
    aicc = aic + 2 * k * (k + 1) / (n - k - 1) if n - k - 1 > 0 else None
    return aic, aicc


def _jacobian_condition(model: MacroModel, t: np.ndarray, p: np.ndarray) -> float:
    """Condition number of the column-normalised central-difference Jacobian at ``p``."""
    cols = []
    for i in range(p.size):
        h = 1e-6 * max(abs(p[i]), 1e-3)
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        cols.append((model.func(t, *up) - model.func(t, *down)) / (2 * h))
    J = np.column_stack(cols)
    norms = np.linalg.norm(J, axis=0)
    if not np.all(np.isfinite(J)) or np.any(norms == 0):
        return np.inf
    s = np.linalg.svd(J / norms, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else np.inf


def _interior(p0: Sequence[float], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Clip a starting point strictly inside the bounds."""
    p = np.asarray(p0, dtype=float)
    span = hi - lo
    margin = np.where(np.isfinite(span), 1e-9 * span, 1e-9)
    return np.clip(p, lo + margin, hi - margin)


def noise_sd(y: np.ndarray) -> float:
    """Point-to-point noise SD of a smooth curve plus white noise: 1.4826 · MAD(Δ²y) / √6."""
    d2 = np.diff(np.asarray(y, dtype=float), 2)
    if d2.size == 0:
        return 0.0
    return 1.4826 * float(np.median(np.abs(d2 - np.median(d2)))) / np.sqrt(6.0)


def anchor_halfwidth(p_l: np.ndarray, sigma: np.ndarray | None = None) -> float:
    """Half-width of the offset anchor in rises: ``ANCHOR_RISE`` or ``ANCHOR_NOISE_SIGMAS``
    noise SDs at the first point (``sigma[0]`` if given and positive, else :func:`noise_sd`)."""
    y = np.asarray(p_l, dtype=float)
    rise = float(y.max() - y[0])
    if not rise > 0:
        return ANCHOR_RISE
    noise = float(sigma[0]) if sigma is not None and sigma[0] > 0 else noise_sd(y)
    return max(ANCHOR_RISE, ANCHOR_NOISE_SIGMAS * noise / rise)


def fit_candidate(
    model: MacroModel,
    time_s: np.ndarray,
    p_l: np.ndarray,
    tau_cycle_s: float,
    horizon_segments: int,
    sigma: np.ndarray | None = None,
    offset_halfwidth: float | None = None,
) -> CandidateFit:
    """Fit one candidate to a readout (time in s, p^l dimensionless) and judge its eligibility
    over ``horizon_segments`` cycles of ``tau_cycle_s`` s. Never raises for a bad fit.

    ``sigma``: per-point SD of p^l (weights 1/σ²; None: equal weights). ``offset_halfwidth``:
    anchor of the offset in rises (default :func:`anchor_halfwidth`).
    """
    t = np.asarray(time_s, dtype=float)
    y = np.asarray(p_l, dtype=float)
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=float)
        if sigma.shape != y.shape or not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
            raise ValueError("sigma must be positive, finite and one per readout point")
    if offset_halfwidth is None:
        offset_halfwidth = anchor_halfwidth(y, sigma)
    n, k = t.size, model.n_params
    result = CandidateFit(name=model.name, n_params=k, status="failed")
    if n <= k:
        result.reason = f"fit failed: {n} points for {k} parameters"
        return result
    duration, y0 = float(t[-1]), float(y[0])
    rise = float(y.max() - y0)
    if not (duration > 0 and rise > 0):
        result.reason = "fit failed: readout has no duration or no rise"
        return result
    tn, yn = t / duration, (y - y0) / rise
    sn = None if sigma is None else sigma / rise
    lo, hi = model.bounds(offset_halfwidth)

    best: tuple[float, np.ndarray, np.ndarray] | None = None
    errors: list[str] = []
    for p0 in model.guesses(tn, yn):
        if len(p0) != k:  # a programming error, not a bad fit: do not hide it
            raise ValueError(f"{model.name}: starting point {p0} has {len(p0)} values, not {k}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                with np.errstate(all="ignore"):
                    popt, pcov = curve_fit(
                        model.func, tn, yn, p0=_interior(p0, lo, hi), bounds=(lo, hi),
                        method="trf", maxfev=MAXFEV_PER_PARAM * k, sigma=sn,
                    )
        except (RuntimeError, ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        with np.errstate(all="ignore"):
            res_n = model.func(tn, *popt) - yn
            rss_n = float(np.sum(res_n**2 if sn is None else (res_n / sn) ** 2))
        if np.isfinite(rss_n) and (best is None or rss_n < best[0]):
            best = (rss_n, popt, pcov)
    if best is None:
        result.reason = "fit failed: " + (errors[-1] if errors else "no finite solution")
        return result

    _, popt, pcov = best
    # Everything that squares p^l is done in rises (normalised units) and only then scaled
    # back, so that p^l of 1e-250 or 1e250 fits as p^l of 1 does (no under- or overflow).
    popt_c, pcov_c = model.canonical(popt, pcov)  # decided on time constants: unit-free
    scale = scale_factors(model, duration, rise)
    params = to_physical(model, popt_c, duration, y0, rise)
    curve = FittedCurve(model, tuple(float(v) for v in params))
    residuals = y - curve(t)
    res_n = residuals / rise
    rss_n = float(np.sum(res_n**2))
    rss = rss_n * rise * rise  # in units of p^l squared (may under- or overflow; not reported)
    tss_n = float(np.sum(((y - y.mean()) / rise) ** 2))
    if sigma is None:
        aic, aicc = information_criteria(rss_n, n, k, float(np.max(np.abs(y))) / rise, rise)
    else:  # weighted: Σ (r/σ)², in units of the weights
        aic, aicc = information_criteria(float(np.sum((residuals / sigma) ** 2)), n, k,
                                         float(np.max(np.abs(y) / sigma)))

    result.status = "ok"
    result.params = dict(zip(model.param_names, curve.params, strict=True))
    result.curve = curve
    result.residuals = residuals
    result.rss = rss
    result.r2 = 1.0 - rss_n / tss_n
    result.aic, result.aicc = aic, aicc
    result.saturation_fraction = curve.saturation_fraction(duration)
    result.p0 = float(curve(0.0))
    if errors:
        result.notes.append(f"{len(errors)} of the starting points failed ({errors[-1]})")

    with np.errstate(invalid="ignore"):
        stderr = np.sqrt(np.diag(pcov_c)) * np.abs(scale)
    cond = _jacobian_condition(model, tn, popt)
    at_bound = [name for name, v, a, b in zip(model.param_names, popt, lo, hi, strict=True)
                if np.isclose(v, a, rtol=1e-6, atol=1e-9) or np.isclose(v, b, rtol=1e-6)]
    if at_bound:
        result.notes.append(f"parameter(s) at a bound: {', '.join(at_bound)}")
    if cond > MAX_COND:
        result.reason = (f"parameters not identifiable (Jacobian condition number {cond:.3g} > "
                         f"{MAX_COND:g})")
        return result
    if not np.all(np.isfinite(stderr)):
        result.reason = (f"parameters not identifiable (covariance not finite; Jacobian "
                         f"condition number {cond:.3g})")
        return result
    result.stderr = dict(zip(model.param_names, (float(s) for s in stderr), strict=True))
    anchor_tol = offset_halfwidth * rise * (1 + 1e-6)
    if abs(result.p0 - y0) > anchor_tol:
        result.reason = (f"p(0) = {result.p0:.4g} is {abs(result.p0 - y0):.3g} from the readout's "
                         f"start {y0:.4g} (allowed {anchor_tol:.3g}): not anchored")
        return result
    problem = increments_problem(cycle_increments(curve.retention_curve().unit_rise(),
                                                  tau_cycle_s, horizon_segments))
    if problem is not None:
        result.reason = f"{problem} (checked over {horizon_segments} cycles)"
        return result
    result.eligible = True
    return result


def fit_candidates(
    time_s: np.ndarray,
    p_l: np.ndarray,
    tau_cycle_s: float,
    horizon_segments: int,
    models: Sequence[str] | None = None,
    sigma: np.ndarray | None = None,
) -> list[CandidateFit]:
    """Fit every candidate (default: all of :data:`MODELS`; ``sigma`` as in
    :func:`fit_candidate`) and fill in ΔAIC and ΔAICc (relative to the lowest among the fitted
    ones)."""
    names = list(MODELS) if models is None else list(models)
    fits = [fit_candidate(get_model(m), time_s, p_l, tau_cycle_s, horizon_segments, sigma)
            for m in names]
    for attr in ("aic", "aicc"):
        values = [getattr(f, attr) for f in fits if getattr(f, attr) is not None]
        if values:
            for f in fits:
                if getattr(f, attr) is not None:
                    setattr(f, f"delta_{attr}", getattr(f, attr) - min(values))
    return fits


def criterion(c: CandidateFit) -> float:
    """The selection criterion of a fitted candidate: AICc, or AIC where AICc is undefined."""
    return c.aicc if c.aicc is not None else c.aic


def select_model(candidates: Sequence[CandidateFit], condition: str,
                 delta_aicc: float = DELTA_AICC) -> CandidateFit:
    """The simplest eligible candidate (fewest parameters, then registry order) whose AICc is
    within ``delta_aicc`` of the lowest eligible AICc; raises :class:`NoEligibleModelError`
    (naming the condition and every candidate's reason) if none is eligible."""
    order = {name: i for i, name in enumerate(MODELS)}
    eligible = [c for c in candidates if c.eligible]
    if not eligible:
        reasons = "; ".join(f"{c.name}: {c.reason}" for c in candidates)
        raise NoEligibleModelError(
            f"condition {condition!r}: no macro-model candidate is eligible "
            f"(fitted, identifiable, increasing and concave over the horizon): {reasons}"
        )
    best = min(criterion(c) for c in eligible)
    close = [c for c in eligible if criterion(c) <= best + delta_aicc]
    return min(close, key=lambda c: (c.n_params, order.get(c.name, len(order)), criterion(c)))
