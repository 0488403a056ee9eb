"""Errors and warnings raised by the distill stage.

Every expected failure (bad input file, readout that cannot be distilled) is a subclass of
:class:`DistillError`; the command line turns those into a one-line message and exit code 2,
without a traceback.
"""

from __future__ import annotations


class DistillError(Exception):
    """Base class of the expected, user-facing errors of the distill stage."""


class ReadoutError(DistillError, ValueError):
    """The readout CSV is missing or malformed (columns, NaN, spacing, too few rows)."""


class ReadoutShapeError(DistillError, ValueError):
    """The readout is well formed but does not increase and saturate (flat, decreasing,
    non-monotone, or still growing at the end of the simulation).

    ``kind`` says which, for programs (the sweep table) that must not parse the message:
    one of :data:`SHAPE_KINDS`.
    """

    def __init__(self, message: str, kind: str) -> None:
        if kind not in SHAPE_KINDS:
            raise ValueError(f"kind must be one of {SHAPE_KINDS}, got {kind!r}")
        super().__init__(message)
        self.kind = kind


#: ReadoutShapeError kinds: constant readout; no rise above its noise (or a fall); a rise
#: that falls back; a fit still far from its asymptote; a warning raised in strict mode.
SHAPE_KINDS = ("flat", "no_rise", "rise_then_fall", "not_saturated", "strict")
#: DistillResult.warning_kinds: fit short of its asymptote; R² below min_r2; a better-AIC
#: candidate was ineligible; schedules extrapolate beyond the simulated duration.
WARNING_KINDS = ("weakly_saturated", "poor_fit", "better_ineligible", "extrapolated")


class NoEligibleModelError(DistillError, ValueError):
    """No macro-model candidate is both fitted and increasing-concave over the horizon."""


class RetentionError(DistillError, ValueError):
    """A curve cannot give a valid retention schedule (non-positive or increasing RF)."""


class DistillWarning(UserWarning):
    """A fit that is usable but deserves a look (extrapolation, weak saturation, low R²)."""
