"""Saturating macro models for the long-term astrocytic process p^l(t) (docs/design.md §3).

Every candidate is a function of time t in seconds (t ≥ 0) returning p^l (dimensionless):

==================  =====================================================  =====================
name                p(t)                                                   parameters
==================  =====================================================  =====================
``sat_exp``         A (1 − e^{−t/τ}) + c                                   A, tau [s], c
``exp_onset``       A [1 − (τ e^{−t/τ} − τₒ e^{−t/τₒ}) / (τ − τₒ)] + c        A, tau [s], tau_on
                                                                           [s], c
``hill``            A tⁿ / (Kⁿ + tⁿ) + c                                   A, K [s], n, c
``logistic``        A / (1 + e^{−(t − t0)/s}) + c                          A, t0 [s], s [s], c
``double_exp``      A1 (1 − e^{−t/τ1}) + A2 (1 − e^{−t/τ2}) + c            A1, tau1 [s], A2,
                                                                           tau2 [s], c
==================  =====================================================  =====================

``exp_onset`` is a saturating exponential of time constant τ driven through a first-order
onset of time constant τₒ (two first-order stages in series, as p^l is driven by the short-term
process): p(0) = c, p'(0) = 0, and for t ≫ τₒ it is a saturating exponential of τ delayed by
about τₒ. It is symmetric in (τ, τₒ); after fitting the larger one is called ``tau`` (τ_LTP).
At τ = τₒ it is the gamma(2) curve 1 − (1 + t/τ) e^{−t/τ}, evaluated without a 0/0.

Conventions (project decisions, not the paper's):

* Amplitudes (A, A1, A2) are non-negative and time constants (tau, K, s, tau1, tau2) strictly
  positive, so every candidate is non-decreasing in t. ``c`` is the offset; it is *anchored*:
  bounded to within ``offset_halfwidth`` rises of the readout's first point (2 % of the rise,
  wider only for noisy data, see :func:`distill.fit.fit_candidate`), so p(0) of every candidate
  but the logistic equals the readout's start; the logistic's p(0) is checked after fitting.
* The logistic is written with its midpoint ``t0`` (s, any sign: t0 < 0 puts the inflection
  before the first cycle, which makes the visible part concave) and its width ``s > 0``; it is
  well defined for every t and saturates at ``A + c``. Its value at t = 0 is ``c + A σ(−t0/s)``.
* The Hill curve is evaluated as ``A σ(n (ln t − ln K)) + c`` (σ the logistic function), which is
  the same function for t > 0, equal to ``c`` at t = 0, and cannot overflow for large n.
* Double-exponential components are ordered after fitting so that ``tau1 ≤ tau2``.
* Bounds (normalised units, see below): amplitudes in [0, 1000] rises, offsets anchored
  (above), time constants in [1e-6, 1000] durations, Hill n in [0.1, 20], logistic t0 in
  [−5, 5] durations (further out the logistic is only an exponential with a sloppy A–t0 trade).

Retention kernel. RF(t, T) is computed from the part of a curve that is long-term memory:
for ``exp_onset`` that is the saturating exponential A (1 − e^{−t/τ}) + c, without the onset
(the first cycles in which the short-term process builds up and p^l cannot yet grow at its
full rate); for every other form it is the curve itself (:meth:`FittedCurve.retention_curve`).
So the schedule of an onset fit is the closed form of a saturating exponential of τ_LTP.

Each model also has a numerically stable ``increment(t0, t1, *params) = p(t1) − p(t0)``: the
retention factor is a ratio of such increments, and for a fast-saturating curve the plain
difference of two nearly equal values near the asymptote loses all its digits.

Fitting is done in normalised units (time / duration, (p − p(0)) / rise); each parameter has a
*kind* that says how it scales back to physical units (see :func:`to_physical`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import expit

ParamKind = Literal["amplitude", "offset", "time", "shape"]
ArrayLike = float | np.ndarray

# ---------------------------------------------------------------------------- helpers


def _sigmoid_diff(u1: ArrayLike, u0: ArrayLike) -> np.ndarray:
    """σ(u1) − σ(u0) without cancellation in the upper tail (σ(u) = 1/(1+e^{−u}))."""
    u0, u1 = np.broadcast_arrays(np.asarray(u0, dtype=float), np.asarray(u1, dtype=float))
    upper = u0 > 0  # both in the upper half: use 1 − σ(u) = σ(−u)
    with np.errstate(invalid="ignore"):
        return np.where(upper, expit(-u0) - expit(-u1), expit(u1) - expit(u0))


def _exp_decay_diff(t0: ArrayLike, t1: ArrayLike, tau: float) -> np.ndarray:
    """(1 − e^{−t1/τ}) − (1 − e^{−t0/τ}) = e^{−t0/τ} (1 − e^{−(t1 − t0)/τ}), stable."""
    t0 = np.asarray(t0, dtype=float)
    t1 = np.asarray(t1, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.exp(-t0 / tau) * -np.expm1(-(t1 - t0) / tau)


def _log_time(t: ArrayLike) -> np.ndarray:
    """ln t with ln 0 = −∞ and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(t, dtype=float))


