"""The retention file contract: ``results/retention/{condition}.json``, from distill to the model.

The distill stage writes one file per condition; the model stage (through the training code)
reads it. This module is the one owner of its format: :func:`validate_retention` checks a
payload, :func:`load_retention` reads and checks a file and returns a
:class:`RetentionSchedule`. Both stages and the demo writer ``model.retention`` use it; it
imports no stage, no numpy and no torch.

Format (JSON object; later versions only added optional keys, so every file stays readable)::

    {"condition": str,                                       # version 1 (required)
     "macro_model": {"name": str, "params": {name: float}, "stderr": {name: float},
                     "r2": float, "aic": float, ...},
     "candidates": [{"name": str, "params": {name: float}, "r2": float | null,
                     "aic": float | null, ...}, ...],        # at least one
     "tau_cycle_s": float,                                   # cycle period τc, s, > 0
     "schedules": {"<T>": [RF(1,T), ..., RF(T,T)], ...},     # T = 1, 2, ... (any subset)
     "derived": {"tau_ltp_s", "tau_ltp_cycles", "plateau",   # version 2 (optional)
                 "cycles_to_90", "shape_ratio_16": float | null, ...},
     "streaming": {"factors": [s(1), ..., s(K)],             # version 3 (optional)
                   "tail_ratio": q, ...}}

Other keys (distill adds e.g. ``residuals``) are allowed and ignored. A key twice in one
object is an error (a JSON reader would keep only the last value), and schedule keys are
canonical: ``str(T)``, never ``"03"``, ``" 3"``, ``"+3"`` or ``"3.0"``. Schedule rules: each
``schedules[str(T)]`` holds T finite positive factors, non-increasing in t, summing to 1
within :data:`SUM_ATOL`. ``streaming`` holds the T-free factor s(t) (the share of the whole
LTP rise gained in cycle t, RF(t, T) in the limit T -> inf): finite, positive,
non-increasing, summing to at most 1 + :data:`SUM_ATOL`; for t > K, s(t) = s(K) q^(t-K) with
q in [0, 1]. Only ``rf_mode='streaming'`` needs it; files written before it existed lack it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["REGENERATE_HINT", "SUM_ATOL", "RetentionSchedule", "format_ts", "load_retention",
           "validate_retention"]

#: Allowed |sum - 1| of a schedule (and excess of the streaming sum over 1), absolute.
#: Why 1e-9: distill normalises every schedule by the float64 sum of the same increments, so
#: its sums are 1 up to rounding, |sum - 1| <~ T * 2^-53 (about 1e-14 at T = 64, 1e-11 even
#: at T = 10^5): five orders of magnitude of margin. A file edited by hand or written with
#: six to eight significant digits misses by 1e-6..1e-8 and is rejected, so a model never
#: trains on a schedule that does not conserve the LTP rise. Monotonicity has no tolerance:
#: distill makes its schedules exactly non-increasing (a running minimum), and the demo
#: writer's exponential decays by a factor e^(-1/tau) per step, far above rounding.
SUM_ATOL = 1e-9

REGENERATE_HINT = ("regenerate it with `snakemake --cores 8` or `python -m distill` "
                   "(with the needed T in the config)")

_TOP_KEYS = ("condition", "macro_model", "candidates", "tau_cycle_s", "schedules")
_MODEL_KEYS = ("name", "params", "stderr", "r2", "aic")
_DERIVED_KEYS = ("tau_ltp_s", "tau_ltp_cycles", "plateau", "cycles_to_90", "shape_ratio_16")


def _is_float(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _non_increasing(values: Sequence[float]) -> bool:
    return all(b <= a for a, b in zip(values, values[1:], strict=False))


def format_ts(ts: Sequence[int]) -> str:
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


def _schedule_T(key: str) -> int | None:
    """T of a schedule key written with ASCII digits (``"3"``, ``"03"``), else None."""
    if not (key.isascii() and key.isdigit()) or int(key) < 1:
        return None
    return int(key)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of :func:`json.load`: an object with a key twice is an error
    (plain ``json`` keeps the last value, so a second ``"3"`` would replace the real
    schedule without a word)."""
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError("; ".join(f"key {key!r} appears {keys.count(key)} times in one object "
                                   "(a reader would keep only the last value)" for key in twice))
    return dict(pairs)


