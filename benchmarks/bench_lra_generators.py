"""Throughput of the two synthetic LRA generators, extrapolated to the full releases.

    python benchmarks/bench_lra_generators.py [--listops-n 10000] [--pf32-n 2000]
        [--pathx-n 40] [--workers 2] [--out results/benchmarks/lra_generators.csv]

- ListOps: `--listops-n` trees with the official settings (500 < length < 2000, depth 10,
  10 arguments), one process; extrapolated linearly to the 100,000 of the release.
- Pathfinder-32 (hard): `--pf32-n` images written in the release layout with 1 and with
  `--workers` processes; extrapolated to the 200,000 images of one level.
- Path-X (128 px, hard): `--pathx-n` images with `--workers` processes; extrapolated too.

Writes the CSV (one row per measurement: wall and CPU seconds, items per wall second, the
extrapolated wall time of the full set, the 1-minute load average, which shows when other
jobs shared the cores) and, next to it, pathfinder32_grid.png and pathx_grid.png: generated
positives and negatives read back through the loader. Wall-clock numbers depend on the
machine and its load; compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from lra.inspect import write_image_grid
from lra.listops_generator import ListOpsSettings, generate_listops
from lra.pathfinder import read_pathfinder
from lra.pathfinder_release import generate_pathfinder_release
from lra.tasks import get_task


def _cpu_seconds() -> float:
    """CPU time of this process plus its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _measure(what: str, n: int, full_n: int, workers: int, run) -> dict:
    cpu0, start = _cpu_seconds(), time.perf_counter()
    run()
    wall = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu0
    row = {
        "what": what,
        "n": n,
        "workers": workers,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "per_s_wall": round(n / wall, 2),
        "per_s_cpu_per_process": round(n / cpu, 2),
        "full_n": full_n,
        "full_wall_min_extrapolated": round(full_n / (n / wall) / 60, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    print(
        f"{what:28s} n={n:6d} workers={workers} wall {wall:8.1f} s  {row['per_s_wall']:8.1f}/s"
        f"  -> full {full_n} in {row['full_wall_min_extrapolated']:.1f} min"
        f"  (load {row['load_avg_1min']})"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listops-n", type=int, default=10_000)
    parser.add_argument("--pf32-n", type=int, default=2_000)
    parser.add_argument("--pathx-n", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/benchmarks/lra_generators.csv"))
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    settings = ListOpsSettings(n_train=args.listops_n, n_val=0, n_test=0, seed=0)
    rows.append(
        _measure(
            "listops (official bounds)",
            args.listops_n,
            100_000,
            1,
            lambda: generate_listops(settings, progress=False),
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for workers in sorted({1, args.workers}):
            out = tmp / f"w{workers}" / "pathfinder32"
            rows.append(
                _measure(
                    "pathfinder32 hard",
                    args.pf32_n,
                    200_000,
                    workers,
                    lambda out=out, w=workers: generate_pathfinder_release(
                        out, 32, "hard", args.pf32_n, w, seed=0, per_shard=100, progress=False
                    ),
                )
            )
        out128 = tmp / "x" / "pathfinder128"
        per_shard = max(1, args.pathx_n // (2 * args.workers))
        rows.append(
            _measure(
                "pathx (128 px) hard",
                args.pathx_n,
                200_000,
                args.workers,
                lambda: generate_pathfinder_release(
                    out128,
                    128,
                    "hard",
                    args.pathx_n,
                    args.workers,
                    seed=0,
                    per_shard=per_shard,
                    progress=False,
                ),
            )
        )
        grids = [
            ("pathfinder", tmp / f"w{args.workers}", 32, "pathfinder32_grid.png"),
            ("pathx", tmp / "x", 128, "pathx_grid.png"),
        ]
        for task, root, resolution, name in grids:
            train = read_pathfinder(root, resolution, "hard", progress=False)["train"]
            write_image_grid(get_task(task), train, args.out.parent / name, per_class=8)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    print(f"wrote {args.out} and the grids next to it")


if __name__ == "__main__":
    main()
