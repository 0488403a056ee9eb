"""Command line of the HTML report.

    python -m report --out results/report.html --retention results/retention/a.json \
        --accuracy results/tables/accuracy.csv --runs results/tables/runs.csv ...
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import version


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m report`."""
    p = argparse.ArgumentParser(
        prog="python -m report", formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__ + "\nReads only the files named here (the workflow's report rule "
        "names its declared inputs); every option but --out may be left out.")
    p.add_argument("--version", action="version", version=f"%(prog)s {version('rmaat')}")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--retention", nargs="*", default=[],
                   help="distill results (results/retention/{condition}.json)")
    p.add_argument("--plots", nargs="*", default=[],
                   help="condition plots: plots/conditions.png, plots/{condition}/{fit,traces,"
                   "schedules}.png")
    p.add_argument("--sweep-tables", nargs="*", default=[],
                   help="sweep tables (results/sweeps/{sweep}/table.csv)")
    p.add_argument("--sweep-plots", nargs="*", default=[],
                   help="sweep plots (results/sweeps/{sweep}/*.png)")
    p.add_argument("--accuracy", default=None, help="accuracy.csv of python -m analysis aggregate")
    p.add_argument("--runs", default=None, help="runs.csv of python -m analysis aggregate")
    p.add_argument("--skipped", default="{}", help="JSON {task: reason} of skipped tasks")
    p.add_argument("--claims", default=None, help="claims.csv of python -m analysis claims")
    p.add_argument("--metrics", nargs="*", default=[],
                   help="metrics.json of every run (training curves)")
    p.add_argument("--benchmarks", nargs="*", default=[],
                   help="benchmark CSVs and Snakemake benchmark TSVs (memory and speed)")
    p.add_argument("--sensitivity", nargs="*", default=[],
                   help="sensitivity analysis files (results/sensitivity/{condition}.csv, "
                   ".json, .png)")
    p.add_argument("--dose-response", nargs="*", default=[],
                   help="dose-response table and summary (results/dose_response.csv, .json)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Write the report; returns the exit code (2 for bad input)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from .page import ReportInputs, write_report

    try:
        write_report(ReportInputs(
            retention=args.retention, plots=args.plots, sweep_tables=args.sweep_tables,
            sweep_plots=args.sweep_plots, accuracy=args.accuracy, runs=args.runs,
            skipped=json.loads(args.skipped), claims=args.claims, metrics=args.metrics,
            benchmarks=args.benchmarks, sensitivity=args.sensitivity,
            dose_response=args.dose_response), args.out)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
