"""Per-parameter optimiser settings (as in S4): special parameters get their own group.

Groups returned by :func:`param_groups` (each parameter appears exactly once):

* ``decay``   - weight matrices and embeddings: learning rate ``lr``, ``weight_decay``;
* ``no_decay``- biases and LayerNorm gains: ``lr``, no weight decay;
* ``special`` - astrocyte/memory parameters: the positional decay s_h (``astro_decay``), a
  learnable alpha (``alpha``) and the learned initial memory (``memory_init``):
  ``special_lr``, no weight decay;
* ``rf``      - the learned retention factors (``rf_learned``, rf_schedule 'learned', in log
  space): ``rf_lr``, no weight decay. Their own rate, because a handful of scalars that set
  how much memory crosses a segment need larger steps than the weights to take a shape of
  their own within a short run (benchmarks/probe_rf_learned.py).
"""

from __future__ import annotations

from typing import Any

from torch import nn

SPECIAL_NAMES = ("astro_decay", "alpha", "memory_init", "rf_learned")
RF_NAMES = ("rf_learned",)


def is_special(name: str) -> bool:
    """True for a parameter name whose last component is one of :data:`SPECIAL_NAMES`
    (no weight decay, a learning rate of its own)."""
    return name.rsplit(".", 1)[-1] in SPECIAL_NAMES


def param_groups(net: nn.Module, lr: float, weight_decay: float,
                 special_lr: float | None = None,
                 rf_lr: float | None = None) -> list[dict[str, Any]]:
    """Parameter groups for ``torch.optim.AdamW(param_groups(net, ...))``.

    special_lr defaults to ``lr``, rf_lr to ``special_lr``. Empty groups are left out.
    """
    special_lr = lr if special_lr is None else special_lr
    rf_lr = special_lr if rf_lr is None else rf_lr
    groups: dict[str, list[nn.Parameter]] = {"decay": [], "no_decay": [], "special": [],
                                             "rf": []}
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        if name.rsplit(".", 1)[-1] in RF_NAMES:
            groups["rf"].append(p)
        elif is_special(name):
            groups["special"].append(p)
        elif p.ndim >= 2:
            groups["decay"].append(p)
        else:
            groups["no_decay"].append(p)
    settings = {"decay": (lr, weight_decay), "no_decay": (lr, 0.0), "special": (special_lr, 0.0),
                "rf": (rf_lr, 0.0)}
    return [{"name": k, "params": v, "lr": settings[k][0], "weight_decay": settings[k][1]}
            for k, v in groups.items() if v]
