"""Files of the distill stage: the readout CSV it reads and the retention JSON it writes.

Readout CSV (written by the simulation stage): columns ``cycle,time_s,p_l``, one row per cycle
boundary, cycle = 0, 1, ..., n_cycles in order, ``time_s = cycle · τc`` (cycle 0 at t = 0 s),
``p_l`` the mean long-term astrocytic process (dimensionless). Optional: columns ``pair_0``,
``pair_1``, ... with every pair's value (the tripartite simulation writes them; ``p_l`` must be
their mean), used to weight the fit and to bootstrap over pairs. Other columns are ignored.

Retention JSON: see :func:`validate_retention` for the schema. Every output is written
atomically: to a temporary file in the target's directory, then ``os.replace``d, so a reader
never sees a partial file and a failed write leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from .errors import ReadoutError

READOUT_COLUMNS = ("cycle", "time_s", "p_l")
SPACING_RTOL = 1e-6  # allowed relative deviation of a time step from τc


@dataclass(frozen=True)
class Readout:
    """A validated readout: p^l at every cycle boundary.

    Attributes: ``cycle`` (0..n_cycles), ``time_s`` (s), ``p_l`` (dimensionless),
    ``tau_cycle_s`` (cycle period τc in s), ``source`` (where it was read from), ``pairs``
    (every pair's value, shape (n_points, n_pairs), or None).
    """

    cycle: np.ndarray
    time_s: np.ndarray
    p_l: np.ndarray
    tau_cycle_s: float
    source: str = "<memory>"
    pairs: np.ndarray | None = None

    @property
    def n_points(self) -> int:
        """Number of samples (n_cycles + 1)."""
        return int(self.time_s.size)

    @property
    def duration_s(self) -> float:
        """Simulated duration covered by the readout, s."""
        return float(self.time_s[-1])


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:limit])
    return shown + (f", ... ({idx.size} in all)" if idx.size > limit else "")


def readout_from_arrays(
    time_s: np.ndarray, p_l: np.ndarray, cycle: np.ndarray | None = None, source: str = "<memory>",
    min_points: int = 4,
) -> Readout:
    """Validate arrays as a readout (same checks as :func:`read_readout`) and derive τc (s)."""
    t = np.asarray(time_s, dtype=float)
    y = np.asarray(p_l, dtype=float)
    c = np.arange(t.size, dtype=float) if cycle is None else np.asarray(cycle, dtype=float)
    where = f"readout {source}"
    if not (t.ndim == y.ndim == c.ndim == 1 and t.size == y.size == c.size):
        raise ReadoutError(f"{where}: cycle, time_s and p_l must be 1-D and of equal length")
    for name, arr in (("cycle", c), ("time_s", t), ("p_l", y)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ReadoutError(f"{where}: column {name!r} has NaN/inf in data row(s) {_rows(bad)}")
    if t.size < min_points:
        raise ReadoutError(
            f"{where}: {t.size} point(s), fewer than the {min_points} needed to fit a macro model "
            "with an error estimate (parameters + 1)"
        )
    if not np.array_equal(c, np.arange(c.size)):
        raise ReadoutError(
            f"{where}: column 'cycle' must be 0, 1, ..., n_cycles in order "
            f"(found {c[:5].tolist()}{' ...' if c.size > 5 else ''})"
        )
    tau = float(t[-1] - t[0]) / float(c[-1] - c[0])
    if not tau > 0:
        raise ReadoutError(f"{where}: time_s does not increase (derived cycle period {tau} s)")
    if abs(t[0]) > SPACING_RTOL * tau:
        raise ReadoutError(f"{where}: cycle 0 must be at time_s = 0, found {t[0]} s")
    steps = np.diff(t)
    dev = np.abs(steps - tau)
    if dev.max() > SPACING_RTOL * tau:
        raise ReadoutError(
            f"{where}: time_s is not uniformly spaced: steps range from {steps.min():.6g} to "
            f"{steps.max():.6g} s (cycle period {tau:.6g} s, tolerance {SPACING_RTOL:g} relative)"
            f"; first bad step after data row {int(np.argmax(dev > SPACING_RTOL * tau))}"
        )
    # snap to the exact grid: the fit and RF both use t = cycle · τc
    return Readout(cycle=c.astype(int), time_s=c * tau, p_l=y, tau_cycle_s=tau, source=source)


def read_readout(path: str | os.PathLike[str], min_points: int = 4) -> Readout:
    """Read and validate a readout CSV (columns ``cycle,time_s,p_l``; time in s).

    Raises :class:`ReadoutError` for a missing or unreadable file, missing columns, non-numeric
    values, NaN/inf, fewer than ``min_points`` rows, cycles that are not 0..n in order, or
    unevenly spaced times. The cycle period τc (s) is derived from the data.
    """
    p = Path(path)
    if not p.is_file():
        raise ReadoutError(f"readout file not found: {p}")
    try:
        df = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise ReadoutError(f"readout {p}: file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ReadoutError(f"readout {p}: not a readable CSV ({exc})") from None
    df.columns = [str(col).strip() for col in df.columns]
    missing = [col for col in READOUT_COLUMNS if col not in df.columns]
    if missing:
        raise ReadoutError(
            f"readout {p}: missing column(s) {missing}; expected {list(READOUT_COLUMNS)}, "
            f"found {list(df.columns)}"
        )
    arrays = {}
    for col in READOUT_COLUMNS:
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        nonnum = np.isnan(values) & df[col].notna().to_numpy()
        if nonnum.any():
            raise ReadoutError(
                f"readout {p}: column {col!r} has non-numeric values in data row(s) "
                f"{_rows(nonnum)}"
            )
        arrays[col] = values
    readout = readout_from_arrays(
        arrays["time_s"], arrays["p_l"], arrays["cycle"], source=str(p), min_points=min_points
    )
    pair_cols = [col for col in df.columns if col.startswith("pair_")]
    if not pair_cols:
        return readout
    pairs = df[pair_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(pairs)):
        raise ReadoutError(f"readout {p}: pair columns ({pair_cols[0]}, ...) have non-numeric, "
                           "NaN or inf values")
    scale = max(float(np.max(np.abs(readout.p_l))), 1e-300)
    if np.max(np.abs(pairs.mean(axis=1) - readout.p_l)) > 1e-6 * scale:
        raise ReadoutError(f"readout {p}: column 'p_l' is not the mean of the {len(pair_cols)} "
                           "pair_* columns; rewrite the file with the simulation stage")
    return dataclasses.replace(readout, pairs=pairs)


def write_readout_csv(path: str | os.PathLike[str], readout: Readout) -> None:
    """Write a readout in the simulation stage's CSV format (atomic). Used for synthetic data."""
    df = pd.DataFrame({"cycle": readout.cycle, "time_s": readout.time_s, "p_l": readout.p_l})
    atomic_write(path, lambda fh: fh.write(df.to_csv(index=False).encode()))


# ---------------------------------------------------------------------------- atomic writes


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(fh)`` on a temporary file next to ``path``, then rename it onto ``path``.

    The parent directory is created if needed. If ``write`` raises, the temporary file is
    removed, ``path`` is left as it was (absent or the previous complete version), and the
    exception propagates.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Serialise ``payload`` (finite floats only: NaN/inf raise ``ValueError`` before any file
    is touched) and write it atomically to ``path``."""
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    atomic_write(path, lambda fh: fh.write(text.encode()))


# ---------------------------------------------------------------------------- retention JSON


def _is_float(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def validate_retention(payload: dict[str, Any], atol: float = 1e-9) -> None:
    """Check a retention JSON payload against the stage's schema; raise ``ValueError`` if not.

    Schema::

        {"condition": str,
         "macro_model": {"name": str, "params": {name: float}, "stderr": {name: float},
                         "r2": float, "aic": float},
         "candidates": [{"name": str, "params": {...}, "r2": float | null,
                         "aic": float | null, ...}, ...],
         "tau_cycle_s": float,
         "schedules": {"<T>": [RF(1,T), ..., RF(T,T)], ...},
         "derived": {"tau_ltp_s", "tau_ltp_cycles", "plateau", "cycles_to_90",
                     "shape_ratio_16": float | null, ...},          # optional
         "streaming": {"factors": [s(1), ..., s(K)], "tail_ratio": float, ...}}

    and every schedule is positive, non-increasing and sums to 1 within ``atol``. The
    optional ``streaming`` entry (:mod:`distill.streaming`; absent in older files) must hold
    positive, non-increasing factors summing to at most 1 and a tail ratio in [0, 1].
    """

    def need(cond: bool, msg: str) -> None:
        if not cond:
            raise ValueError(f"retention JSON: {msg}")

    need(isinstance(payload, dict), "top level must be an object")
    for key in ("condition", "macro_model", "candidates", "tau_cycle_s", "schedules"):
        need(key in payload, f"missing key {key!r}")
    need(isinstance(payload["condition"], str), "'condition' must be a string")
    mm = payload["macro_model"]
    need(isinstance(mm, dict), "'macro_model' must be an object")
    for key in ("name", "params", "stderr", "r2", "aic"):
        need(key in mm, f"'macro_model' lacks {key!r}")
    need(isinstance(mm["name"], str), "'macro_model.name' must be a string")
    for key in ("params", "stderr"):
        need(
            isinstance(mm[key], dict) and all(_is_float(v) for v in mm[key].values()),
            f"'macro_model.{key}' must map names to finite floats",
        )
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
    derived = payload.get("derived")  # optional: files written before it existed lack it
    if derived is not None:
        need(isinstance(derived, dict), "'derived' must be an object")
        for key in ("tau_ltp_s", "tau_ltp_cycles", "plateau", "cycles_to_90", "shape_ratio_16"):
            need(key in derived and (derived[key] is None or _is_float(derived[key])),
                 f"'derived.{key}' must be a finite float or null")
    schedules = payload["schedules"]
    need(isinstance(schedules, dict) and schedules, "'schedules' must be a non-empty object")
    for key, rf in schedules.items():
        need(key.isdigit() and int(key) >= 1, f"schedule key {key!r} is not a positive integer")
        need(isinstance(rf, list) and len(rf) == int(key), f"schedule {key}: length != T")
        need(all(_is_float(v) for v in rf), f"schedule {key}: values must be finite floats")
        arr = np.asarray(rf, dtype=float)
        need(bool(np.all(arr > 0)), f"schedule {key}: RF must be positive")
        need(bool(np.all(np.diff(arr) <= 0)), f"schedule {key}: RF must be non-increasing")
        need(abs(float(arr.sum()) - 1.0) <= atol, f"schedule {key}: RF sums to {arr.sum()!r}")
    if "streaming" in payload:
        st = payload["streaming"]
        need(isinstance(st, dict), "'streaming' must be an object")
        f = st.get("factors")
        need(isinstance(f, list) and f and all(_is_float(v) for v in f),
             "'streaming.factors' must be a non-empty list of finite floats")
        arr = np.asarray(f, dtype=float)
        need(bool(np.all(arr > 0)), "'streaming.factors' must be positive")
        need(bool(np.all(np.diff(arr) <= 0)), "'streaming.factors' must be non-increasing")
        need(float(arr.sum()) <= 1.0 + atol, f"'streaming.factors' sum to {arr.sum()!r} > 1")
        q = st.get("tail_ratio")
        need(_is_float(q) and 0.0 <= q <= 1.0, "'streaming.tail_ratio' must lie in [0, 1]")


def read_retention(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a retention JSON; raises ``ReadoutError`` naming the file if bad."""
    p = Path(path)
    if not p.is_file():
        raise ReadoutError(f"retention file not found: {p}")
    try:
        payload = json.loads(p.read_text())
        validate_retention(payload)
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise ReadoutError(f"{p}: {exc}") from None
    return payload


def schedules_from_json(payload: dict[str, Any]) -> dict[int, np.ndarray]:
    """The ``schedules`` of a retention payload as ``{T: RF array}``, sorted by T."""
    return {int(k): np.asarray(v, dtype=float) for k, v in
            sorted(payload["schedules"].items(), key=lambda kv: int(kv[0]))}
