"""Command line of the training stage.

    python -m train run --spec results/runs/listops/rmaat/seed0/spec.json \
        --out-dir results/runs/listops/rmaat/seed0
    torchrun --nproc_per_node=2 -m train run --spec ... --out-dir ...   # data parallel
    python -m train claims --metrics results/runs/*/*/*/metrics.json --claims claims.json \
        --memory-csv results/benchmarks/memory.csv --out-dir results

The pipeline's HTML report is `python -m report` (the report/ package).
"""

from __future__ import annotations

import argparse
import logging
import sys
from importlib.metadata import version

from train.spec import RunSpec


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input, 1 for a diverged run)."""
    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rmaat')}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="train and evaluate one run (resumes from last.pt)")
    p.add_argument("--spec", required=True, help="run spec JSON (see train/spec.py)")
    p.add_argument("--out-dir", required=True,
                   help="folder of the run: checkpoints, metrics.json (created if missing)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (there is none anyway when stderr is not a terminal)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own choice)")
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    try:
        if args.command == "run":
            import torch

            from train.loop import TrainingDiverged, train_run

            if args.threads:
                torch.set_num_threads(args.threads)
            try:
                # a bar only on a terminal: redirected logs stay free of carriage returns
                progress = not args.no_progress and sys.stderr.isatty()
                train_run(RunSpec.load(args.spec), args.out_dir, progress=progress)
            except TrainingDiverged as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
        elif args.command == "aggregate":
            import json

            from train.aggregate import write_tables

            files = write_tables(args.metrics, args.out_dir, json.loads(args.skipped))
            print(files["accuracy_md"].read_text())
        else:
            import json
            from pathlib import Path

            from train.claims import write_claims

            claims = json.loads(Path(args.claims).read_text())
            files = write_claims(args.metrics, claims, args.out_dir, args.memory_csv)
            print(files["md"].read_text())
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
