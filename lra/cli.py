"""Command line: `python -m lra {generate,preprocess,inspect} ...`.

  python -m lra generate listops --out DATA/listops-1000 --train 96000 --val 2000 --test 2000 \
      --min-len 500 --max-len 2000 --seed 0
  python -m lra generate pathfinder --out DATA/pathfinder32 --resolution 32 --level hard \
      --n 200000 --workers 2 --seed 0
  python -m lra generate recall --out DATA/recall --train 4000 --val 500 --test 500 \
      --length 1024 --pairs 4 --keys 16 --values 4 --seed 0
  python -m lra generate majority --out DATA/majority --length 1024 --votes 9 --classes 2
  python -m lra preprocess listops --root DATA --cache DATA/cache
  python -m lra inspect pathfinder --root DATA --out results/lra/pathfinder [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

from .tasks import GENERATED, TASKS, get_task, load_splits


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars unless --quiet, and only on a terminal (redirected logs stay plain)."""
    return not args.quiet and sys.stderr.isatty()

LEVEL_CHOICES = ("easy", "intermediate", "hard")


def _timed(write: Callable[[], dict], count: int, unit: str, rate_digits: int | None) -> dict:
    """Run `write` (returns where it wrote) and add the count of `unit`s it made, the seconds
    it took and, unless rate_digits is None, the `unit`s per second (rounded to that many
    digits): the JSON summary of a generate command."""
    start = time.perf_counter()
    summary = write()
    seconds = time.perf_counter() - start
    summary.update({unit: count, "seconds": round(seconds, 2)})
    if rate_digits is not None:
        summary[f"{unit}_per_s"] = round(count / seconds, rate_digits)
    return summary


def _files(paths: dict[str, Path]) -> dict:
    return {"files": {k: str(v) for k, v in paths.items()}}


def _generate_listops(args: argparse.Namespace) -> dict:
    from .listops_generator import ListOpsSettings, generate_listops_release

    settings = ListOpsSettings(
        n_train=args.train, n_val=args.val, n_test=args.test, min_length=args.min_len,
        max_length=args.max_len, max_depth=args.max_depth, max_args=args.max_args,
        seed=args.seed,
    )
    return _timed(lambda: _files(generate_listops_release(args.out, settings,
                                                          progress=_progress(args))),
                  args.train + args.val + args.test, "examples", rate_digits=1)


def _generate_tokens(args: argparse.Namespace) -> dict:
    """A generated token task (recall, majority) from the registry's generator."""
    task = GENERATED[args.kind]
    settings = task.settings(**{o.field: getattr(args, o.field) for o in task.all_options()})
    return _timed(lambda: _files(task.write_release(args.out, settings)),
                  settings.n_train + settings.n_val + settings.n_test, "examples",
                  rate_digits=None)


def _generate_pathfinder(args: argparse.Namespace) -> dict:
    from .pathfinder_release import generate_pathfinder_release

    def write() -> dict:
        folder = generate_pathfinder_release(
            args.out, resolution=args.resolution, level=args.level, n_images=args.n,
            workers=args.workers, seed=args.seed, per_shard=args.per_shard,
            save_truth=args.save_truth, progress=_progress(args))
        return {"folder": str(folder)}

    return _timed(write, args.n, "images", rate_digits=2)


def _preprocess(args: argparse.Namespace) -> dict:
    splits = load_splits(args.task, args.root, args.cache, args.level, progress=_progress(args),
                         strict_tokens=args.strict_tokens)
    return {
        "task": get_task(args.task).display_name,
        "cache": str(args.cache),
        "counts": {name: len(s) for name, s in splits.items()},
    }


def _inspect(args: argparse.Namespace) -> dict:
    from .inspect import inspect_task

    spec = get_task(args.task)
    splits = load_splits(args.task, args.root, args.cache, args.level, progress=_progress(args),
                         strict_tokens=args.strict_tokens)
    summary = inspect_task(spec, splits, args.out, examples=args.examples)
    return {"out": str(args.out), **summary}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m lra`."""
    parser = argparse.ArgumentParser(
        prog="python -m lra",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rmaat')}")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    # --quiet is accepted after the subcommand too; SUPPRESS keeps the top-level value
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "--quiet", action="store_true", default=argparse.SUPPRESS, help="no progress bars"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="generate a synthetic LRA task")
    kinds = generate.add_subparsers(dest="kind", required=True)
    lo = kinds.add_parser(
        "listops", help="ListOps TSVs (official algorithm, seeded)", parents=[quiet]
    )
    lo.add_argument("--out", type=Path, required=True, help="folder for basic_*.tsv")
    lo.add_argument("--train", type=int, default=96_000, help="train examples")
    lo.add_argument("--val", type=int, default=2_000, help="val examples")
    lo.add_argument("--test", type=int, default=2_000, help="test examples")
    lo.add_argument("--min-len", type=int, default=500, help="keep length > this (tokens)")
    lo.add_argument("--max-len", type=int, default=2_000, help="keep length < this (tokens)")
    lo.add_argument("--max-depth", type=int, default=10, help="maximum tree depth")
    lo.add_argument("--max-args", type=int, default=10, help="maximum operator arguments")
    lo.add_argument("--seed", type=int, default=0, help="random seed")
    lo.set_defaults(run=_generate_listops)

    for name, task in GENERATED.items():
        sub = kinds.add_parser(
            name, help=f"{task.title} TSVs (generated task, not LRA)", parents=[quiet]
        )
        task.add_arguments(sub)
        sub.set_defaults(run=_generate_tokens)

    pf = kinds.add_parser(
        "pathfinder", help="Pathfinder / Path-X images in the release layout", parents=[quiet]
    )
    pf.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the pathfinder<res> folder; the level folder is created inside",
    )
    pf.add_argument("--resolution", type=int, choices=(32, 128), default=32, help="pixels")
    pf.add_argument("--level", choices=LEVEL_CHOICES, default="hard", help="difficulty")
    pf.add_argument("--n", type=int, default=200_000, help="number of images")
    pf.add_argument("--workers", type=int, default=1, help="processes")
    pf.add_argument("--seed", type=int, default=0, help="random seed")
    pf.add_argument("--per-shard", type=int, default=1_000, help="images per metadata file")
    pf.add_argument(
        "--save-truth",
        action="store_true",
        help="also write truth/<k>.npz (path masks, marker positions)",
    )
    pf.set_defaults(run=_generate_pathfinder)

    for name, func, helptext in (
        ("preprocess", _preprocess, "tokenise a task once into the cache"),
        ("inspect", _inspect, "counts, lengths, label balance, examples, image grid"),
    ):
        sub = commands.add_parser(name, help=helptext, parents=[quiet])
        sub.add_argument("task", choices=list(TASKS), help="task name")
        sub.add_argument("--root", type=Path, required=True, help="data root (see docs/lra.md)")
        sub.add_argument(
            "--level", choices=LEVEL_CHOICES, default="hard", help="Pathfinder / Path-X difficulty"
        )
        sub.add_argument(
            "--cache", type=Path, required=name == "preprocess", default=None, help="cache folder"
        )
        sub.add_argument(
            "--strict-tokens", action="store_true",
            help="ListOps: an unknown word is an error (default: a counted warning, read as <unk>)",
        )
        if name == "inspect":
            sub.add_argument("--out", type=Path, required=True, help="folder for the report")
            sub.add_argument("--examples", type=int, default=3, help="examples per split")
        sub.set_defaults(run=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; prints a JSON summary; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        result = args.run(args)
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0
