"""Benchmark files, checked column by column: Snakemake ``benchmark:`` TSVs of the workflow's
jobs and the CSVs of the benchmark scripts (``python -m benchmarks.bench_memory``).

A file whose rows do not line up with its header, that lacks a measured column, or holds a
word where a number belongs is an error naming the file and the line; pandas alone would
fill a short row with NaN and shift the rest, and the report would show one column's
numbers under another's name.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

#: Columns of a Snakemake benchmark TSV that the report shows: wall seconds, peak resident
#: memory (MB) and CPU seconds. "-" or "NA" in max_rss / cpu_time: not sampled (no value).
RULE_COLUMNS = ("s", "max_rss", "cpu_time")
#: Columns of the memory benchmark's CSV (bench_memory: memory.csv; the workflow's copy is
#: claims_memory.csv), which the memory claim reads.
MEMORY_COLUMNS = ("driver", "segments", "peak_mb")
RULE_RERUN = ("delete it and rerun the job (snakemake writes it with the job's "
              "benchmark: directive)")
MEMORY_RERUN = "rerun python -m benchmarks.bench_memory"


def _rows(path: Path, delimiter: str, rerun: str) -> list[list[str]]:
    """Header and rows of a delimited file; every row has the header's number of fields."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh, delimiter=delimiter) if row]
    if not rows:
        raise ValueError(f"{path} is empty; {rerun}")
    header = rows[0]
    if len(set(header)) != len(header) or "" in header:
        raise ValueError(f"{path}: the header {header} has empty or repeated column names; "
                         f"{rerun}")
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {line} has {len(row)} fields, the header "
                             f"{len(header)}; {rerun}")
    if len(rows) == 1:
        raise ValueError(f"{path} holds no measurement (a header only); {rerun}")
    return rows


def _require(table: pd.DataFrame, path: Path, columns: Sequence[str], rerun: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks the column(s) {', '.join(missing)} (has "
                         f"{', '.join(map(str, table.columns))}); {rerun}")


def _numeric(table: pd.DataFrame, path: Path, column: str, rerun: str,
             missing_ok: bool = False) -> None:
    """``table[column]`` as numbers (in place); NaN allowed only with ``missing_ok``."""
    values = pd.to_numeric(table[column], errors="coerce")
    bad = values.isna() & (table[column].notna() | (not missing_ok))
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + 2
        raise ValueError(f"{path}: {column!r} on line {line} is not a number "
                         f"({table[column].iloc[line - 2]!r}); {rerun}")
    table[column] = values


def read_rule_benchmark(path: str | Path) -> pd.DataFrame:
    """A Snakemake benchmark TSV (one row per ``--repeat``), checked: rows as long as the
    header, the columns of :data:`RULE_COLUMNS`, ``s`` a number on every row, ``max_rss``
    and ``cpu_time`` numbers or not sampled ("-", "NA": NaN)."""
    path = Path(path)
    _rows(path, "\t", RULE_RERUN)
    table = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
    _require(table, path, RULE_COLUMNS, RULE_RERUN)
    _numeric(table, path, "s", RULE_RERUN)
    for column in ("max_rss", "cpu_time"):
        _numeric(table, path, column, RULE_RERUN, missing_ok=True)
    return table


def rule_benchmarks(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Snakemake ``benchmark:`` files as one table: rule, job, wall time (s), peak resident
    memory (MB), CPU time (s). The rule is the folder under ``rules/``, the job the rest of
    the path (``rules/train/listops/rmaat/seed0.tsv`` -> train, listops/rmaat/seed0)."""
    rows = []
    for path in map(Path, paths):
        parts = path.with_suffix("").parts
        where = len(parts) - 1 - parts[::-1].index("rules") if "rules" in parts else None
        rule = parts[where + 1] if where is not None else path.parent.name
        job = "/".join(parts[where + 2:]) if where is not None else path.stem
        row = read_rule_benchmark(path).iloc[-1]  # the last measurement (one per --repeat)
        rows.append({"rule": rule, "job": job, "wall (s)": float(row["s"]),
                     "peak RSS (MB)": float(row["max_rss"]),
                     "CPU time (s)": float(row["cpu_time"])})
    return pd.DataFrame(rows, columns=["rule", "job", "wall (s)", "peak RSS (MB)",
                                       "CPU time (s)"])


def is_memory_csv(path: str | Path) -> bool:
    """Whether ``path`` is the memory benchmark's CSV (by its name, as the scripts write it)."""
    return Path(path).name.endswith("memory.csv")


def read_benchmark_csv(path: str | Path) -> pd.DataFrame:
    """A benchmark script's CSV, checked: a header of distinct names, rows as long as it, at
    least one row; the memory benchmark's (:func:`is_memory_csv`) is checked as
    :func:`read_memory_csv`."""
    path = Path(path)
    if is_memory_csv(path):
        return read_memory_csv(path)
    _rows(path, ",", "rerun the benchmark that wrote it")
    return pd.read_csv(path)


def read_memory_csv(path: str | Path) -> pd.DataFrame:
    """The memory benchmark's CSV (peak MB per driver and number of segments), whatever its
    name: rows as long as the header, the columns of :data:`MEMORY_COLUMNS`, numbers of
    segments and peak memory on every row."""
    path = Path(path)
    _rows(path, ",", MEMORY_RERUN)
    table = pd.read_csv(path)
    _require(table, path, MEMORY_COLUMNS, MEMORY_RERUN)
    for column in ("segments", "peak_mb"):
        _numeric(table, path, column, MEMORY_RERUN)
    return table


#: Columns of the speed benchmark's CSV (bench_speed_claim: speed_claim.csv; the workflow's
#: copy is claims_speed.csv), which the speed claim reads.
SPEED_COLUMNS = ("device", "system", "preset", "segments", "segment_len", "batch", "d_model",
                 "n_layers", "repeats", "time_kind", "step_median_s", "step_min_s",
                 "step_max_s")
SPEED_RERUN = "rerun python -m benchmarks.bench_speed_claim"


def read_speed_csv(path: str | Path) -> pd.DataFrame:
    """The speed benchmark's CSV (one row per system: median, min and max step time),
    checked: rows as long as the header, the columns of :data:`SPEED_COLUMNS`, positive step
    times and sizes on every row."""
    path = Path(path)
    _rows(path, ",", SPEED_RERUN)
    table = pd.read_csv(path)
    _require(table, path, SPEED_COLUMNS, SPEED_RERUN)
    for column in ("segments", "segment_len", "batch", "d_model", "n_layers", "repeats",
                   "step_median_s", "step_min_s", "step_max_s"):
        _numeric(table, path, column, SPEED_RERUN)
        if (table[column] <= 0).any():
            line = int((table[column] <= 0).to_numpy().nonzero()[0][0]) + 2
            raise ValueError(f"{path}: {column!r} on line {line} is not positive; "
                             f"{SPEED_RERUN}")
    return table
