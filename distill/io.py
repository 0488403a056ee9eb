"""Files of the distill stage: the readout CSV it reads and the retention JSON it writes.

Readout CSV (written by the simulation stage): columns ``cycle,time_s,p_l``, one row per cycle
boundary, cycle = 0, 1, ..., n_cycles in order, ``time_s = cycle · τc`` (cycle 0 at t = 0 s),
``p_l`` the mean long-term astrocytic process (dimensionless). Optional: columns ``pair_0``,
``pair_1``, ... with every pair's value (the tripartite simulation writes them; ``p_l`` must be
their mean), used to weight the fit and to bootstrap over pairs. Other columns are ignored.

Retention JSON: its format and checks belong to :mod:`pipeline.retention`
(``validate_retention`` is re-exported here). Every output is written atomically
(:mod:`pipeline.io`): a reader never sees a partial file and a failed write leaves nothing
behind.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.io import atomic_write_text
from pipeline.retention import read_payload, validate_retention

from .errors import ReadoutError

__all__ = ["READOUT_COLUMNS", "Readout", "read_readout", "read_retention",
           "readout_from_arrays", "schedules_from_json", "validate_retention",
           "write_readout_csv"]

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


def _header(path: Path) -> list[str]:
    """The column names of a CSV's first line, stripped, as written (duplicates kept)."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        first = next(csv.reader(f), [])
    return [name.strip() for name in first]


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
    names = _header(p)
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:  # pandas would rename the second one ("p_l.1") and keep reading
        raise ReadoutError(f"readout {p}: column(s) {twice} named more than once in the "
                           "header; keep one of each")
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
    atomic_write_text(path, df.to_csv(index=False))


# ---------------------------------------------------------------------------- retention JSON


def read_retention(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a retention JSON (:mod:`pipeline.retention`); raises
    ``ReadoutError`` naming the file if it is missing, not JSON or breaks the format."""
    return read_payload(path, error=ReadoutError)


def schedules_from_json(payload: dict[str, Any]) -> dict[int, np.ndarray]:
    """The ``schedules`` of a retention payload as ``{T: RF array}``, sorted by T."""
    return {int(k): np.asarray(v, dtype=float) for k, v in
            sorted(payload["schedules"].items(), key=lambda kv: int(kv[0]))}
