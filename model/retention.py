"""Memory retention factor RF(t, T): the schedule JSON and memory compression (docs/design.md §4).

The `distill` stage writes ``results/retention/{condition}.json``::

    {"condition": str, "macro_model": {...}, "candidates": [...], "tau_cycle_s": float,
     "schedules": {"1": [1.0], "2": [RF(1,2), RF(2,2)], ..., "64": [...]},
     "streaming": {"factors": [s(1), ..., s(K)], "tail_ratio": q, ...}}

Keys are str(T); each value is a list of T positive factors that sum to 1 and do not
increase with t. ``streaming`` holds the T-free factor s(t) = [p(t tc) - p((t-1) tc)] /
[p(inf) - p(0)] (the share of the *whole* LTP rise gained in cycle t, i.e. RF(t, T) in the
limit T -> inf) for t = 1..K, and q: for t > K, s(t) = s(K) q^(t-K). Files written before
``streaming`` existed lack it; only rf_mode 'streaming' needs it. The model stage reads this
file directly (it never imports ``distill``).

RF modes (how mem'_{t+1}, the memory output of segment t, becomes the next memory)::

    scalar     mem_{t+1} = RF(t, T) * mem'_{t+1}                      (paper, default)
    none       mem_{t+1} = mem'_{t+1}                                  (RMT / RLT)
    gated      mem_{t+1} = mem_t + rho_t (mem'_{t+1} - mem_t),   rho_t = RF(t, T) / RF(1, T)
    delta      mem_{t+1} = mem_t + RF(t, T) (mem'_{t+1} - mem_t)
    streaming  mem_{t+1} = mem_t + s(t) (mem'_{t+1} - mem_t)          (no T needed)

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
    streaming: tuple[float, ...] | None = None  # s(1), ..., s(K); None in files without it
    tail_ratio: float = 1.0  # s(t) = s(K) * tail_ratio^(t - K) for t > K

    def factors(self, n_segments: int) -> tuple[float, ...]:
        """(RF(1, T), ..., RF(T, T)) for T = n_segments; ValueError if T is not in the file."""
        if n_segments not in self.schedules:
            raise ValueError(
                f"retention file {self.path} has no schedule for T={n_segments} segments; "
                f"it holds T = {_format_ts(list(self.schedules))}; {REGENERATE_HINT}")
        return self.schedules[n_segments]

    def table(self, n_segments: Tensor, t_max: int, *, dtype: torch.dtype = torch.float32,
              device: torch.device | str = "cpu") -> Tensor:
        """Per-sample factors [B, t_max]: row b is RF(., T_b), padded with zeros after T_b or
        cut at t_max.

        n_segments: [B] integer tensor of the T of each row (T >= 1).
        """
        rows = []
        for t_b in n_segments.tolist():
            f = self.factors(int(t_b))
            rows.append((list(f) + [0.0] * t_max)[:t_max])
        return torch.tensor(rows, dtype=dtype, device=device)

    def streaming_factors(self, n_segments: int) -> list[float]:
        """(s(1), ..., s(n)) of rf_mode 'streaming', for any n (geometric tail after K).

        ValueError if the file has no 'streaming' entry (written by an older distill)."""
        if self.streaming is None:
            raise ValueError(
                f"retention file {self.path} has no 'streaming' entry, which rf_mode='streaming' "
                f"needs (the file predates it); {REGENERATE_HINT}")
        listed = list(self.streaming[:n_segments])
        last = self.streaming[-1]
        tail = [last * self.tail_ratio ** (i + 1) for i in range(n_segments - len(listed))]
        return listed + tail


def _parse_streaming(data: dict, path: str) -> tuple[tuple[float, ...] | None, float]:
    """The optional 'streaming' entry: (factors, tail_ratio), or (None, 1.0) if absent."""
    entry = data.get("streaming")
    if entry is None:
        return None, 1.0
    where = f"retention file {path}, 'streaming'"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object; {REGENERATE_HINT}")
    values, q = entry.get("factors"), entry.get("tail_ratio")
    if not isinstance(values, list) or not values or not all(
            isinstance(x, int | float) and math.isfinite(x) and x > 0 for x in values):
        raise ValueError(f"{where}.factors must be a non-empty list of finite positive "
                         f"numbers; {REGENERATE_HINT}")
    if any(b > a * (1 + _TOL) for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{where}.factors increase with t; they must be non-increasing")
    if sum(values) > 1.0 + _TOL:
        raise ValueError(f"{where}.factors sum to {sum(values):.9g} > 1 (they are shares of "
                         "the total LTP rise)")
    if not isinstance(q, int | float) or not 0.0 <= q <= 1.0:
        raise ValueError(f"{where}.tail_ratio must be a number in [0, 1], got {q!r}")
    return tuple(float(x) for x in values), float(q)


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
    streaming, tail_ratio = _parse_streaming(data, path)
    return RetentionSchedule(path=path, condition=str(data.get("condition", "")),
                             schedules=schedules, streaming=streaming, tail_ratio=tail_ratio)


def compress_memory(mode: str, new_mem: Tensor, old_mem: Tensor, rf: Tensor,
                    rf_first: Tensor) -> Tensor:
    """Next memory from the memory output of a segment (see the RF modes above).

    new_mem = mem'_{t+1}, old_mem = mem_t: [B, M, D]; rf = RF(t, T) (s(t) for streaming),
    rf_first = RF(1, T): [B] or scalar tensors.
    """
    if mode == "none":
        return new_mem
    rf = rf.reshape(-1, 1, 1)
    if mode == "scalar":
        return rf * new_mem
    if mode == "gated":
        rho = rf / rf_first.reshape(-1, 1, 1)
        return old_mem + rho * (new_mem - old_mem)
    if mode in ("delta", "streaming"):
        return old_mem + rf * (new_mem - old_mem)
    raise ValueError(f"rf_mode must be one of scalar, none, gated, delta, streaming; "
                     f"got {mode!r}")


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
    if streaming:
        q = math.exp(-1.0 / tau_cycles)
        data["streaming"] = {"factors": [(1.0 - q) * q ** (t - 1)
                                         for t in range(1, max_segments + 1)],
                             "tail_ratio": q}
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)
    return path
