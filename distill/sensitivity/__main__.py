"""Command line of the sensitivity analysis (docs/design.md §2.4).

    python -m distill.sensitivity run --plans results/sensitivity/baseline/points/*.json \\
        --base-readout results/simulation/baseline/readout.csv \\
        --base-params results/config/baseline.json --max-segments 64 --segments 8 \\
        --threshold 0.05 --tolerance 0.05 --cache-dir results/sensitivity/baseline/cache \\
        --out-csv results/sensitivity/baseline.csv --out-png results/sensitivity/baseline.png \\
        --out-json results/sensitivity/baseline.json

Reads one condition's plans (``python -m simulation sensitivity`` prints them; the workflow
writes one file per parameter), simulates and distills every valid point not already in the
cache, and writes the table (CSV), the tornado plot (PNG) and a summary (JSON: which
parameters move the schedule, the rate model's prediction checked, the cost). Invalid points
and points whose simulation or fit fails are rows with a reason, never an error. Exit status
2 for bad input (a missing file, plans of several conditions), 1 when the condition's own
readout cannot be distilled.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from pipeline.io import atomic_write_json, atomic_write_text

from ..sweeps.analysis import FITTED
from .plots import plot_tornado
from .points import cached_point, cpu_seconds, fit_readout, prune_cache
from .summary import sentence, summarise, theory_sentence
from .table import sensitivity_table

log = logging.getLogger("distill.sensitivity")


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist; run the workflow step that "
                                "writes it first")
    return json.loads(path.read_text())


def _cost(results: list[dict], computed: list[bool], job_cpu: float, wall: float) -> dict:
    cpu = [r["cpu_s"] for r, c in zip(results, computed, strict=True) if c]
    compile_s = [r.get("compile_s") or 0.0 for r, c in zip(results, computed, strict=True) if c]
    return {"points": len(results), "computed": sum(computed),
            "reused": len(results) - sum(computed),
            "points_cpu_s": sum(cpu), "median_point_cpu_s": statistics.median(cpu) if cpu else None,
            "compile_s": sum(compile_s), "job_cpu_s": job_cpu, "job_wall_s": wall}


def _run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    plans = [_read_json(Path(p), "plan") for p in args.plans]
    conditions = {p["condition"] for p in plans}
    if len(conditions) > 1:
        print(f"error: the plans belong to several conditions {sorted(conditions)}; run one "
              "condition at a time", file=sys.stderr)
        return 2
    base_params = _read_json(args.base_params, "parameter file")
    condition = base_params["condition"]
    if conditions != {condition}:
        print(f"error: plans of {sorted(conditions)} but base parameters of {condition!r}",
              file=sys.stderr)
        return 2
    if not args.base_readout.is_file():
        raise FileNotFoundError(f"readout {args.base_readout} does not exist; simulate the "
                                f"condition first")
    base = fit_readout(args.base_readout, base_params, args.max_segments)
    if base["status"] not in FITTED:
        print(f"error: condition {condition!r}: its own readout {args.base_readout} cannot be "
              f"distilled ({base['status']}: {base['reason']}); nothing to compare with",
              file=sys.stderr)
        return 1
    points: dict[str, dict] = {}
    results, computed, keys = [], [], set()
    todo = [(plan, side) for plan in plans for side in ("minus", "plus")]
    for k, (plan, side) in enumerate(todo, 1):
        spec = plan["points"][side]
        points.setdefault(plan["parameter"], {})[side] = None
        if not spec["valid"]:
            log.info("[%d/%d] %s %s: invalid (%s)", k, len(todo), plan["parameter"], side,
                     spec["reason"])
            continue
        result, fresh = cached_point(spec["params"], args.max_segments, args.cache_dir)
        points[plan["parameter"]][side] = result
        results.append(result)
        computed.append(fresh)
        keys.add(result["key"])
        log.info("[%d/%d] %s %s = %s: %s, tau_LTP %s s (%s, %.1f s CPU)", k, len(todo),
                 plan["parameter"], side, spec["value"], result["status"],
                 f"{result['tau_ltp_s']:.4g}" if result["tau_ltp_s"] is not None else "-",
                 "computed" if fresh else "cached", result["cpu_s"])
    removed = prune_cache(args.cache_dir, keys)
    table = sensitivity_table(plans, base, points, args.segments, args.threshold,
                              args.tolerance, base_params)
    atomic_write_text(args.out_csv, table.to_csv(index=False))
    model = base_params.get("model", "rate")
    summary = summarise(table, condition, model, args.segments, args.threshold, args.tolerance)
    summary["sentence"] = sentence(summary)
    summary["theory_sentence"] = theory_sentence(summary)
    summary["base"] = {"fit": base["macro_model"]["name"], "tau_ltp_s": base["tau_ltp_s"],
                       "plateau": base["plateau"], "tau_cycle_s": base["tau_cycle_s"]}
    summary["cost"] = _cost(results, computed, cpu_seconds(), time.perf_counter() - start)
    summary["cost"]["cache_files_removed"] = removed
    steps = sorted({float(s) for s in table.get("step", [])})
    step_text = f"step ±{100 * steps[0]:g} %" if len(steps) == 1 else "steps: see the table"
    plot_tornado(table, args.out_png, f"{condition} ({model} model): which parameters move "
                 f"the schedule ({step_text})", args.segments[0], args.threshold)
    atomic_write_json(args.out_json, json.loads(json.dumps(summary, default=float),
                                                parse_constant=lambda c: None))
    print(summary["sentence"])
    if summary["theory_sentence"]:
        print(summary["theory_sentence"])
    cost = summary["cost"]
    print(f"{cost['computed']} points computed, {cost['reused']} reused from the cache; "
          f"{cost['points_cpu_s']:.1f} s CPU in points, {cost['job_cpu_s']:.1f} s CPU in the "
          f"job, {cost['job_wall_s']:.1f} s wall")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m distill.sensitivity`."""
    parser = argparse.ArgumentParser(prog="python -m distill.sensitivity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rmaat')}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="one condition's table, tornado plot and summary")
    run.add_argument("--plans", nargs="+", required=True, type=Path,
                     help="plan JSON of each parameter (pipeline.sensitivity.perturbation)")
    run.add_argument("--base-readout", required=True, type=Path,
                     help="the condition's own readout.csv (the base point)")
    run.add_argument("--base-params", required=True, type=Path,
                     help="the condition's resolved parameters (results/config/{c}.json)")
    run.add_argument("--max-segments", required=True, type=int,
                     help="retention.max_segments (fit eligibility horizon, segments)")
    run.add_argument("--segments", required=True, type=int, nargs="+",
                     help="numbers of segments T whose schedules are compared (first: the "
                          "tornado's)")
    run.add_argument("--threshold", type=float, default=0.05,
                     help="|schedule elasticity| from which a parameter moves the schedule")
    run.add_argument("--tolerance", type=float, default=0.05,
                     help="allowed |measured - predicted| elasticity (rate model)")
    run.add_argument("--cache-dir", required=True, type=Path, help="per-point cache folder")
    run.add_argument("--out-csv", required=True, type=Path)
    run.add_argument("--out-png", required=True, type=Path)
    run.add_argument("--out-json", required=True, type=Path)
    run.set_defaults(run=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return args.run(args)
    except (FileNotFoundError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
