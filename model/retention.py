"""RF(t, T): memory compression and a demo retention file (docs/design.md §4).

The `distill` stage writes ``results/retention/{condition}.json``; its format, its checks and
the loaded :class:`~pipeline.retention.RetentionSchedule` belong to :mod:`pipeline.retention`
(re-exported here). The training code loads the schedule and hands it to
``model.build_model``; the model never opens the file itself, and never imports ``distill``.

RF modes (how mem'_{t+1}, the memory output of segment t, becomes the next memory)::

    scalar     mem_{t+1} = RF(t, T) * mem'_{t+1}                      (paper, default)
    none       mem_{t+1} = mem'_{t+1}                                  (RMT / RLT)
    gated      mem_{t+1} = mem_t + rho_t (mem'_{t+1} - mem_t),   rho_t = RF(t, T) / RF(1, T)
    delta      mem_{t+1} = mem_t + RF(t, T) (mem'_{t+1} - mem_t)
    streaming  mem_{t+1} = mem_t + s(t) (mem'_{t+1} - mem_t)          (no T needed)
    accumulate mem_{t+1} = mem_t + RF(t, T) * mem'_{t+1}

``gated`` is our alternative (not the paper's): the schedule's shape decides how much each
segment may overwrite the memory (rho_1 = 1, later segments write less as LTP saturates), but
the memory stays a convex blend of O(1) states, so its scale does not shrink like 1/T as in
``scalar`` mode, and a model can be evaluated at a T other than the one it was trained on.

``accumulate`` is the reading in which "the factors sum to 1" constrains the memory: after
segment t the memory is mem_1 + sum_{u <= t} RF(u, T) mem'_{u+1} (mem_1 the learned initial
memory), so after all T segments the part written by the segments is a convex combination of
their memory outputs with the schedule's weights, on top of the initial memory.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from torch import Tensor

from pipeline.io import atomic_write_json
from pipeline.retention import (
    REGENERATE_HINT,
    RetentionSchedule,
    load_retention,
    validate_retention,
)

__all__ = ["REGENERATE_HINT", "RetentionSchedule", "compress_memory", "load_retention",
           "saturating_schedule", "write_retention_json"]


def compress_memory(mode: str, new_mem: Tensor, old_mem: Tensor, rf: Tensor,
                    rf_first: Tensor) -> Tensor:
    """Next memory from the memory output of a segment (see the RF modes above).

    new_mem = mem'_{t+1}, old_mem = mem_t: [B, M, D]; rf = RF(t, T) (s(t) for streaming),
    rf_first = RF(1, T): [B] or scalar tensors. ``mode`` is a validated ``rf_mode``
    (:meth:`model.config.ModelConfig.validate` owns the list).
    """
    if mode == "none":
        return new_mem
    rf = rf.reshape(-1, 1, 1)
    if mode == "scalar":
        return rf * new_mem
    if mode == "gated":
        rho = rf / rf_first.reshape(-1, 1, 1)
        return old_mem + rho * (new_mem - old_mem)
    if mode == "accumulate":
        return old_mem + rf * new_mem
    # delta or streaming: ModelConfig.validate allows no other mode
    return old_mem + rf * (new_mem - old_mem)


def saturating_schedule(n_segments: int, tau_cycles: float = 4.0) -> list[float]:
    """RF(., T) of the curve p(t) = 1 - exp(-t / tau) (t in STP cycles).

    A stand-in with the right shape for demos and tests; real schedules come from the fitted
    macro model of the `distill` stage.
    """
    p = [1.0 - math.exp(-t / tau_cycles) for t in range(n_segments + 1)]
    return [(p[t] - p[t - 1]) / (p[n_segments] - p[0]) for t in range(1, n_segments + 1)]


def write_retention_json(path: str | os.PathLike, max_segments: int = 64,
                         tau_cycles: float = 4.0, condition: str = "demo",
                         streaming: bool = True) -> Path:
    """Write a retention JSON with :func:`saturating_schedule` for T = 1..max_segments, and
    (unless ``streaming`` is False, as in files of an older distill) the streaming factors
    s(t) = (1 - e^(-1/tau)) e^(-(t-1)/tau), t = 1..max_segments, tail ratio e^(-1/tau).

    For demos and tests only. The file follows the same contract as distill's
    (:func:`pipeline.retention.validate_retention`, checked before writing): its macro model
    is the saturating exponential p(t) = A (1 - e^(-t/tau)) + c with A = 1, c = 0 and tau in
    s (the cycle period is 1 s, so tau = ``tau_cycles``), an exact fit (r2 = 1, zero errors).
    Written atomically (:func:`pipeline.io.atomic_write_json`).
    """
    params = {"A": 1.0, "tau": float(tau_cycles), "c": 0.0}
    fit = {"name": "sat_exp", "params": params, "stderr": dict.fromkeys(params, 0.0),
           "r2": 1.0, "aic": 0.0}
    data = {
        "condition": condition,
        "macro_model": fit,
        "candidates": [{**fit, "eligible": True}],
        "tau_cycle_s": 1.0,
        "schedules": {str(t): saturating_schedule(t, tau_cycles)
                      for t in range(1, max_segments + 1)},
    }
    if streaming:
        q = math.exp(-1.0 / tau_cycles)
        data["streaming"] = {"factors": [(1.0 - q) * q ** (t - 1)
                                         for t in range(1, max_segments + 1)],
                             "tail_ratio": q}
    validate_retention(data)
    atomic_write_json(path, data)
    return Path(path)
