"""AMRB: Astrocytic Memory Replay Backpropagation (docs/design.md §6.3; cf. Memformer's MRBP).

1. Forward over segments 1..T-1 without a graph, keeping only the states entering each
   segment (memory mem_t and readout features) and the RNG state before each segment. (As
   in every driver, the last block computes only the memory rows when nothing reads the
   token rows: ``SegmentClassifier.step``.)
2. Segment T with a graph, then the head and the loss; ``loss.backward()`` gives the head's
   parameter gradients and dL/d(state entering T).
3. For t = T-1 .. 1: restore segment t's RNG state (dropout replays identically), recompute
   segment t from its stored state with a graph, backpropagate the state gradient handed
   down from segment t+1, and hand dL/d(state entering t) to segment t-1. Segment 1 starts
   from the learned initial memory itself, so its gradient lands in ``memory_init``.
4. Restore the RNG state reached after the loss, as if one ordinary forward had run.

The gradients are those of full BPTT (same operations on the same values; only the order of
accumulation differs); peak activation memory is that of one segment plus T small states.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from model.network import SegmentClassifier, State, check_labels

RngState = tuple[Tensor, Tensor | None]


def _get_rng(device: torch.device) -> RngState:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def _set_rng(state: RngState, device: torch.device) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)


def _leaf(state: State) -> State:
    """Detached copies of a stored state that collect their gradient in ``.grad``."""
    return tuple(s.detach().requires_grad_(True) for s in state)  # type: ignore[return-value]


def amrb_backward(net: SegmentClassifier, tokens: Tensor, labels: Tensor,
                  mask: Tensor | None = None) -> float:
    """Accumulate into ``.grad`` the gradients of ``cross_entropy(net(tokens, mask), labels)``
    (mean over the batch) with memory replay; return the loss as a float.

    tokens: LongTensor [B, L] ([B, 2, L] for the dual encoder); mask: bool like tokens or
    None; labels: LongTensor [B].
    """
    plan = net.plan(tokens, mask)
    labels = check_labels(net, labels, plan.tokens.shape[0] // plan.docs)
    device = plan.tokens.device
    n_seg = plan.num_segments
    entering: list[State] = []  # state entering segment t, t = 0 .. T-2
    rng: list[RngState] = []
    state = net.initial_state(plan)
    with torch.no_grad():
        for t in range(n_seg - 1):
            entering.append(state)
            rng.append(_get_rng(device))
            state = net.step(plan, t, state)
    with torch.enable_grad():  # also when called under no_grad
        # Last segment, head and loss with a graph.
        inputs = net.initial_state(plan) if n_seg == 1 else _leaf(state)
        logits = net.logits(plan, net.step(plan, n_seg - 1, inputs))
        loss = F.cross_entropy(logits, labels)
        rng_after = _get_rng(device)
        loss.backward()
        # Replay segments T-1 .. 1, handing the state gradient down.
        for t in reversed(range(n_seg - 1)):
            grads = [s.grad for s in inputs]
            _set_rng(rng[t], device)
            inputs = net.initial_state(plan) if t == 0 else _leaf(entering[t])
            outputs = net.step(plan, t, inputs)
            pairs = [(o, g) for o, g in zip(outputs, grads, strict=True)
                     if g is not None and o.requires_grad]
            if pairs:
                torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
    _set_rng(rng_after, device)
    return float(loss.detach())
