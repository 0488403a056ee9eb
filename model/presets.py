"""The six models of the paper's iso-architecture comparison (docs/design.md §7), one shell each.

| name               | attention    | recurrence               | training |
|--------------------|--------------|--------------------------|----------|
| transformer        | softmax      | none (whole sequence)    | BPTT     |
| linear_transformer | linear       | none                     | BPTT     |
| at                 | astromorphic | none                     | BPTT     |
| rmt                | softmax      | memory tokens            | BPTT     |
| rlt                | linear       | memory tokens, no RF     | BPTT     |
| rmaat              | astromorphic | memory tokens + RF       | AMRB     |

Non-recurrent presets treat the whole input as one segment: ``segment_len``,
``num_mem_tokens`` and ``retention`` are accepted (so every preset takes the same
arguments) but unused, and they read out pooled tokens.

Memory defaults (this file is their one owner):

* ``rmt`` / ``rlt`` hand on the final-norm output at the memory positions
  (``memory_handoff="normed"``), as the RMT paper does (the memory tokens' final hidden
  states); no RF.
* ``rmaat`` hands on the normed memory too, with the paper's scalar RF over one T per task
  (``rf_T="fixed"``: needs ``rf_segments``, which the training plan fills from the task's
  seq_len). Why normed: then "without RF" (rf_mode none) is the bounded RMT memory, and
  the paper's claim "RF improves accuracy" compares RF against that baseline. With the
  residual handoff "without RF" is an unbounded sum of the segments' residual updates
  (its norm grows about linearly with t), so an RF-vs-no-RF gap would measure the growth,
  not the retention factor.
"""

from __future__ import annotations

from typing import Any

from model.config import ModelConfig
from model.network import SegmentClassifier

_WHOLE = {"recurrent": False, "readout": "tokens", "rf_mode": "none", "driver": "bptt"}
_MEMORY = {"recurrent": True, "readout": "memory", "rf_mode": "none", "driver": "bptt",
           "memory_handoff": "normed"}

PRESETS: dict[str, dict[str, Any]] = {
    "transformer": {"attention": "softmax", **_WHOLE},
    "linear_transformer": {"attention": "linear", **_WHOLE},
    "at": {"attention": "astromorphic", **_WHOLE},
    "rmt": {"attention": "softmax", **_MEMORY},
    "rlt": {"attention": "linear", **_MEMORY},
    "rmaat": {"attention": "astromorphic", **_MEMORY, "rf_mode": "scalar", "rf_T": "fixed",
              "driver": "amrb"},
}


def resolved_settings(preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """A preset's defaults with ``overrides`` on top (plain dict; not validated)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
    return {**PRESETS[preset], **overrides}


def model_config(preset: str, **overrides: Any) -> ModelConfig:
    """The validated :class:`ModelConfig` of a preset, with keyword overrides."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
    unknown = sorted(set(overrides) - set(ModelConfig.field_names()))
    if unknown:
        raise ValueError(f"unknown model argument(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(ModelConfig.field_names())}")
    for key in ("vocab_size", "num_classes"):
        if key not in overrides:
            raise ValueError(f"build_model needs {key}=...")
    return ModelConfig(**{**PRESETS[preset], **overrides}).validate()


def build_model(preset: str, **kwargs: Any) -> SegmentClassifier:
    """Build one of :data:`PRESETS`; keyword arguments are :class:`ModelConfig` fields.

    Example: ``build_model("rmaat", vocab_size=V, num_classes=C, d_model=128, n_layers=2,
    n_heads=4, segment_len=256, num_mem_tokens=8, dropout=0.1, retention="rf.json",
    rf_segments=16)`` (rf_segments = ceil(seq_len / segment_len) of the task).
    Raises ``ValueError`` for an unknown preset, a bad value or a missing/corrupt retention file.
    """
    return SegmentClassifier(model_config(preset, **kwargs))
