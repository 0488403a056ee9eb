"""Distill one sweep point without failing the workflow on a non-saturating readout.

    python workflow/scripts/sweep_fit_point.py --readout points/p000/readout.csv \
        --params points/p000/params.json --max-segments 64 --out points/p000/fit.json

Writes the point's fit JSON (status ok / weakly saturated / not saturated / no rise / ...);
see sweep_analysis.py. Exit status 0 whenever the JSON was written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sweep_analysis import fit_point, write_point  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readout", required=True, type=Path)
    parser.add_argument("--params", required=True, type=Path, help="the point's params.json")
    parser.add_argument("--max-segments", required=True, type=int)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    params = json.loads(args.params.read_text())
    fit = fit_point(args.readout, params, args.max_segments)
    write_point(args.out, fit)
    line = f"{fit['condition']}: {fit['status']}"
    if fit["reason"]:
        line += f" ({fit['reason']})"
        print(f"warning: {line}", file=sys.stderr)
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
