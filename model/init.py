"""Initial weights keyed by parameter name: common random numbers between paired variants.

Two models built with the same ``init_seed`` get identical initial values for every
parameter they share (same qualified name, same shape), whatever other parameters either of
them has: each module draws from its own generator, seeded by (init_seed, module name), not
from one stream that every parameter created earlier has advanced. So rmaat and its
ablations (no RF, another schedule or RF mode, a learned factor, another retention
condition, another number of layers or memory tokens, a learnable alpha ...) start from the
same weights where they have the same weights, and a paired comparison over seeds sees the
ablation, not a reshuffled initialisation.

The distributions are PyTorch's defaults, drawn by the same calls in the same order from the
module's own generator (a ``Linear`` equals ``nn.Linear`` built right after
``torch.manual_seed(k)``, k = :func:`module_seed`; tested), plus our own choices:

- ``nn.Linear``: weight Kaiming-uniform (a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  then bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's ``reset_parameters``);
- ``nn.Embedding``: N(0, 1) (PyTorch's default; unit variance is also our decision,
  ``model/network.py``);
- ``nn.LayerNorm``: gain 1, bias 0;
- ``memory_init`` (learned initial memory): N(0, 0.02^2);
- ``alpha``, ``astro_decay`` and ``rf_learned`` are deterministic (set where they are created)
  and left as they are.

A parameter without a rule here is an error naming it (so a new parameter cannot silently
fall back to an order-dependent initialisation).
"""

from __future__ import annotations

import hashlib
import math

import torch
from torch import nn

#: Parameters whose initial value is deterministic (no random draw); kept as constructed.
DETERMINISTIC = ("alpha", "astro_decay", "rf_learned")
#: Standard deviation of the learned initial memory tokens (``memory_init``).
MEMORY_INIT_STD = 0.02


def module_seed(init_seed: int, name: str) -> int:
    """Seed (63 bit) of the generator of the module or parameter called ``name``."""
    digest = hashlib.sha256(f"{int(init_seed)}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _generator(init_seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(module_seed(init_seed, name))


@torch.no_grad()
def init_parameters(net: nn.Module, init_seed: int) -> None:
    """Draw every parameter of ``net`` (on the CPU, in place) from generators keyed by
    (``init_seed``, name); see the module docstring. ValueError naming a parameter that has
    no rule."""
    done: set[str] = set()
    for mod_name, module in net.named_modules():
        own = dict(module.named_parameters(recurse=False))
        if not own:
            continue
        prefix = f"{mod_name}." if mod_name else ""
        if isinstance(module, nn.Linear):
            g = _generator(init_seed, mod_name)
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=g)
            if module.bias is not None:
                bound = 1.0 / math.sqrt(module.weight.shape[1]) if module.weight.shape[1] else 0
                nn.init.uniform_(module.bias, -bound, bound, generator=g)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, generator=_generator(init_seed, mod_name))
        elif isinstance(module, nn.LayerNorm):
            if module.weight is not None:
                nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        else:
            for name, p in own.items():
                if name == "memory_init":
                    g = _generator(init_seed, prefix + name)
                    nn.init.normal_(p, std=MEMORY_INIT_STD, generator=g)
                elif name not in DETERMINISTIC:
                    raise ValueError(
                        f"parameter {prefix + name} ({type(module).__name__}) has no "
                        "initialisation rule in model/init.py: add one, so that its initial "
                        "value depends only on (init_seed, its name)")
        done.update(prefix + name for name in own)
    missing = sorted({name for name, _ in net.named_parameters()} - done)
    if missing:  # shared parameters are listed once by named_parameters; never expected
        raise ValueError(f"parameters {missing} were not initialised by model/init.py")
