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

This module is the one owner of the presets and their defaults (every field a preset does
not set takes :class:`~model.config.ModelConfig`'s default): read them through
:func:`resolved_settings` or :func:`model_config`, never by guessing a default. It imports no
torch, so the training plan and the Snakefile can use it; ``model.build_model`` builds the
network.

Memory defaults:

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

from dataclasses import MISSING, fields
from typing import Any

from model.config import ModelConfig, needs_retention

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


RECURRENT_PRESETS = tuple(name for name, preset in PRESETS.items() if preset["recurrent"])


def _check_preset(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")


def resolved_settings(preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Every :class:`ModelConfig` field of a preset: the dataclass defaults, the preset's
    defaults on top, then ``overrides`` (a plain dict; not validated; ``vocab_size`` and
    ``num_classes`` only when given)."""
    _check_preset(preset)
    defaults = {f.name: f.default for f in fields(ModelConfig) if f.default is not MISSING}
    return {**defaults, **PRESETS[preset], **overrides}


def preset_needs_retention(preset: str, overrides: dict[str, Any]) -> bool:
    """True when ``preset`` with ``overrides`` reads a retention file
    (:func:`model.config.needs_retention` of the resolved settings)."""
    return needs_retention(resolved_settings(preset, overrides))


def model_config(preset: str, **overrides: Any) -> ModelConfig:
    """The validated :class:`ModelConfig` of a preset, with keyword overrides."""
    _check_preset(preset)
    unknown = sorted(set(overrides) - set(ModelConfig.field_names()))
    if unknown:
        raise ValueError(f"unknown model argument(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(ModelConfig.field_names())}")
    for key in ("vocab_size", "num_classes"):
        if key not in overrides:
            raise ValueError(f"build_model needs {key}=...")
    return ModelConfig(**{**PRESETS[preset], **overrides}).validate()
