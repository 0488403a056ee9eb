"""Figure: the retention-schedule family RF(t, T) of a finished sweep, coloured by parameter.

    python workflow/scripts/plot_schedule_family.py --sweep-dir results/sweeps/NAME \
        --T 4 16 64 --out family.png

Needs the sweep's ``points/*/fit.json`` (written by the workflow); points without a fit
(not saturated, no rise) are left out and named in the figure.
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
    parser.add_argument("--T", type=int, nargs="+", default=[4, 16, 64], dest="T")
    parser.add_argument("--parameter", help="colour by this parameter (default: the first)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    point_dirs = sorted(p for p in (args.sweep_dir / "points").iterdir() if p.is_dir())
    fits = {d.name: sa.load_point(d)[0] for d in point_dirs}
    table = sa.sweep_table([fits[k] for k in sorted(fits)], args.T)
    param = args.parameter or next(iter(fits[point_dirs[0].name]["values"]))
    sp.plot_schedules(table, fits, param, args.T, args.out,
                      title=f"sweep {args.sweep_dir.name}: retention-schedule family")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