def _h(x: ArrayLike) -> np.ndarray:
    """(1 − e^{−x}) / x for x ≥ 0, equal to 1 at x = 0 (no 0/0)."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-8
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(small, 1.0 - x / 2, -np.expm1(-x) / np.where(small, 1.0, x))


def _onset_tail(t: ArrayLike, tau: float, tau_on: float) -> np.ndarray:
    """1 − g(t) of the unit onset curve g (see :func:`exp_onset`), ≥ 0 and stable:
    e^{−t/τs} [1 + (t/τs) h((1/τf − 1/τs) t)] with τs = max, τf = min of (τ, τₒ)."""
    t = np.asarray(t, dtype=float)
    slow, fast = max(tau, tau_on), min(tau, tau_on)
    with np.errstate(over="ignore", invalid="ignore"):
        x = t / slow
        tail = np.exp(-x) * (1.0 + x * _h((1.0 / fast - 1.0 / slow) * t))
    return np.where(np.isinf(t), 0.0, tail)


# ---------------------------------------------------------------------------- forms


def sat_exp(t: ArrayLike, A: float, tau: float, c: float) -> np.ndarray:
    """Saturating exponential A (1 − e^{−t/τ}) + c; t and τ in s."""
    return A * -np.expm1(-np.asarray(t, dtype=float) / tau) + c


def sat_exp_increment(t0: ArrayLike, t1: ArrayLike, A: float, tau: float, c: float) -> np.ndarray:
    """p(t1) − p(t0) of :func:`sat_exp` (c drops out)."""
    return A * _exp_decay_diff(t0, t1, tau)


def exp_onset(t: ArrayLike, A: float, tau: float, tau_on: float, c: float) -> np.ndarray:
    """Exponential with a first-order onset, A [1 − (τ e^{−t/τ} − τₒ e^{−t/τₒ})/(τ − τₒ)] + c;
    t, τ and τₒ in s. p(0) = c and p'(0) = 0."""
    return A * (1.0 - _onset_tail(t, tau, tau_on)) + c


def exp_onset_increment(
    t0: ArrayLike, t1: ArrayLike, A: float, tau: float, tau_on: float, c: float
) -> np.ndarray:
    """p(t1) − p(t0) of :func:`exp_onset` as a difference of the (small) tails."""
    return A * (_onset_tail(t0, tau, tau_on) - _onset_tail(t1, tau, tau_on))


def hill(t: ArrayLike, A: float, K: float, n: float, c: float) -> np.ndarray:
    """Hill curve A tⁿ / (Kⁿ + tⁿ) + c; t and K (half-saturation time) in s, n dimensionless."""
    return A * expit(n * (_log_time(t) - np.log(K))) + c


def hill_increment(
    t0: ArrayLike, t1: ArrayLike, A: float, K: float, n: float, c: float
) -> np.ndarray:
    """p(t1) − p(t0) of :func:`hill`."""
    lk = np.log(K)
    return A * _sigmoid_diff(n * (_log_time(t1) - lk), n * (_log_time(t0) - lk))


def logistic(t: ArrayLike, A: float, t0: float, s: float, c: float) -> np.ndarray:
    """Logistic A / (1 + e^{−(t − t0)/s}) + c; t, t0 (midpoint) and s (width) in s."""
    return A * expit((np.asarray(t, dtype=float) - t0) / s) + c


