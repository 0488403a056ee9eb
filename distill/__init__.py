"""distill: fit saturating macro models to the simulated LTP readout p^l(t) and turn the
selected fit into memory retention factor schedules RF(t, T) (docs/design.md §3, §4).

Public surface::

    readout = read_readout("results/simulation/baseline/readout.csv")
    result = distill(readout, condition="baseline", max_segments=64)
    atomic_write_json("results/retention/baseline.json", result.to_json())  # pipeline.io
    retention_factor(result.selected.curve, readout.tau_cycle_s, T=16)

Command line: ``python -m distill fit ...`` and ``python -m distill compare ...``
(``python -m distill --help``). Design decisions: ``distill/README.md``.
"""

from .errors import (
    DistillError,
    DistillWarning,
    NoEligibleModelError,
    ReadoutError,
    ReadoutShapeError,
    RetentionError,
)
from .fit import CandidateFit, fit_candidate, fit_candidates, select_model
from .io import Readout, read_readout, read_retention, validate_retention
from .macro_models import MODELS, FittedCurve, MacroModel, get_model
from .pipeline import DistillResult, check_readout_shape, distill
from .retention import retention_factor, retention_schedules

__all__ = [
    "MODELS",
    "CandidateFit",
    "DistillError",
    "DistillResult",
    "DistillWarning",
    "FittedCurve",
    "MacroModel",
    "NoEligibleModelError",
    "Readout",
    "ReadoutError",
    "ReadoutShapeError",
    "RetentionError",
    "check_readout_shape",
    "distill",
    "fit_candidate",
    "fit_candidates",
    "get_model",
    "read_readout",
    "read_retention",
    "retention_factor",
    "retention_schedules",
    "select_model",
    "validate_retention",
]
