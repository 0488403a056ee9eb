"""RMAAT and its baselines in one shell (docs/design.md §5, §6, §7).

    from model import build_model
    net = build_model("rmaat", vocab_size=V, num_classes=C, retention="results/retention/x.json")
    logits = net(tokens, mask)        # tokens LongTensor [B, L]; mask BoolTensor [B, L] or None
    from model.amrb import amrb_backward
    loss = amrb_backward(net, tokens, labels, mask)   # exact BPTT gradients, one segment's memory

The names are loaded on first use, so ``import model.config`` or ``import model.presets``
(the torch-free configuration and presets) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {"PRESETS": "model.presets", "ModelConfig": "model.config",
            "SegmentClassifier": "model.network", "build_model": "model.network",
            "model_config": "model.presets"}

__all__ = ["PRESETS", "ModelConfig", "SegmentClassifier", "build_model", "model_config"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")
