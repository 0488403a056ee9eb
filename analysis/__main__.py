"""Command line of the analysis stage (reads the runs' outputs, writes tables).

    python -m analysis aggregate --metrics results/runs/*/*/*/metrics.json \
        --out-dir results/tables --skipped '{}'
    python -m analysis dose-response --plan results/tables/dose_config.json \
        --metrics ... --retention results/retention/*.json \
        --out-csv results/dose_response.csv --out-json results/dose_response.json
    python -m analysis claims --metrics results/runs/*/*/*/metrics.json --claims claims.json \
        --memory-csv results/benchmarks/claims_memory.csv \
        --speed-csv results/benchmarks/claims_speed.csv --out-dir results

    python -m analysis snapshot      # docs/results.md + the README block, from a run
    python -m analysis tradeoff      # primary MDE against run time (power_tradeoff.csv)

``claims.json``: the experiment.claims list, or {"claims": [...], "statistics": {"alpha",
"power", "margin"}} (experiment.statistics; the workflow writes this form).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m analysis`."""
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rmaat')}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("aggregate", help="tables from the runs' metrics.json files")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json of every run")
    p.add_argument("--out-dir", required=True,
                   help="folder for runs.csv, accuracy.csv, accuracy.md and skipped.json")
    p.add_argument("--skipped", default="{}", help="JSON {task: reason} of skipped tasks")
    p = sub.add_parser("claims", help="the claims scorecard (claims.csv, claims.md)")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json of every run")
    p.add_argument("--claims", required=True, help="JSON file: the experiment.claims list")
    p.add_argument("--memory-csv", default=None, help="benchmarks.bench_memory CSV")
    p.add_argument("--speed-csv", default=None, help="benchmarks.bench_speed_claim CSV")
    p.add_argument("--out-dir", required=True, help="folder for claims.csv and claims.md")
    p = sub.add_parser("dose-response", help="accuracy against tau_LTP (dose_response.csv)")
    p.add_argument("--plan", required=True, help="JSON: the dose-response plan "
                   "(results/tables/dose_config.json)")
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json of the runs")
    p.add_argument("--retention", nargs="+", required=True,
                   help="retention JSON of the base condition and of every value's condition")
    p.add_argument("--out-csv", required=True, help="the table (dose_response.csv)")
    p.add_argument("--out-json", required=True, help="the trend summary (dose_response.json)")
    p = sub.add_parser("snapshot", help="docs/results.md and the README's results block "
                       "from a finished run (words from numbers)")
    p.add_argument("--claims", default="results/claims.csv", help="claims.csv of the run")
    p.add_argument("--accuracy", default="results/tables/accuracy.csv", help="accuracy.csv")
    p.add_argument("--dose-csv", default="results/dose_response.csv",
                   help="the dose-response table (left out where missing)")
    p.add_argument("--dose-json", default="results/dose_response.json",
                   help="the dose-response trend summary (left out where missing)")
    p.add_argument("--sensitivity", nargs="*", default=None,
                   help="sensitivity summaries (default results/sensitivity/*.json)")
    p.add_argument("--config", default="config/config.yaml", help="the run's config (hashed)")
    p.add_argument("--train-benchmarks", default="results/benchmarks/rules/train",
                   help="the training jobs' benchmark files (for the MDE-against-run-time "
                        "table; left out where missing)")
    p.add_argument("--out", default="docs/results.md", help="the snapshot (and its .json)")
    p.add_argument("--readme", default="README.md",
                   help="README whose results block is rewritten ('' for none)")
    p = sub.add_parser("tradeoff", help="the primary contrasts' MDE against run time "
                       "(results/power_tradeoff.csv)")
    p.add_argument("--claims", default="results/claims.csv", help="claims.csv of the run")
    p.add_argument("--train-benchmarks", default="results/benchmarks/rules/train",
                   help="folder of the training jobs' Snakemake benchmark files")
    p.add_argument("--log-dir", default=".snakemake/log", help="the run's Snakemake logs")
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="seeds per arm to tabulate (default 5 10 20 30 40 60)")
    p.add_argument("--cores", type=int, default=None, help="CPU cores (default: this "
                   "machine's)")
    p.add_argument("--out", default="results/power_tradeoff.csv", help="the table")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        if args.command == "aggregate":
            from analysis.aggregate import write_tables

            files = write_tables(args.metrics, args.out_dir, json.loads(args.skipped))
            print(files["accuracy_md"].read_text())
        elif args.command == "snapshot":
            from analysis.snapshot import write_snapshot

            dose = Path(args.dose_csv).is_file() and Path(args.dose_json).is_file()
            sensitivity = (args.sensitivity if args.sensitivity is not None else
                           sorted(map(str, Path("results/sensitivity").glob("*.json"))))
            files = write_snapshot(
                args.claims, args.config, args.out, args.readme or None,
                accuracy_csv=args.accuracy if Path(args.accuracy).is_file() else None,
                dose_csv=args.dose_csv if dose else None,
                dose_json=args.dose_json if dose else None, sensitivity=sensitivity,
                tradeoff_dir=args.train_benchmarks)
            print("\n".join(f"wrote {path}" for path in files.values()))
        elif args.command == "tradeoff":
            from analysis.tradeoff import DEFAULT_SEEDS, markdown, write_tradeoff

            table = write_tradeoff(args.claims, args.train_benchmarks, args.log_dir, args.out,
                                   args.seeds or DEFAULT_SEEDS, args.cores)
            print(markdown(table))
        elif args.command == "dose-response":
            from analysis.dose import write_dose_response

            files = write_dose_response(args.plan, args.metrics, args.retention, args.out_csv,
                                        args.out_json)
            print(files["csv"].read_text())
            print(json.loads(files["json"].read_text())["reading"])
        else:
            from analysis.claims import write_claims

            claims = json.loads(Path(args.claims).read_text())
            settings = None
            if isinstance(claims, dict):
                claims, settings = claims.get("claims", []), claims.get("statistics")
            files = write_claims(args.metrics, claims, args.out_dir, args.memory_csv,
                                 args.speed_csv, settings)
            print(files["md"].read_text())
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
