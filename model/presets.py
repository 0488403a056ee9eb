"""The six models of the paper's iso-architecture comparison (spec §6), one shell each.

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
"""

from __future__ import annotations

from typing import Any

from model.config import ModelConfig
from model.network import SegmentClassifier

_WHOLE = {"recurrent": False, "readout": "tokens", "rf_mode": "none", "driver": "bptt"}
_MEMORY = {"recurrent": True, "readout": "memory", "rf_mode": "none", "driver": "bptt"}

PRESETS: dict[str, dict[str, Any]] = {
    "transformer": {"attention": "softmax", **_WHOLE},
    "linear_transformer": {"attention": "linear", **_WHOLE},
    "at": {"attention": "astromorphic", **_WHOLE},
    "rmt": {"attention": "softmax", **_MEMORY},
    "rlt": {"attention": "linear", **_MEMORY},
    "rmaat": {"attention": "astromorphic", **_MEMORY, "rf_mode": "scalar", "driver": "amrb"},
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
    n_heads=4, segment_len=256, num_mem_tokens=8, dropout=0.1, retention="rf.json")``.
    Raises ``ValueError`` for an unknown preset, a bad value or a missing/corrupt retention file.
    """
    return SegmentClassifier(model_config(preset, **kwargs))