def validate_retention(payload: Any) -> None:
    """Check a retention payload against the format above; ``ValueError`` naming the key.

    Sums are exact (``math.fsum``) and compared with :data:`SUM_ATOL`.
    """

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(f"retention JSON: {msg}")

    need(isinstance(payload, dict), "top level must be an object")
    for key in _TOP_KEYS:
        need(key in payload, f"missing key {key!r}")
    need(isinstance(payload["condition"], str), "'condition' must be a string")
    mm = payload["macro_model"]
    need(isinstance(mm, dict), "'macro_model' must be an object")
    for key in _MODEL_KEYS:
        need(key in mm, f"'macro_model' lacks {key!r}")
    need(isinstance(mm["name"], str), "'macro_model.name' must be a string")
    for key in ("params", "stderr"):
        need(isinstance(mm[key], dict) and all(_is_float(v) for v in mm[key].values()),
             f"'macro_model.{key}' must map names to finite floats")
    need(set(mm["stderr"]) == set(mm["params"]), "'macro_model.stderr' keys differ from params")
    need(_is_float(mm["r2"]) and _is_float(mm["aic"]), "'macro_model' r2/aic must be floats")
    need(isinstance(payload["candidates"], list) and payload["candidates"], "no 'candidates'")
    for cand in payload["candidates"]:
        need(isinstance(cand, dict) and isinstance(cand.get("name"), str), "bad candidate")
        need(isinstance(cand.get("params"), dict), f"candidate {cand.get('name')}: no params")
        need(all(_is_float(v) for v in cand["params"].values()), "candidate params not floats")
        for key in ("r2", "aic"):
            need(key in cand and (cand[key] is None or _is_float(cand[key])),
                 f"candidate {cand['name']}: {key!r} must be a float or null")
    need(_is_float(payload["tau_cycle_s"]) and payload["tau_cycle_s"] > 0, "bad 'tau_cycle_s'")
    derived = payload.get("derived")
    if derived is not None:
        need(isinstance(derived, dict), "'derived' must be an object")
        for key in _DERIVED_KEYS:
            need(key in derived and (derived[key] is None or _is_float(derived[key])),
                 f"'derived.{key}' must be a finite float or null")
    schedules = payload["schedules"]
    need(isinstance(schedules, dict) and schedules, "'schedules' must be a non-empty object")
    for key in schedules:
        need(isinstance(key, str), f"schedule key {key!r} is not a string")
        t = _schedule_T(key)
        need(t is not None, f"schedule key {key!r} is not a positive integer (the number of "
             "segments T)")
        if key != str(t):
            twin = f" and {str(t)!r} both name T = {t}" if str(t) in schedules else ""
            need(False, f"schedule key {key!r}{twin}: keys must be written as plain decimal "
                 f"integers without sign, spaces or leading zeros ({str(t)!r}), so that one T "
                 "has one schedule")
    for key, rf in schedules.items():
        need(isinstance(rf, list) and len(rf) == int(key),
             f"schedule {key}: length != T (expected a list of T={int(key)} factors)")
        need(all(_is_float(v) and v > 0 for v in rf),
             f"schedule {key}: RF must be finite and positive")
        need(_non_increasing(rf), f"schedule {key}: RF must be non-increasing")
        total = math.fsum(rf)
        need(abs(total - 1.0) <= SUM_ATOL,
             f"schedule {key}: RF sums to {total!r}, not 1 (within {SUM_ATOL:g})")
    if "streaming" in payload:
        st = payload["streaming"]
        need(isinstance(st, dict), "'streaming' must be an object")
        f = st.get("factors")
        need(isinstance(f, list) and f and all(_is_float(v) for v in f),
             "'streaming.factors' must be a non-empty list of finite floats")
        need(all(v > 0 for v in f), "'streaming.factors' must be positive")
        need(_non_increasing(f), "'streaming.factors' must be non-increasing")
        total = math.fsum(f)
        need(total <= 1.0 + SUM_ATOL, f"'streaming.factors' sum to {total!r} > 1 (they are "
             "shares of the total LTP rise)")
        q = st.get("tail_ratio")
        need(_is_float(q) and 0.0 <= q <= 1.0, "'streaming.tail_ratio' must lie in [0, 1]")


