"""Command line of the analysis stage (reads the runs' outputs, writes tables).

    python -m analysis aggregate --metrics results/runs/*/*/*/metrics.json \
        --out-dir results/tables --skipped '{}'
    python -m analysis claims --metrics results/runs/*/*/*/metrics.json --claims claims.json \
        --memory-csv results/benchmarks/claims_memory.csv --out-dir results
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
    p.add_argument("--out-dir", required=True, help="folder for claims.csv and claims.md")
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
        else:
            from analysis.claims import write_claims

            claims = json.loads(Path(args.claims).read_text())
            files = write_claims(args.metrics, claims, args.out_dir, args.memory_csv)
            print(files["md"].read_text())
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