def logistic_increment(
    ta: ArrayLike, tb: ArrayLike, A: float, t0: float, s: float, c: float
) -> np.ndarray:
    """p(tb) − p(ta) of :func:`logistic`."""
    ta = np.asarray(ta, dtype=float)
    tb = np.asarray(tb, dtype=float)
    return A * _sigmoid_diff((tb - t0) / s, (ta - t0) / s)


def double_exp(
    t: ArrayLike, A1: float, tau1: float, A2: float, tau2: float, c: float
) -> np.ndarray:
    """Double exponential A1 (1 − e^{−t/τ1}) + A2 (1 − e^{−t/τ2}) + c; t, τ1, τ2 in s."""
    t = np.asarray(t, dtype=float)
    return A1 * -np.expm1(-t / tau1) + A2 * -np.expm1(-t / tau2) + c


def double_exp_increment(
    t0: ArrayLike, t1: ArrayLike, A1: float, tau1: float, A2: float, tau2: float, c: float
) -> np.ndarray:
    """p(t1) − p(t0) of :func:`double_exp`."""
    return A1 * _exp_decay_diff(t0, t1, tau1) + A2 * _exp_decay_diff(t0, t1, tau2)


# ---------------------------------------------------------------------------- guesses


def _crossing_time(t: np.ndarray, y: np.ndarray, q: float) -> float:
    """First normalised time at which normalised y reaches q (of its maximum 1)."""
    idx = np.flatnonzero(y >= q)
    return float(t[idx[0]]) if idx.size else float(t[-1])


def _sat_exp_guesses(t: np.ndarray, y: np.ndarray) -> list[list[float]]:
    t63 = max(_crossing_time(t, y, 1 - np.exp(-1)), t[1])
    return [[1.0, t63, 0.0], [1.0, 0.1, 0.0], [1.2, 0.5, 0.0], [3.0, 2.0, 0.0]]


def _exp_onset_guesses(t: np.ndarray, y: np.ndarray) -> list[list[float]]:
    t63 = max(_crossing_time(t, y, 1 - np.exp(-1)), t[1])
    return [[1.0, t63, t[1], 0.0], [1.0, t63 / 2, t63 / 4, 0.0], [1.2, t63, t63 / 10, 0.0],
            [1.0, 0.5 * t63, 0.5 * t63, 0.0]]


def _hill_guesses(t: np.ndarray, y: np.ndarray) -> list[list[float]]:
    t50 = max(_crossing_time(t, y, 0.5), t[1])
    return [[1.0, t50, 1.0, 0.0], [1.0, t50, 2.0, 0.0], [1.5, t50, 0.7, 0.0], [1.0, t50, 4.0, 0.0]]


def _logistic_guesses(t: np.ndarray, y: np.ndarray) -> list[list[float]]:
    t50 = _crossing_time(t, y, 0.5)
    t25 = _crossing_time(t, y, 0.25)
    t75 = _crossing_time(t, y, 0.75)
    width = max((t75 - t25) / 2.2, t[1])
    # the last two starts describe a concave (inflection before t = 0) curve
    return [[1.0, t50, width, 0.0], [1.0, t50, 0.1, 0.0], [2.0, -0.1, 0.2, -1.0],
            [4.0, -0.5, 0.3, -3.0]]


def _double_exp_guesses(t: np.ndarray, y: np.ndarray) -> list[list[float]]:
    t63 = max(_crossing_time(t, y, 1 - np.exp(-1)), t[1])
    return [[0.5, t63 / 4, 0.5, t63 * 2, 0.0], [0.5, t63 / 10, 0.5, t63, 0.0],
            [0.3, 0.02, 0.7, 0.5, 0.0], [0.7, t63, 0.5, 3.0, 0.0]]


# ---------------------------------------------------------------------------- registry

# bounds in normalised units: time / duration, amplitude / rise, offset in rises from p(0)
_BOUNDS: dict[ParamKind, tuple[float, float]] = {
    "amplitude": (0.0, 1e3),
    "offset": (-0.02, 0.02),  # anchored at p(0); widened for noisy data (bounds())
    "time": (1e-6, 1e3),
}


