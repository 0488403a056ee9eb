"""The distill stage in one call: readout → checks → candidate fits → selection → schedules.

Checks and what they do (project decisions):

=======================================  ======================================================
situation                                outcome
=======================================  ======================================================
p_l, its rise or the times beyond what   :class:`~distill.errors.ReadoutError` (before fitting;
double precision fits the same in any    see :func:`check_readout_scales`); within the limits
unit                                     the fit does not depend on the units
readout flat / no rise above its noise   :class:`ReadoutShapeError` (before fitting)
readout ends at or below where it began  :class:`ReadoutShapeError` (before fitting)
readout rises then falls (> 20 % of the  :class:`ReadoutShapeError` (before fitting)
rise, smoothed over ~10 % of the cycles)
no candidate eligible                    :class:`NoEligibleModelError` listing every reason, or
                                         :class:`ReadoutShapeError` if the best fit says the
                                         readout is still growing (below)
selected fit reached < ``min_saturation``  :class:`ReadoutShapeError`: still growing at the end
(default 0.5) of its total rise                (e.g. sat. exp. with τ > 1.44 × duration)
reached < ``warn_saturation`` (0.9)      warning
selected R² < ``min_r2`` (0.98)          warning
a better-AICc candidate is ineligible    warning (names it and the AICc given up)
max_segments · τc > simulated duration   warning + ``extrapolated_beyond_s`` in the JSON
=======================================  ======================================================

Warnings are collected in :attr:`DistillResult.warnings` (and the JSON's ``"warnings"``, with
their kinds in ``"warning_kinds"``) and also issued as :class:`~distill.errors.DistillWarning`.

A readout with per-pair values (``Readout.pairs``) is fitted with the spread of the mean as
weights (:func:`distill.derived.pair_weights`) and the selected form is bootstrapped over pairs
(:func:`distill.derived.bootstrap_pairs`, JSON ``"bootstrap"``; null without pairs).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .derived import BOOTSTRAP_N, bootstrap_pairs, derived_quantities, pair_weights
from .errors import (
    WARNING_KINDS,
    DistillWarning,
    NoEligibleModelError,
    ReadoutError,
    ReadoutShapeError,
)
from .fit import DELTA_AICC, CandidateFit, criterion, fit_candidates, select_model
from .io import Readout
from .retention import retention_schedules
from .streaming import streaming_entry

MIN_SATURATION = 0.5
WARN_SATURATION = 0.9
MIN_R2 = 0.98
NOISE_SIGMAS = 5.0  # required rise, in units of the point-to-point noise
MAX_DROP = 0.2  # allowed fall after the maximum, as a share of the rise (smoothed readout)
#: Widest scale distill fits: |p_l|, its rise, the cycle period and the duration must lie in
#: [1/SCALE_LIMIT, SCALE_LIMIT] (p_l in its unit, times in s). Within it the fit is the same
#: in any unit (computed in rises and in the curve's own time scale); beyond it, squares,
#: the fit's bounds (1000 rises) and noise-level differences leave double precision.
SCALE_LIMIT = 1e280
#: Smallest rise of p_l relative to its largest magnitude: below, the rise keeps fewer than
#: about 6 of the 16 significant digits of double precision (an offset swamps it).
MIN_RELATIVE_RISE = 1e-10


@dataclass
class DistillResult:
    """Everything the stage produces for one condition (times in s, p^l dimensionless)."""

    condition: str
    readout: Readout
    candidates: list[CandidateFit]
    selected: CandidateFit
    max_segments: int
    schedules: dict[int, np.ndarray]
    warnings: list[str] = field(default_factory=list)
    warning_kinds: list[str] = field(default_factory=list)  # one of WARNING_KINDS per warning
    weighted: bool = False
    bootstrap: dict[str, Any] | None = None

    @property
    def derived(self) -> dict[str, Any]:
        """τ_LTP, plateau, cycles to 90 %, shape ratio (see :mod:`distill.derived`)."""
        return derived_quantities(self.selected.curve, self.readout.tau_cycle_s, self.schedules,
                                  self.selected.stderr)

    @property
    def horizon_s(self) -> float:
        """Longest schedule horizon max_segments · τc, s."""
        return self.max_segments * self.readout.tau_cycle_s

    @property
    def extrapolated_beyond_s(self) -> float | None:
        """Simulated duration (s) beyond which schedules use the extrapolated fit, or None."""
        d = self.readout.duration_s
        return d if self.horizon_s > d * (1 + 1e-9) else None

    def to_json(self) -> dict[str, Any]:
        """The retention JSON payload (schema: :func:`distill.io.validate_retention`)."""
        sel = self.selected
        return {
            "condition": self.condition,
            "macro_model": {
                "name": sel.name,
                "params": dict(sel.params),
                "stderr": dict(sel.stderr),
                "r2": sel.r2,
                "aic": sel.aic,
                "aicc": sel.aicc,
                "formula": sel.to_json()["formula"],
                "saturation_fraction": sel.saturation_fraction,
            },
            "candidates": [c.to_json() for c in self.candidates],
            "tau_cycle_s": self.readout.tau_cycle_s,
            "schedules": {str(T): rf.tolist() for T, rf in self.schedules.items()},
            "derived": self.derived,
            # the same curve the schedules come from (exp_onset: without its onset)
            "streaming": streaming_entry(sel.curve.retention_curve().unit_rise(),
                                         self.readout.tau_cycle_s, self.max_segments),
            "selection": "simplest eligible candidate (fewest parameters, then "
                f"{', '.join(c.name for c in self.candidates)}) with AICc within "
                f"{DELTA_AICC:g} of the lowest eligible AICc; "
                "AICc = n ln(RSS/n) + 2k + 2k(k+1)/(n-k-1)"
                + (", RSS weighted by the spread across pairs" if self.weighted else ""),
            "eligibility": "fit ok, parameters identifiable, p(0) anchored at the readout's "
                           "start, increments of the retention curve over cycles "
                           "1..max_segments positive and non-increasing",
            "bootstrap": self.bootstrap,
            "readout": self.readout.source,
            "n_points": self.readout.n_points,
            "duration_s": self.readout.duration_s,
            "max_segments": self.max_segments,
            "horizon_s": self.horizon_s,
            "extrapolated_beyond_s": self.extrapolated_beyond_s,
            "residuals": [float(r) for r in sel.residuals],
            "warnings": list(self.warnings),
            "warning_kinds": list(self.warning_kinds),
        }


def check_readout_scales(readout: Readout, condition: str) -> None:
    """Raise :class:`ReadoutError` (naming the column and the way out) when the readout's
    scales lie beyond what double precision fits the same as in any other unit: |p_l| above
    :data:`SCALE_LIMIT`, a rise below its inverse or below :data:`MIN_RELATIVE_RISE` of |p_l|,
    a cycle period below 1/:data:`SCALE_LIMIT` s or a duration above :data:`SCALE_LIMIT` s.
    Checked before any fit, so nothing is written for such a readout."""
    where = f"condition {condition!r} ({readout.source})"
    y = readout.p_l
    top = float(np.max(np.abs(y)))
    same = "the fit is the same in any unit"
    if top > SCALE_LIMIT:
        raise ReadoutError(f"{where}: p_l reaches {top:.3g}, beyond the {SCALE_LIMIT:g} "
                           f"distill can fit in double precision; divide the column by a power "
                           f"of ten ({same}) and rerun")
    rise = float(y.max() - y[0])
    if 0 < rise < 1 / SCALE_LIMIT:
        raise ReadoutError(f"{where}: p_l rises by {rise:.3g}, below the {1 / SCALE_LIMIT:g} "
                           f"distill can fit in double precision; multiply the column by a "
                           f"power of ten ({same}) and rerun")
    if 0 < rise < MIN_RELATIVE_RISE * top:
        raise ReadoutError(f"{where}: p_l rises by {rise:.3g} on a level of {top:.3g} (a "
                           f"{rise / top:.2g} share, below {MIN_RELATIVE_RISE:g}): too few "
                           "significant digits of the rise survive; subtract the constant "
                           "offset from the column and rerun")
    tau, duration = readout.tau_cycle_s, readout.duration_s
    if tau < 1 / SCALE_LIMIT:
        raise ReadoutError(f"{where}: cycle period {tau:.3g} s is below {1 / SCALE_LIMIT:g} s; "
                           f"give time_s in a larger unit ({same}) and rerun")
    if duration > SCALE_LIMIT:
        raise ReadoutError(f"{where}: duration {duration:.3g} s is beyond {SCALE_LIMIT:g} s; "
                           f"give time_s in a smaller unit ({same}) and rerun")


def check_readout_shape(readout: Readout, condition: str) -> None:
    """Raise :class:`ReadoutShapeError` unless the readout rises clearly and does not fall back.

    Noise is estimated from the point-to-point differences (1.4826 · MAD / √2); the rise from
    p(0) to the mean of the last ~10 % of points must exceed ``NOISE_SIGMAS`` of it and be > 0.
    """
    y = readout.p_l
    where = f"condition {condition!r} ({readout.source})"
    w = max(1, y.size // 10)
    end = float(y[-w:].mean())
    rise = end - float(y[0])
    span = float(np.ptp(y))
    diffs = np.diff(y)
    noise = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / np.sqrt(2)
    if span <= 1e-12 * max(float(np.max(np.abs(y))), 1e-300):
        raise ReadoutShapeError(f"{where}: readout p_l is flat (constant {y[0]:.6g})", "flat")
    if rise <= 0:
        raise ReadoutShapeError(
            f"{where}: readout p_l does not increase (from {y[0]:.6g} to {end:.6g} at the end)",
            "no_rise",
        )
    if rise <= NOISE_SIGMAS * noise:
        raise ReadoutShapeError(
            f"{where}: readout p_l shows no clear rise: {rise:.3g} from start to end vs. "
            f"point-to-point noise {noise:.3g} (need > {NOISE_SIGMAS:g}x)", "no_rise"
        )
    smooth = np.convolve(y, np.ones(w) / w, mode="valid")
    peak = float(smooth.max())
    drop = peak - float(smooth[-1])
    if drop > MAX_DROP * (peak - float(y[0])):
        raise ReadoutShapeError(
            f"{where}: readout p_l rises and then falls by {drop:.3g} "
            f"({100 * drop / (peak - y[0]):.0f} % of its rise): not a saturating LTP curve",
            "rise_then_fall",
        )


def _warn(messages: list[str], kinds: list[str], kind: str, text: str,
          strict: bool = False) -> None:
    if kind not in WARNING_KINDS:
        raise ValueError(f"warning kind must be one of {WARNING_KINDS}, got {kind!r}")
    if strict:
        raise ReadoutShapeError(f"{text} (strict mode)", "strict")
    messages.append(text)
    kinds.append(kind)
    warnings.warn(text, DistillWarning, stacklevel=3)


def distill(
    readout: Readout,
    condition: str,
    max_segments: int,
    models: Sequence[str] | None = None,
    min_saturation: float = MIN_SATURATION,
    warn_saturation: float = WARN_SATURATION,
    min_r2: float = MIN_R2,
    strict: bool = False,
    n_boot: int = BOOTSTRAP_N,
    seed: int = 0,
) -> DistillResult:
    """Fit, select and turn the selected macro model into RF schedules for T = 1..max_segments.

    Raises :class:`ReadoutShapeError` or :class:`NoEligibleModelError` (both name the condition)
    when the readout cannot be distilled; see the module docstring for the rules. With
    ``strict``, every warning except extrapolation is raised as a :class:`ReadoutShapeError`.
    With per-pair readouts, ``n_boot`` bootstrap resamples (0: none) drawn with ``seed``.
    """
    if not (isinstance(max_segments, int | np.integer) and max_segments >= 1):
        raise ValueError(f"max_segments must be an integer >= 1, got {max_segments!r}")
    check_readout_scales(readout, condition)
    check_readout_shape(readout, condition)
    messages: list[str] = []
    kinds: list[str] = []
    sigma = None
    if readout.pairs is not None:
        _, sigma = pair_weights(readout.pairs)
    cands = fit_candidates(readout.time_s, readout.p_l, readout.tau_cycle_s, max_segments, models,
                           sigma)
    ok = [c for c in cands if c.status == "ok"]
    duration = readout.duration_s

    def not_saturating(c: CandidateFit) -> ReadoutShapeError:
        return ReadoutShapeError(
            f"condition {condition!r}: readout p_l is still growing at the end of the simulation "
            f"({duration:.6g} s): the {c.name} fit has reached only "
            f"{100 * c.saturation_fraction:.0f} % of its asymptote (need >= "
            f"{100 * min_saturation:.0f} %); simulate more cycles. Fit: {c.params}",
            "not_saturated",
        )

    try:
        selected = select_model(cands, condition)
    except NoEligibleModelError:
        if ok:
            best = min(ok, key=criterion)
            if best.saturation_fraction < min_saturation:
                raise not_saturating(best) from None
        raise
    if selected.saturation_fraction < min_saturation:
        raise not_saturating(selected)
    if selected.saturation_fraction < warn_saturation:
        _warn(messages, kinds, "weakly_saturated",
              f"condition {condition!r}: selected {selected.name} fit reaches only "
              f"{100 * selected.saturation_fraction:.0f} % of its asymptote by the end "
              "of the simulation; the readout is not fully saturated", strict)
    if selected.r2 < min_r2:
        _warn(messages, kinds, "poor_fit",
              f"condition {condition!r}: selected {selected.name} fit has "
              f"R² = {selected.r2:.4f} < {min_r2}", strict)
    best_overall = min(ok, key=criterion)
    if best_overall is not selected and not best_overall.eligible:
        _warn(messages, kinds, "better_ineligible",
              f"condition {condition!r}: {best_overall.name} fits better "
              f"(ΔAICc = {criterion(selected) - criterion(best_overall):.1f} in its favour) but "
              f"is ineligible ({best_overall.reason}); using {selected.name}", strict)
    horizon = max_segments * readout.tau_cycle_s
    if horizon > duration * (1 + 1e-9):
        _warn(messages, kinds, "extrapolated",
              f"condition {condition!r}: schedules up to T = {max_segments} need the "
              f"curve up to {horizon:.6g} s, beyond the simulated {duration:.6g} s: "
              "the fit is extrapolated there")
    schedules = retention_schedules(selected.curve.retention_curve().unit_rise(),
                                    readout.tau_cycle_s,
                                    max_segments)
    boot = None
    if readout.pairs is not None and sigma is not None and n_boot > 0:
        boot = bootstrap_pairs(selected.name, readout.time_s, readout.pairs,
                               readout.tau_cycle_s, n_boot, seed)
    return DistillResult(condition, readout, cands, selected, int(max_segments), schedules,
                         messages, kinds, sigma is not None, boot)
