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
    non-monotone, or still growing at the end of the simulation)."""


class NoEligibleModelError(DistillError, ValueError):
    """No macro-model candidate is both fitted and increasing-concave over the horizon."""


class RetentionError(DistillError, ValueError):
    """A curve cannot give a valid retention schedule (non-positive or increasing RF)."""


class DistillWarning(UserWarning):
    """A fit that is usable but deserves a look (extrapolation, weak saturation, low R²)."""