@dataclass(frozen=True)
class MacroModel:
    """One saturating candidate: its function, stable increment, parameters and fit helpers.

    ``func(t, *params)`` and ``increment(t0, t1, *params)`` take t in seconds and return
    dimensionless p^l. ``guesses`` gives starting points and ``bound_overrides`` the bounds
    ``(name, low, high)`` that differ from the defaults of the parameter's kind (every ``shape``
    parameter needs one), both in normalised units (see module docstring).
    """

    name: str
    formula: str
    param_names: tuple[str, ...]
    param_kinds: tuple[ParamKind, ...]
    func: Callable[..., np.ndarray]
    increment: Callable[..., np.ndarray]
    guesses: Callable[[np.ndarray, np.ndarray], list[list[float]]]
    bound_overrides: tuple[tuple[str, float, float], ...] = ()
    #: the LTP time constant τ_LTP: name of the parameter, or None (then t63 is used)
    tau_param: str | None = None
    #: (model name, parameter names) of the retention kernel, None: the curve itself
    kernel: tuple[str, tuple[str, ...]] | None = None

    @property
    def n_params(self) -> int:
        """Number of fitted parameters k."""
        return len(self.param_names)

    def bounds(self, offset_halfwidth: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of every parameter in normalised units; the offset (anchored
        at the readout's first point) lies within ±``offset_halfwidth`` rises (default 0.02)."""
        override = {name: (lo, hi) for name, lo, hi in self.bound_overrides}
        if offset_halfwidth is not None:
            for name, kind in zip(self.param_names, self.param_kinds, strict=True):
                if kind == "offset":
                    override[name] = (-offset_halfwidth, offset_halfwidth)
        pairs = [
            override[name] if name in override else _BOUNDS[kind]
            for name, kind in zip(self.param_names, self.param_kinds, strict=True)
        ]
        lo, hi = zip(*pairs, strict=True)
        return np.array(lo, dtype=float), np.array(hi, dtype=float)

    def canonical(self, params: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Put equivalent parameter sets in one order (double_exp: tau1 ≤ tau2; exp_onset:
        tau ≥ tau_on)."""
        if self.name == "double_exp" and params[1] > params[3]:
            perm = np.array([2, 3, 0, 1, 4])
            return params[perm], cov[np.ix_(perm, perm)]
        if self.name == "exp_onset" and params[1] < params[2]:
            perm = np.array([0, 2, 1, 3])
            return params[perm], cov[np.ix_(perm, perm)]
        return params, cov


MODELS: dict[str, MacroModel] = {
    m.name: m
    for m in (
        MacroModel(
            "sat_exp", "A(1-exp(-t/tau))+c", ("A", "tau", "c"),
            ("amplitude", "time", "offset"), sat_exp, sat_exp_increment, _sat_exp_guesses,
            tau_param="tau",
        ),
        MacroModel(
            "exp_onset", "A(1-(tau*exp(-t/tau)-tau_on*exp(-t/tau_on))/(tau-tau_on))+c",
            ("A", "tau", "tau_on", "c"), ("amplitude", "time", "time", "offset"), exp_onset,
            exp_onset_increment, _exp_onset_guesses, tau_param="tau",
            kernel=("sat_exp", ("A", "tau", "c")),
        ),
        MacroModel(
            "hill", "A*t^n/(K^n+t^n)+c", ("A", "K", "n", "c"),
            ("amplitude", "time", "shape", "offset"), hill, hill_increment, _hill_guesses,
            bound_overrides=(("n", 0.1, 20.0),),
        ),
        MacroModel(
            "logistic", "A/(1+exp(-(t-t0)/s))+c", ("A", "t0", "s", "c"),
            ("amplitude", "time", "time", "offset"), logistic, logistic_increment,
            _logistic_guesses, bound_overrides=(("t0", -5.0, 5.0),),
        ),
        MacroModel(
            "double_exp", "A1(1-exp(-t/tau1))+A2(1-exp(-t/tau2))+c",
            ("A1", "tau1", "A2", "tau2", "c"),
            ("amplitude", "time", "amplitude", "time", "offset"), double_exp,
            double_exp_increment, _double_exp_guesses,
        ),
    )
}
"""All candidates by name, in the order they are fitted and reported. The order is also the
preference among candidates with the same number of parameters (see
:func:`distill.fit.select_model`): mechanistic, interpretable forms first."""


def get_model(name: str) -> MacroModel:
    """The candidate called ``name``; raises ``KeyError`` naming the allowed names."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown macro model {name!r}; allowed: {', '.join(MODELS)}") from None


def scale_factors(model: MacroModel, duration_s: float, rise: float) -> np.ndarray:
    """Per-parameter factor from normalised to physical units (time × duration, amplitude and
    offset × rise, shape × 1)."""
    factor = {"amplitude": rise, "offset": rise, "time": duration_s, "shape": 1.0}
    return np.array([factor[k] for k in model.param_kinds], dtype=float)


def to_physical(
    model: MacroModel, params: Sequence[float], duration_s: float, p0: float, rise: float
) -> np.ndarray:
    """Normalised parameters → physical ones; the offset also gets p(0) = ``p0`` added back."""
    out = np.asarray(params, dtype=float) * scale_factors(model, duration_s, rise)
    offset = np.array([k == "offset" for k in model.param_kinds])
    out[offset] += p0
    return out


@dataclass(frozen=True)
class FittedCurve:
    """A macro model with fixed physical parameters: ``curve(t)`` gives p^l at t seconds."""

    model: MacroModel
    params: tuple[float, ...]

    def __call__(self, t: ArrayLike) -> np.ndarray:
        """p^l(t), t in s."""
        return self.model.func(np.asarray(t, dtype=float), *self.params)

    def increment(self, t0: ArrayLike, t1: ArrayLike) -> np.ndarray:
        """p^l(t1) − p^l(t0), t0 and t1 in s, computed without cancellation."""
        return self.model.increment(t0, t1, *self.params)

    def saturation_fraction(self, t_s: float) -> float:
        """Share of the total rise p(∞) − p(0) reached at ``t_s`` seconds (1 = saturated)."""
        total = float(self.increment(0.0, np.inf))
        return float(self.increment(0.0, t_s)) / total if total > 0 else 0.0

    def unit_rise(self) -> FittedCurve:
        """The same curve with amplitudes and offset multiplied by a power of two (exact)
        that puts its total rise p(∞) − p(0) in [0.5, 1): ratios of its increments (RF,
        the streaming factor, rise times) are those of the curve, computed without
        subnormal or overflowing values however small or large p^l is. The curve itself
        when the rise is not finite and positive."""
        total = float(self.increment(0.0, np.inf))
        if not (np.isfinite(total) and total > 0):
            return self
        factor = math.ldexp(1.0, -math.frexp(total)[1])
        return FittedCurve(self.model, tuple(
            v * factor if k in ("amplitude", "offset") else v
            for v, k in zip(self.params, self.model.param_kinds, strict=True)))

    def time_scale(self) -> float:
        """A characteristic time of the curve, s: the largest magnitude of its time
        parameters (1 s for a curve without a non-zero one). Searches in time start here."""
        times = [abs(v) for v, k in zip(self.params, self.model.param_kinds, strict=True)
                 if k == "time" and np.isfinite(v) and v != 0]
        return max(times) if times else 1.0

    def retention_curve(self) -> FittedCurve:
        """The curve RF(t, T) is computed from: the model's retention kernel (``exp_onset``:
        its saturating exponential without the onset), else the curve itself."""
        if self.model.kernel is None:
            return self
        name, names = self.model.kernel
        values = dict(zip(self.model.param_names, self.params, strict=True))
        return FittedCurve(get_model(name), tuple(values[p] for p in names))

    @classmethod
    def from_dict(cls, name: str, params: dict[str, float]) -> FittedCurve:
        """Rebuild a curve from a retention JSON's ``{"name": ..., "params": {...}}``."""
        model = get_model(name)
        missing = [p for p in model.param_names if p not in params]
        if missing:
            raise KeyError(f"macro model {name!r} lacks parameters {missing}")
        return cls(model, tuple(float(params[p]) for p in model.param_names))
