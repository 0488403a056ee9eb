"""Command line of the training stage.

    python -m train run --spec results/runs/listops/rmaat/seed0/spec.json \
        --out-dir results/runs/listops/rmaat/seed0
    torchrun --nproc_per_node=2 -m train run --spec ... --out-dir ...   # data parallel

Tables and the claims scorecard are `python -m analysis` (the analysis/ package, which reads
the runs' metrics.json); the pipeline's HTML report is `python -m report`.
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    try:
        if args.command == "run":  # the only command (tables and claims: python -m analysis)
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
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
