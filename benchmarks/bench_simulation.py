"""Cost of simulating the LTP conditions with each Brian2 target, and of a parameter sweep.

    python benchmarks/bench_simulation.py [--config config/config.yaml] [--sweep 10]

For every condition of the config and every target it times one full ``simulate`` call
(code generation + compilation where there is one + the run), in this order:

- ``numpy``: no compilation;
- ``cython (cold)``: a fresh, empty cache directory: every code object is compiled;
- ``cython (warm)``: the same cache again: nothing is compiled (constants are run-time
  variables, so other conditions reuse the code too);
- ``cpp_standalone``: one C++ project per condition, built then run.

The sweep runs ``--sweep`` values of tau_pl on the warm Cython cache: compile once, many
runs. Writes ``results/benchmarks/simulation.csv`` and prints a table. Timings are wall-clock
seconds on whatever machine runs this; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import pandas as pd

from pipeline.config import load_config, resolve_condition
from pipeline.io import atomic_write
from simulation.rate_model import simulate


def _timed(params: dict) -> tuple[float, float]:
    start = time.perf_counter()
    result = simulate(params, progress=False)
    return time.perf_counter() - start, result.info["biological_time_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--sweep", type=int, default=10, help="number of sweep values")
    parser.add_argument("--out", default="results/benchmarks/simulation.csv")
    parser.add_argument("--targets", nargs="+",
                        default=["numpy", "cython (cold)", "cython (warm)", "cpp_standalone"])
    args = parser.parse_args()
    config = load_config(args.config)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for target in args.targets:
            for condition in config["conditions"]:
                params = resolve_condition(config, condition)
                params["target"] = target.split(" ")[0]
                params["cache_dir"] = cache
                if target == "cython (cold)":
                    params["cache_dir"] = tempfile.mkdtemp(dir=cache)
                wall, bio = _timed(params)
                rows.append({"what": "condition", "target": target, "condition": condition,
                             "wall_s": wall, "biological_s": bio})
                print(f"{target:16s} {condition:18s} {wall:7.2f} s wall for {bio:.0f} s")
        base = resolve_condition(config, next(iter(config["conditions"])))
        base.update(target="cython", cache_dir=cache)
        start = time.perf_counter()
        for k in range(args.sweep):
            base["constants"]["tau_pl"] = f"{5 + k} s"
            wall, bio = _timed(base)
            rows.append({"what": "sweep run", "target": "cython (warm)",
                         "condition": f"tau_pl={5 + k} s", "wall_s": wall, "biological_s": bio})
        total = time.perf_counter() - start
        rows.append({"what": "sweep total", "target": "cython (warm)",
                     "condition": f"{args.sweep} values", "wall_s": total, "biological_s": None})
        print(f"sweep of {args.sweep} tau_pl values on the warm cache: {total:.1f} s "
              f"({total / args.sweep:.2f} s per run)")
    table = pd.DataFrame(rows)
    table["machine"] = f"{platform.processor() or platform.machine()}, {platform.system()}"
    atomic_write(args.out, lambda p: table.to_csv(p, index=False))
    summary = table[table["what"] == "condition"].groupby("target")["wall_s"].mean()
    print("\nmean wall time per condition (s):")
    print(summary.to_string())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
