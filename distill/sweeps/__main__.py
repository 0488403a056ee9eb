"""Command line of the sweep analysis.

    python -m distill.sweeps fit-point --readout points/p000/readout.csv \\
        --params points/p000/params.json --max-segments 64 --out points/p000/fit.json
    python -m distill.sweeps aggregate --sweep-dir results/sweeps/NAME \\
        --segments 4 8 16 [--heatmap-only]

fit-point: distill one sweep point without failing the workflow on a non-saturating readout;
writes the point's fit JSON (status ok / poor fit / weakly saturated / not saturated / no rise
/ ...; see distill/sweeps/analysis.py). Exit status 0 whenever the JSON was written.

aggregate: reads ``points/*/fit.json`` and ``points/*/readout.csv``; writes ``table.csv``,
``ltp_curves.png``, ``fit_vs_parameter.png`` and ``schedules.png`` into the sweep directory
(``--heatmap-only``: only ``heatmap.png``, for two-parameter sweeps). Flagged points (not or
weakly saturated, no fit) are listed on stderr as warnings. Exit status 2 when the sweep
directory holds no points or a heat map is asked of a sweep without two parameters.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from . import analysis as sa
from . import plots as sp


def _fit_point(args: argparse.Namespace) -> int:
    params = json.loads(args.params.read_text())
    fit = sa.fit_point(args.readout, params, args.max_segments)
    sa.write_point(args.out, fit)
    line = f"{fit['condition']}: {fit['status']}"
    if fit["reason"]:
        line += f" ({fit['reason']})"
        print(f"warning: {line}", file=sys.stderr)
    print(line)
    return 0


def _aggregate(args: argparse.Namespace) -> int:
    points = args.sweep_dir / "points"
    if args.fits:  # the sweep's points as its config names them (the workflow's way)
        missing = [str(f) for f in args.fits if not f.is_file()]
        if missing:
            print(f"error: fit file(s) {missing} do not exist; run fit-point first",
                  file=sys.stderr)
            return 2
        point_dirs = sorted({f.parent for f in args.fits})
    else:  # by hand: every folder under points/ (also those a larger sweep left there)
        point_dirs = sorted(p for p in points.iterdir() if p.is_dir()) if points.is_dir() else []
    if not point_dirs:
        print(f"error: no points under {points}", file=sys.stderr)
        return 2
    fits, readouts = {}, {}
    for d in point_dirs:
        fits[d.name], readouts[d.name] = sa.load_point(d)
    params = list(fits[point_dirs[0].name]["values"])
    name = fits[point_dirs[0].name]["sweep"]
    if args.heatmap_only:
        if len(params) != 2:
            print(f"error: a heat map needs a two-parameter sweep, {name} has {params}",
                  file=sys.stderr)
            return 2
        table = sa.sweep_table([fits[k] for k in sorted(fits)], args.segments)
        sp.plot_heatmap(table, params, args.segments, args.sweep_dir / "heatmap.png",
                        title=f"sweep {name}")
        print(f"wrote {args.sweep_dir / 'heatmap.png'}")
        return 0
    table = sa.sweep_table([fits[k] for k in sorted(fits)], args.segments)
    sa.write_table(table, args.sweep_dir / "table.csv")
    sp.plot_ltp_curves(table, readouts, fits, params[0], args.sweep_dir / "ltp_curves.png",
                       title=f"sweep {name}: LTP readouts and fits")
    sp.plot_fit_vs_parameter(table, params[0], args.sweep_dir / "fit_vs_parameter.png",
                             title=f"sweep {name}")
    sp.plot_schedules(table, fits, params[0], args.segments, args.sweep_dir / "schedules.png",
                      title=f"sweep {name}: retention schedules")
    for _, row in table[table["status"] != "ok"].iterrows():
        print(f"warning: {name} {row['point']}: {row['status']}: {row['reason']}",
              file=sys.stderr)
    counts = table["status"].value_counts().to_dict()
    print(f"sweep {name}: {len(table)} points {counts}; wrote {args.sweep_dir / 'table.csv'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m distill.sweeps`."""
    parser = argparse.ArgumentParser(prog="python -m distill.sweeps", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rmaat')}")
    commands = parser.add_subparsers(dest="command", required=True)
    fp = commands.add_parser("fit-point", help="distill one sweep point into its fit JSON")
    fp.add_argument("--readout", required=True, type=Path, help="the point's readout.csv")
    fp.add_argument("--params", required=True, type=Path, help="the point's params.json")
    fp.add_argument("--max-segments", required=True, type=int,
                    help="longest schedule RF(t, T) to write (segments)")
    fp.add_argument("--out", required=True, type=Path, help="the point's fit.json to write")
    fp.set_defaults(run=_fit_point)
    ag = commands.add_parser("aggregate", help="a sweep's table.csv and plots")
    ag.add_argument("--sweep-dir", required=True, type=Path,
                    help="results/sweeps/NAME (holding points/*/fit.json and readout.csv)")
    ag.add_argument("--segments", type=int, nargs="+", default=[4, 8, 16],
                    help="segment counts T of the RF(t, T) columns and plots")
    ag.add_argument("--fits", type=Path, nargs="+", default=None, metavar="FIT_JSON",
                    help="the fit.json of every point to aggregate (the workflow passes the "
                    "sweep's points; default: every folder under SWEEP_DIR/points, including "
                    "points an earlier, larger sweep left there)")
    ag.add_argument("--heatmap-only", action="store_true",
                    help="only write heatmap.png (two-parameter sweeps) from the points")
    ag.set_defaults(run=_aggregate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
