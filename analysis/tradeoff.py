"""What more seeds would buy: the primary contrasts' minimum detectable effect against the
run time of the study, from a finished run's own numbers.

``python -m analysis tradeoff`` reads ``results/claims.csv`` (each primary row's paired SD
over seeds, its arms in ``pair``), the training jobs' Snakemake benchmark files
(``results/benchmarks/rules/train/<task>/<variant>/seed<n>.tsv``, column ``s``: wall
seconds) and the run's wall time (its Snakemake log, :func:`analysis.snapshot.run_time`),
and writes ``results/power_tradeoff.csv``: for each primary row and each number of seeds n,

- ``mde``: the minimum detectable effect in accuracy points at n seeds (two-sided paired
  t-test, 80 % power, alpha / the number of primary rows: Holm's first step), from the row's
  observed paired SD (:func:`analysis.stats.mde`);
- ``projected_wall_s``: the run's measured wall time plus the training the extra seeds add:
  (n - seeds run) x (variants in the primary rows) x the mean wall time of their training
  jobs / the CPU cores (jobs run side by side, one thread each). A projection from this run's
  costs on this machine, not a measurement.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import stats
from analysis.runlog import run_time
from pipeline.io import atomic_write

COLUMNS = ["id", "sd", "seeds", "mde", "extra_runs", "projected_wall_s", "measured"]


def _arms(pair: str) -> list[str]:
    """The variants of a ``pair`` cell ("a > b", "a vs b", "a > b > c")."""
    for sep in (" > ", " vs "):
        if sep in pair:
            return [v.strip() for v in pair.split(sep)]
    raise ValueError(f"claims.csv: cannot read the variants of pair {pair!r}")


def train_wall(bench_dir: str | Path, variants: Sequence[str]) -> float:
    """Mean wall seconds of the training jobs of ``variants`` (every task and seed) from
    their Snakemake benchmark files; ValueError naming the folder when there are none."""
    times = []
    for variant in variants:
        for tsv in sorted(Path(bench_dir).glob(f"*/{variant}/seed*.tsv")):
            table = pd.read_csv(tsv, sep="\t")
            if "s" not in table or table.empty:
                raise ValueError(f"{tsv}: not a Snakemake benchmark file (no column 's')")
            times.append(float(table["s"].iloc[0]))
    if not times:
        raise ValueError(f"no training benchmark files of {', '.join(variants)} under "
                         f"{bench_dir}; run the default workflow first")
    return sum(times) / len(times)


def tradeoff(claims: pd.DataFrame, job_wall_s: float, run_wall_s: float, cores: int,
             seeds: Sequence[int], *, alpha: float = stats.ALPHA,
             power: float = stats.POWER) -> pd.DataFrame:
    """The table described in the module docstring (one row per primary row and n)."""
    primary = claims[claims["primary"].astype(str).str.lower() == "true"]
    primary = primary[primary["unit"] == "points"]
    if primary.empty:
        raise ValueError("claims.csv has no primary row in accuracy points")
    family = len(primary)
    arms = sorted({v for pair in primary["pair"] for v in _arms(str(pair))})
    now = int(primary["n"].max())
    rows: list[dict[str, Any]] = []
    for _, row in primary.iterrows():
        sd = float(row["sd"])
        for n in sorted({*seeds, now}):
            extra = (n - now) * len(arms)
            rows.append({"id": row["id"], "sd": sd, "seeds": n,
                         "mde": stats.mde(sd, n, alpha=alpha, power=power,
                                          family_size=family),
                         "extra_runs": extra,
                         "projected_wall_s": run_wall_s + extra * job_wall_s / cores,
                         "measured": n == now})
    return pd.DataFrame(rows, columns=COLUMNS)


def markdown(table: pd.DataFrame) -> str:
    """The table as markdown, one column of MDEs per primary row."""
    ids = list(dict.fromkeys(table["id"]))
    wide = table.pivot(index="seeds", columns="id", values="mde")[ids]
    wall = table.drop_duplicates("seeds").set_index("seeds")["projected_wall_s"]
    lines = ["| seeds per arm | " + " | ".join(f"MDE {i} (points)" for i in ids)
             + " | run time (s) |", "|---|" + "---|" * (len(ids) + 1)]
    measured = set(table.loc[table["measured"], "seeds"])
    for n, mdes in wide.iterrows():
        tag = " (this run, measured)" if n in measured else " (projected)"
        lines.append(f"| {n} | " + " | ".join(f"{m:.1f}" for m in mdes)
                     + f" | {wall[n]:,.0f}{tag} |")
    return "\n".join(lines) + "\n"


#: Seeds per arm tabulated by default.
DEFAULT_SEEDS = (5, 10, 20, 30, 40, 60)


def tradeoff_from_files(claims_csv: str | Path, bench_dir: str | Path,
                        timing: dict[str, Any], seeds: Sequence[int],
                        cores: int | None = None) -> pd.DataFrame:
    """The table from a run's claims.csv, its training benchmark folder and its wall time
    (``timing``: :func:`analysis.snapshot.run_time`'s result)."""
    claims = pd.read_csv(claims_csv, keep_default_na=False, na_values=[""])
    missing = [c for c in ("id", "primary", "unit", "pair", "n", "sd") if c not in claims]
    if missing:
        raise ValueError(f"{claims_csv}: missing column(s) {', '.join(missing)}; rerun the "
                         f"claims job")
    primary = claims[claims["primary"].astype(str).str.lower() == "true"]
    arms = sorted({v for pair in primary["pair"] for v in _arms(str(pair))})
    cores = cores or os.cpu_count() or 1
    table = tradeoff(claims, train_wall(bench_dir, arms), timing["wall_s"], cores, seeds)
    if not all(math.isfinite(m) for m in table["mde"]):
        raise ValueError(f"{claims_csv}: a primary row has no paired SD (fewer than 2 seeds)")
    return table


def write_tradeoff(claims_csv: str | Path, bench_dir: str | Path, log_dir: str | Path,
                   out_csv: str | Path, seeds: Sequence[int],
                   cores: int | None = None) -> pd.DataFrame:
    """Read the run's files, write ``out_csv`` (atomically) and return the table."""
    timing = run_time(log_dir)
    if timing is None:
        raise ValueError(f"no finished Snakemake log under {log_dir}: the run's wall time "
                         f"is unknown")
    table = tradeoff_from_files(claims_csv, bench_dir, timing, seeds, cores)
    atomic_write(out_csv, lambda p: table.to_csv(p, index=False))
    return table
