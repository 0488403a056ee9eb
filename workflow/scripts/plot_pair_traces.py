"""Figure: Γ_S, calcium and gliotransmitter traces of one synapse–astrocyte pair.

Like the figures of the Brian2 neuron–glia examples (Stimberg et al. 2019, Figs. 3–4).
From a finished simulation directory, or simulating a configured tripartite condition first:

    python workflow/scripts/plot_pair_traces.py --sim-dir results/simulation/tripartite \
        --pair pair1 --out pair1.png
    python workflow/scripts/plot_pair_traces.py --config config/config.yaml \
        --condition tripartite --out pair0.png [--target numpy]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--sim-dir", type=Path, help="output directory of 'python -m simulation run'")
    src.add_argument("--config", type=Path, help="simulate --condition of this config first")
    parser.add_argument("--condition")
    parser.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"])
    parser.add_argument("--pair", help="recorded pair, e.g. pair0 (default: the first)")
    parser.add_argument("--zoom-cycles", type=int, default=5)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)

    from simulation.__main__ import main as simulation_main
    from simulation.tripartite_plots import c_theta_um, plot_tripartite_traces

    sim_dir = args.sim_dir
    if sim_dir is None:
        if not args.condition:
            parser.error("--config needs --condition")
        sim_dir = Path(tempfile.mkdtemp(prefix="pair_traces_"))
        run = ["run", "--config", str(args.config), "--condition", args.condition,
               "--out-dir", str(sim_dir), "--no-progress"]
        if args.target:
            run += ["--target", args.target]
        if simulation_main(run) != 0:
            return 1
    info = json.loads((sim_dir / "info.json").read_text())
    if info.get("model") != "tripartite":
        print(f"error: {sim_dir} holds a {info.get('model', 'rate')}-model simulation; this "
              f"figure needs a tripartite one", file=sys.stderr)
        return 2
    plot_tripartite_traces(pd.read_csv(sim_dir / "traces.csv.gz"),
                           pd.read_csv(sim_dir / "readout.csv"), args.out,
                           title=f"condition {info['condition']}", pair=args.pair,
                           zoom_cycles=args.zoom_cycles, c_theta_um=c_theta_um(info["params"]))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
