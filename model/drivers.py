"""Training drivers: full BPTT and per-segment gradient checkpointing (AMRB: ``model.amrb``).

Each ``*_backward(net, tokens, labels, mask)`` computes the mean cross-entropy, accumulates
its gradients into ``.grad`` of the parameters (like ``loss.backward()``) and returns the loss
as a float. They differ only in memory and time; the gradients are the same.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from model.amrb import amrb_backward
from model.network import SegmentClassifier, State, check_labels


def bptt_backward(net: SegmentClassifier, tokens: Tensor, labels: Tensor,
                  mask: Tensor | None = None) -> float:
    """Full backpropagation through time: one graph over all segments."""
    with torch.enable_grad():  # also when called under no_grad
        logits = net(tokens, mask)
        loss = F.cross_entropy(logits, check_labels(net, labels, logits.shape[0]))
        loss.backward()
    return float(loss.detach())


def checkpointed_forward(net: SegmentClassifier, tokens: Tensor,
                         mask: Tensor | None = None) -> Tensor:
    """``net(tokens, mask)`` with each segment under ``torch.utils.checkpoint``.

    Only the state between segments is kept; each segment is recomputed during backward
    (with its RNG state restored, so dropout replays identically).
    """
    plan = net.plan(tokens, mask)
    state: State = net.initial_state(plan)
    for t in range(plan.num_segments):
        def segment(mem: Tensor, feat: Tensor, t: int = t) -> State:
            return net.step(plan, t, (mem, feat))
        state = checkpoint(segment, *state, use_reentrant=False, preserve_rng_state=True)
    return net.logits(plan, state)


def checkpoint_backward(net: SegmentClassifier, tokens: Tensor, labels: Tensor,
                        mask: Tensor | None = None) -> float:
    """BPTT with per-segment gradient checkpointing."""
    with torch.enable_grad():  # also when called under no_grad
        logits = checkpointed_forward(net, tokens, mask)
        loss = F.cross_entropy(logits, check_labels(net, labels, logits.shape[0]))
        loss.backward()
    return float(loss.detach())


def backward(net: SegmentClassifier, tokens: Tensor, labels: Tensor,
             mask: Tensor | None = None, driver: str | None = None) -> float:
    """Run the driver named ``driver`` (default: the preset's ``config.driver``)."""
    drivers = {"bptt": bptt_backward, "checkpoint": checkpoint_backward, "amrb": amrb_backward}
    name = driver or net.config.driver
    if name not in drivers:
        raise ValueError(f"unknown driver {name!r}; allowed: {', '.join(drivers)}")
    return drivers[name](net, tokens, labels, mask)
