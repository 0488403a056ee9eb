"""RMAAT and its baselines in one shell (docs/design.md §5, §6, §7).

    from model import build_model
    net = build_model("rmaat", vocab_size=V, num_classes=C, retention="results/retention/x.json")
    logits = net(tokens, mask)        # tokens LongTensor [B, L]; mask BoolTensor [B, L] or None
    from model.amrb import amrb_backward
    loss = amrb_backward(net, tokens, labels, mask)   # exact BPTT gradients, one segment's memory
"""

from model.config import ModelConfig
from model.network import SegmentClassifier
from model.presets import PRESETS, build_model, model_config

__all__ = ["PRESETS", "ModelConfig", "SegmentClassifier", "build_model", "model_config"]
