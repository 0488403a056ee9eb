"""Aggregate a sweep: table.csv and plots from its points' fit JSONs and readouts.

    python workflow/scripts/sweep_aggregate.py --sweep-dir results/sweeps/NAME \
        --segments 4 8 16 [--heatmap]

Reads ``points/*/fit.json`` and ``points/*/readout.csv``; writes ``table.csv``,
``ltp_curves.png``, ``fit_vs_parameter.png`` and ``schedules.png`` into the sweep directory
(``--heatmap-only``: only ``heatmap.png``, for two-parameter sweeps). Flagged points (not or
weakly saturated, no fit) are listed on stderr as warnings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sweep_analysis as sa  # noqa: E402
import sweep_plots as sp  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep-dir", required=True, type=Path)
    parser.add_argument("--segments", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--heatmap-only", action="store_true",
                        help="only write heatmap.png (two-parameter sweeps) from table.csv")
    args = parser.parse_args(argv)
    point_dirs = sorted(p for p in (args.sweep_dir / "points").iterdir() if p.is_dir())
    if not point_dirs:
        print(f"error: no points under {args.sweep_dir / 'points'}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
