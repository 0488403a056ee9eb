"""Command line of the simulation stage.

    python -m simulation conditions --config config/config.yaml
    python -m simulation resolve --config config/config.yaml --condition baseline --out params.json
    python -m simulation run --config config/config.yaml --condition baseline --out-dir DIR
    python -m simulation run --params params.json --out-dir DIR
    python -m simulation plot --sim-dir DIR --out traces.png
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from simulation.config import (
    ConfigError,
    check_simulation,
    dump_resolved,
    load_config,
    resolve_condition,
)
from simulation.result import atomic_write

log = logging.getLogger("simulation")


def _params_from_args(args: argparse.Namespace) -> dict:
    if args.params is not None:
        path = Path(args.params)
        if not path.is_file():
            raise ConfigError(f"parameter file {path} does not exist; write it with "
                              f"'python -m simulation resolve'")
        try:
            params = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ConfigError(f"parameter file {path} is not valid JSON: {err}") from err
        check_simulation(params, prefix=f"{path}")
    else:
        if args.condition is None:
            raise ConfigError("give --condition NAME together with --config")
        params = resolve_condition(load_config(args.config), args.condition)
    if getattr(args, "target", None):
        params["target"] = args.target
    return params


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m simulation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("conditions", help="list the conditions of a config")
    p.add_argument("--config", default="config/config.yaml")

    p = sub.add_parser("resolve", help="write the full parameters of one condition as JSON")
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--condition", required=True)
    p.add_argument("--out", required=True)

    p = sub.add_parser("run", help="simulate one condition")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", default="config/config.yaml")
    src.add_argument("--params", help="resolved parameter JSON (from 'resolve')")
    p.add_argument("--condition")
    p.add_argument("--out-dir", required=True,
                   help="writes traces.csv.gz, readout.csv and info.json here")
    p.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"],
                   help="override the code-generation target of the config")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("plot", help="plot the traces of a simulated condition")
    p.add_argument("--sim-dir", required=True, help="output directory of 'run'")
    p.add_argument("--out", required=True)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return _dispatch(args)
    except (ConfigError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "conditions":
        config = load_config(args.config)
        for name, spec in config["conditions"].items():
            print(f"{name}\t{(spec or {}).get('description', '')}")
        return 0
    if args.command == "resolve":
        params = resolve_condition(load_config(args.config), args.condition)
        atomic_write(args.out, lambda p: Path(p).write_text(dump_resolved(params) + "\n"))
        return 0
    if args.command == "run":
        from simulation.rate_model import SimulationDiverged, simulate

        params = _params_from_args(args)
        log.info("simulating condition %s on target %s", params["condition"], params["target"])
        try:
            result = simulate(params, progress=not args.no_progress)
        except SimulationDiverged as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        out = Path(args.out_dir)
        result.info["params"] = params
        result.write(out / "traces.csv.gz", out / "readout.csv", out / "info.json")
        log.info("wrote %s (%.2f s wall for %.0f s of biological time)", out,
                 result.info["wall_time_s"], result.info["biological_time_s"])
        return 0
    if args.command == "plot":
        import pandas as pd

        from simulation.plots import plot_traces

        sim_dir = Path(args.sim_dir)
        for name in ("traces.csv.gz", "readout.csv"):
            if not (sim_dir / name).is_file():
                raise FileNotFoundError(f"{sim_dir / name} is missing; run "
                                        f"'python -m simulation run --out-dir {sim_dir}' first")
        info = json.loads((sim_dir / "info.json").read_text()) if (
            sim_dir / "info.json").is_file() else {}
        title = f"condition {info.get('condition', sim_dir.name)}"
        desc = info.get("params", {}).get("description")
        plot_traces(pd.read_csv(sim_dir / "traces.csv.gz"), pd.read_csv(sim_dir / "readout.csv"),
                    args.out, title=f"{title}: {desc}" if desc else title)
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
