"""Memory Retention Factor RF(t, T): reading the schedule JSON and compressing memory (spec §1).

The `distill` stage writes ``results/retention/{condition}.json``::

    {"condition": str, "macro_model": {...}, "candidates": [...], "tau_cycle_s": float,
     "schedules": {"1": [1.0], "2": [RF(1,2), RF(2,2)], ..., "64": [...]}}

Keys are str(T); each value is a list of T positive factors that sum to 1 and do not
increase with t. The model stage reads this file directly (it never imports ``distill``).

RF modes (how mem'_{t+1}, the memory output of segment t, becomes the next memory)::

    scalar  mem_{t+1} = RF(t, T) * mem'_{t+1}                       (paper, default)
    none    mem_{t+1} = mem'_{t+1}                                   (RMT / RLT)
    gated   mem_{t+1} = (1 - rho_t) * mem_t + rho_t * mem'_{t+1},   rho_t = RF(t, T) / RF(1, T)

``gated`` is our alternative (not the paper's): the schedule's shape decides how much each
segment may overwrite the memory (rho_1 = 1, later segments write less as LTP saturates), but
the memory stays a convex blend of O(1) states, so its scale does not shrink like 1/T as in
``scalar`` mode, and a model can be evaluated at a T other than the one it was trained on.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

REGENERATE_HINT = ("regenerate it with `snakemake --cores 8` or `python -m distill` "
                   "(with the needed T in the config)")
_TOL = 1e-6  # tolerance on sum-to-one and monotonicity of a schedule


def _format_ts(ts: list[int]) -> str:
    """Compact list of T values: [1, 2, 3, 5] -> '1-3, 5'."""
    runs: list[str] = []
    start = prev = None
    for t in sorted(ts):
        if start is None:
            start = prev = t
        elif t == prev + 1:
            prev = t
        else:
            runs.append(f"{start}-{prev}" if prev != start else f"{start}")
            start = prev = t
    if start is not None:
        runs.append(f"{start}-{prev}" if prev != start else f"{start}")
    return ", ".join(runs) if runs else "none"


@dataclass(frozen=True)
class RetentionSchedule:
    """RF(t, T) for the T values present in one retention JSON file."""

    path: str
    condition: str
    schedules: dict[int, tuple[float, ...]]  # T -> (RF(1,T), ..., RF(T,T))

    def factors(self, n_segments: int) -> tuple[float, ...]:
        """(RF(1, T), ..., RF(T, T)) for T = n_segments; ValueError if T is not in the file."""
        if n_segments not in self.schedules:
            raise ValueError(
                f"retention file {self.path} has no schedule for T={n_segments} segments; "
                f"it holds T = {_format_ts(list(self.schedules))}; {REGENERATE_HINT}")
        return self.schedules[n_segments]

    def table(self, n_segments: Tensor, t_max: int, *, dtype: torch.dtype = torch.float32,
              device: torch.device | str = "cpu") -> Tensor:
        """Per-sample factors [B, t_max]: row b is RF(., T_b) padded with zeros after T_b.

        n_segments: [B] integer tensor of per-sample T_b (1 <= T_b <= t_max).
        """
        rows = []
        for t_b in n_segments.tolist():
            f = self.factors(int(t_b))
            rows.append(list(f) + [0.0] * (t_max - len(f)))
        return torch.tensor(rows, dtype=dtype, device=device)


def load_retention(path: str | os.PathLike) -> RetentionSchedule:
    """Read and check a retention JSON file; ValueError naming the problem if it is bad."""
    path = str(path)
    if not os.path.isfile(path):
        raise ValueError(f"retention file {path} does not exist; {REGENERATE_HINT}")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"retention file {path} is not valid JSON ({err}); "
                         f"{REGENERATE_HINT}") from err
    if not isinstance(data, dict) or not isinstance(data.get("schedules"), dict):
        raise ValueError(f"retention file {path} lacks a 'schedules' object; {REGENERATE_HINT}")
    schedules: dict[int, tuple[float, ...]] = {}
    for key, values in data["schedules"].items():
        where = f"retention file {path}, schedules[{key!r}]"
        try:
            t = int(key)
        except ValueError as err:
            raise ValueError(f"{where}: key must be the number of segments T") from err
        if t < 1 or not isinstance(values, list) or len(values) != t:
            raise ValueError(f"{where}: expected a list of T={t} factors")
        if not all(isinstance(x, int | float) and math.isfinite(x) and x > 0 for x in values):
            raise ValueError(f"{where}: factors must be finite and positive, got {values}")
        if abs(sum(values) - 1.0) > _TOL:
            raise ValueError(f"{where}: factors sum to {sum(values):.9g}, not 1")
        if any(b > a + _TOL for a, b in zip(values, values[1:], strict=False)):
            raise ValueError(f"{where}: factors increase with t; RF must be non-increasing")
        schedules[t] = tuple(float(x) for x in values)
    if not schedules:
        raise ValueError(f"retention file {path} has no schedules; {REGENERATE_HINT}")
    return RetentionSchedule(path=path, condition=str(data.get("condition", "")),
                             schedules=schedules)


def compress_memory(mode: str, new_mem: Tensor, old_mem: Tensor, rf: Tensor,
                    rf_first: Tensor) -> Tensor:
    """Next memory from the memory output of a segment (see the RF modes above).

    new_mem = mem'_{t+1}, old_mem = mem_t: [B, M, D]; rf = RF(t, T_b), rf_first = RF(1, T_b): [B].
    """
    if mode == "none":
        return new_mem
    if mode == "scalar":
        return rf[:, None, None] * new_mem
    if mode == "gated":
        rho = (rf / rf_first)[:, None, None]
        return old_mem + rho * (new_mem - old_mem)
    raise ValueError(f"rf_mode must be one of scalar, none, gated; got {mode!r}")


def saturating_schedule(n_segments: int, tau_cycles: float = 4.0) -> list[float]:
    """RF(., T) of the curve p(t) = 1 - exp(-t / tau) (t in STP cycles).

    A stand-in with the right shape for demos and tests; real schedules come from the fitted
    macro model of the `distill` stage.
    """
    p = [1.0 - math.exp(-t / tau_cycles) for t in range(n_segments + 1)]
    return [(p[t] - p[t - 1]) / (p[n_segments] - p[0]) for t in range(1, n_segments + 1)]


def write_retention_json(path: str | os.PathLike, max_segments: int = 64,
                         tau_cycles: float = 4.0, condition: str = "demo") -> Path:
    """Write a retention JSON with :func:`saturating_schedule` for T = 1..max_segments.

    For demos and tests only. Written atomically (temporary file, then ``os.replace``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "condition": condition,
        "macro_model": {"form": "saturating_exponential", "tau_cycles": tau_cycles},
        "candidates": [],
        "tau_cycle_s": 1.0,
        "schedules": {str(t): saturating_schedule(t, tau_cycles)
                      for t in range(1, max_segments + 1)},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)
    return path
