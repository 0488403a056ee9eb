"""Cost of a parameter sweep of the tripartite model on each Brian2 target.

    python benchmarks/bench_sweep.py                       # default sweep of config/config.yaml
    python benchmarks/bench_sweep.py --targets cpp_standalone --points 5

For each target: the one-time compile (C++ standalone: the shared project, built cold in a
fresh cache directory; cython: the code objects, cold cache), the time of each run (the
standalone run is the binary plus reading its results; no recompilation), and the cost of one
sweep-point job as Snakemake runs it (``python -m simulation run --params``, a new process).
``--points`` limits how many points each target runs (numpy runs take about a minute each,
so by default numpy and cython run 1 point and the sweep total is extrapolated).

Writes ``results/benchmarks/sweep.csv`` (one row per measurement) and prints a summary:
compile time, mean run time, and the estimated sweep cost compile + n x job / cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def _job_seconds(params: dict, workdir: Path) -> float:
    """Wall time of one sweep-point job: a fresh ``python -m simulation run`` process."""
    path = workdir / f"{params['condition']}.json"
    path.write_text(json.dumps(params))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simulation", "run", "--params", str(path),
                    "--out-dir", str(workdir / params["condition"]), "--no-progress"],
                   check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def bench_target(target: str, points: list[dict], cache: Path, workdir: Path) -> list[dict]:
    """Measure compile, runs and one job for one target; returns CSV rows."""
    from simulation import standalone, tripartite
    from simulation.tripartite import simulate

    rows = []
    for params in points:
        params["tripartite"]["target"] = target
        params["cache_dir"] = str(cache)
    if target == "cpp_standalone":
        directory, compile_s, _ = standalone.ensure_project(points[0], tripartite)
        rows.append({"target": target, "what": "compile", "point": "", "seconds": compile_s,
                     "note": f"cold build of {directory.name}"})
    for params in points:
        start = time.perf_counter()
        result = simulate(params, progress=False)
        wall = time.perf_counter() - start
        compile_s = result.info.get("compile_s") or 0.0
        if target == "cython" and not any(r["what"] == "compile" for r in rows):
            rows.append({"target": target, "what": "compile", "point": params["condition"],
                         "seconds": wall, "note": "first run, cold Cython cache (incl. run)"})
            start = time.perf_counter()
            result = simulate(params, progress=False)
            wall = time.perf_counter() - start
        rows.append({"target": target, "what": "run", "point": params["condition"],
                     "seconds": wall - compile_s,
                     "note": f"binary {result.info['run_s']:.2f} s" if target == "cpp_standalone"
                     else "in-process, warm"})
        print(f"{target:15s} {params['condition']}: {wall - compile_s:.2f} s", flush=True)
    job = _job_seconds(points[0], workdir)
    rows.append({"target": target, "what": "job", "point": points[0]["condition"],
                 "seconds": job, "note": "python -m simulation run (new process, warm)"})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--sweep", help="sweep name (default: the first tripartite sweep)")
    parser.add_argument("--targets", nargs="+", default=["cpp_standalone", "cython", "numpy"],
                        choices=["cpp_standalone", "cython", "numpy"])
    parser.add_argument("--points", type=int, default=None,
                        help="points per target (default: all for cpp_standalone, 1 otherwise)")
    parser.add_argument("--cores", type=int, default=2, help="cores for the estimated total")
    parser.add_argument("--out", default=str(REPO / "results" / "benchmarks" / "sweep.csv"))
    args = parser.parse_args(argv)

    from pipeline.config import load_config
    from pipeline.sweeps import expand_sweep, resolve_sweep_point, sweep_model

    config = load_config(args.config)
    name = args.sweep or next(n for n in config["sweeps"] if sweep_model(config, n) ==
                              "tripartite")
    expanded = expand_sweep(config, name)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        for target in args.targets:
            n = args.points or (len(expanded) if target == "cpp_standalone" else 1)
            points = [resolve_sweep_point(config, name, p["point"], expanded)
                      for p in expanded[:n]]
            cache = Path(tmp) / f"cache-{target}"
            rows += bench_target(target, points, cache, Path(tmp))
    table = pd.DataFrame(rows)
    table.insert(0, "sweep", name)
    table.insert(1, "n_points_in_sweep", len(expanded))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(f"\nsweep {name}: {len(expanded)} points; wrote {out}")
    for target, group in table.groupby("target", sort=False):
        compile_s = group.loc[group["what"] == "compile", "seconds"].sum()
        run_s = group.loc[group["what"] == "run", "seconds"].mean()
        job_s = group.loc[group["what"] == "job", "seconds"].mean()
        total = len(expanded) * job_s / args.cores
        print(f"  {target:15s} compile {compile_s:6.1f} s | run {run_s:6.2f} s | job {job_s:6.2f}"
              f" s | sweep after compile ~ {total:6.1f} s on {args.cores} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