@dataclass(frozen=True)
class RetentionSchedule:
    """RF(t, T) for the T values of one validated retention file (plain floats, no torch).

    Build it with :func:`load_retention` (a file) or :meth:`from_payload` (a checked dict).
    """

    path: str  # where it was read from ("<memory>" for a payload)
    condition: str
    schedules: dict[int, tuple[float, ...]]  # T -> (RF(1,T), ..., RF(T,T))
    streaming: tuple[float, ...] | None = None  # s(1), ..., s(K); None in files without it
    tail_ratio: float = 1.0  # s(t) = s(K) * tail_ratio^(t - K) for t > K

    @classmethod
    def from_payload(cls, payload: Any, path: str = "<memory>") -> RetentionSchedule:
        """Validate ``payload`` (:func:`validate_retention`) and keep its factors."""
        validate_retention(payload)
        return cls._of_valid(payload, path)

    @classmethod
    def _of_valid(cls, payload: dict[str, Any], path: str) -> RetentionSchedule:
        schedules = {int(k): tuple(float(x) for x in v) for k, v in payload["schedules"].items()}
        st = payload.get("streaming")
        streaming = None if st is None else tuple(float(x) for x in st["factors"])
        tail_ratio = 1.0 if st is None else float(st["tail_ratio"])
        return cls(path=path, condition=payload["condition"], schedules=schedules,
                   streaming=streaming, tail_ratio=tail_ratio)

    def factors(self, n_segments: int) -> tuple[float, ...]:
        """(RF(1, T), ..., RF(T, T)) for T = n_segments; ValueError if T is not in the file."""
        if n_segments not in self.schedules:
            raise ValueError(
                f"retention file {self.path} has no schedule for T={n_segments} segments; "
                f"it holds T = {format_ts(list(self.schedules))}; {REGENERATE_HINT}")
        return self.schedules[n_segments]

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


def read_payload(path: str | os.PathLike[str],
                 error: Callable[[str], Exception] = ValueError) -> dict[str, Any]:
    """Read and validate the retention JSON at ``path``; its payload as a dict.

    Every problem (missing file, bad JSON, a broken rule) raises ``error(message)``, the
    message naming the file and how to regenerate it (``error`` lets a stage raise its own
    exception class).
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise error(f"retention file {name} does not exist; {REGENERATE_HINT}")
    try:
        with open(name, encoding="utf-8") as fh:
            payload = json.load(fh, object_pairs_hook=_refuse_duplicate_keys)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise error(f"retention file {name} is not valid JSON ({err}); "
                    f"{REGENERATE_HINT}") from None
    except ValueError as err:  # a key twice in one object
        raise error(f"retention file {name}: {err}; {REGENERATE_HINT}") from None
    try:
        validate_retention(payload)
    except ValueError as err:
        raise error(f"retention file {name}: {err}; {REGENERATE_HINT}") from None
    return payload


def load_retention(path: str | os.PathLike[str]) -> RetentionSchedule:
    """Read and check a retention JSON file (:func:`read_payload`); ValueError if it is bad."""
    return RetentionSchedule._of_valid(read_payload(path), os.fspath(path))
