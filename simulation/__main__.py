"""Command line of the simulation stage.

    python -m simulation conditions --config config/config.yaml
    python -m simulation resolve --config config/config.yaml --condition baseline --out params.json
    python -m simulation run --config config/config.yaml --condition baseline --out-dir DIR
    python -m simulation run --params params.json --out-dir DIR
    python -m simulation plot --sim-dir DIR --out traces.png
    python -m simulation sweeps --config config/config.yaml [--sweep NAME]
    python -m simulation resolve-sweep --config config/config.yaml --sweep NAME --point p000 --out F
    python -m simulation sensitivity --config config/config.yaml [--condition C] [--out-dir DIR]
    python -m simulation build --params params.json --out build.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib.metadata import version
from pathlib import Path

from pipeline.config import (
    ConfigError,
    check_simulation,
    dump_resolved,
    load_config,
    resolve_condition,
)
from pipeline.io import atomic_write_json, atomic_write_text
from pipeline.parameters import run_parameters, with_target

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
        params = with_target(params, args.target)
    return params


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m simulation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('rmaat')}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("conditions", help="list the conditions of a config")
    p.add_argument("--config", default="config/config.yaml",
                   help="configuration YAML (default: %(default)s)")

    p = sub.add_parser("resolve", help="write the full parameters of one condition as JSON")
    p.add_argument("--config", default="config/config.yaml",
                   help="configuration YAML (default: %(default)s)")
    p.add_argument("--condition", required=True, help="condition name (see 'conditions')")
    p.add_argument("--out", required=True, help="JSON file to write")

    p = sub.add_parser("run", help="simulate one condition")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", default="config/config.yaml",
                   help="configuration YAML (default: %(default)s)")
    src.add_argument("--params", help="resolved parameter JSON (from 'resolve')")
    p.add_argument("--condition", help="condition to simulate (with --config)")
    p.add_argument("--out-dir", required=True,
                   help="writes traces.csv.gz, readout.csv and info.json here")
    p.add_argument("--target", choices=["numpy", "cython", "cpp_standalone"],
                   help="override the code-generation target of the config")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (there is none anyway when stderr is not a terminal)")

    p = sub.add_parser("sweeps", help="list the points of the config's sweeps")
    p.add_argument("--config", default="config/config.yaml",
                   help="configuration YAML (default: %(default)s)")
    p.add_argument("--sweep", help="only this sweep")

    p = sub.add_parser("resolve-sweep", help="write the full parameters of one sweep point")
    p.add_argument("--config", default="config/config.yaml",
                   help="configuration YAML (default: %(default)s)")
    p.add_argument("--sweep", required=True, help="sweep name (see 'sweeps')")
    p.add_argument("--point", required=True, help="point name, e.g. p000")
    p.add_argument("--out", required=True, help="JSON file to write")

    p = sub.add_parser("sensitivity", help="list the points of the sensitivity analysis "
                                           "(and write each parameter's plan JSON)")
    p.add_argument("--config", default="config/config.yaml",
                   help="configuration YAML (default: %(default)s)")
    p.add_argument("--condition", help="only this condition")
    p.add_argument("--out-dir", help="write DIR/{condition}/points/{parameter}.json, the plans "
                                     "python -m distill.sensitivity reads")

    p = sub.add_parser("build", help="compile the C++ standalone project of a tripartite "
                                     "parameter set (shared by every run of that structure)")
    p.add_argument("--params", required=True, help="resolved parameter JSON")
    p.add_argument("--out", required=True, help="JSON with the project directory and timing")

    p = sub.add_parser("plot", help="plot the traces of a simulated condition")
    p.add_argument("--sim-dir", required=True, help="output directory of 'run'")
    p.add_argument("--out", required=True, help="PNG file to write")

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
        atomic_write_text(args.out, dump_resolved(params) + "\n")
        return 0
    if args.command == "sweeps":
        from pipeline.sweeps import expand_sweep, sweep_names

        config = load_config(args.config)
        for name in [args.sweep] if args.sweep else sweep_names(config):
            if name not in config["sweeps"]:
                raise ConfigError(f"unknown sweep {name!r}; the config defines: "
                                  f"{', '.join(sweep_names(config))}")
            for point in expand_sweep(config, name):
                print(f"{name}\t{point['point']}\t{json.dumps(point['values'])}")
        return 0
    if args.command == "resolve-sweep":
        from pipeline.sweeps import resolve_sweep_point

        params = resolve_sweep_point(load_config(args.config), args.sweep, args.point)
        atomic_write_text(args.out, dump_resolved(params) + "\n")
        return 0
    if args.command == "sensitivity":
        return _sensitivity(args)
    if args.command == "build":
        return _build(args)
    if args.command == "run":
        from simulation import rate_model, tripartite
        from simulation.rate_model import SimulationDiverged

        params = _params_from_args(args)
        run = run_parameters(params)
        simulate = {"rate": rate_model.simulate, "tripartite": tripartite.simulate}[run.model]
        log.info("simulating condition %s (%s model) on target %s", run.condition, run.model,
                 run.target)
        try:
            result = simulate(params, progress=not args.no_progress and sys.stderr.isatty())
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
        from simulation.plots import title_values

        title = f"condition {info.get('condition', sim_dir.name)}"
        values = title_values(info.get("params") or {})
        extra = {}
        if info.get("model") == "tripartite":
            from simulation.tripartite_plots import c_theta_um
            from simulation.tripartite_plots import plot_tripartite_traces as plot_traces

            extra["c_theta_um"] = c_theta_um(info.get("params"))
        plot_traces(pd.read_csv(sim_dir / "traces.csv.gz"), pd.read_csv(sim_dir / "readout.csv"),
                    args.out, title=f"{title}: {values}" if values else title, **extra)
        return 0
    raise AssertionError(args.command)


def _sensitivity(args: argparse.Namespace) -> int:
    """Print (and optionally write) the plan of the sensitivity analysis."""
    from pipeline import sensitivity

    config = load_config(args.config)
    if not sensitivity.enabled(config):
        raise ConfigError(f"{args.config} has no 'sensitivity' block; add 'sensitivity: {{}}' "
                          f"for the defaults")
    conditions = sensitivity.sensitivity_conditions(config)
    if args.condition is not None:
        if args.condition not in conditions:
            raise ConfigError(f"condition {args.condition!r} is not analysed; analysed: "
                              f"{', '.join(conditions)}")
        conditions = [args.condition]
    for condition in conditions:
        for parameter in sensitivity.condition_parameters(config, condition):
            plan = sensitivity.perturbation(config, condition, parameter)
            for side, point in plan["points"].items():
                state = "ok" if point["valid"] else f"invalid: {point['reason']}"
                print(f"{condition}\t{parameter}\t{side}\t{point['value']}\t{state}")
            if args.out_dir:
                atomic_write_text(Path(args.out_dir) / condition / "points" / f"{parameter}.json",
                                  dump_resolved(plan) + "\n")
    return 0


def _build(args: argparse.Namespace) -> int:
    """Compile (or find) the standalone project of a tripartite parameter set."""
    import time

    from simulation import standalone, tripartite

    params = _params_from_args(argparse.Namespace(params=args.params, target=None))
    run = run_parameters(params)
    if run.model != "tripartite":
        raise ConfigError(f"{args.params}: 'build' applies to the tripartite model only (the "
                          f"rate model compiles into the Cython cache as it runs)")
    target = standalone.available_target(run.target)
    start = time.perf_counter()
    directory, compile_s, built = (standalone.ensure_project(params, tripartite)
                                   if target == "cpp_standalone" else (None, 0.0, False))
    report = {"target": target, "project": str(directory) if directory else None,
              "structure": tripartite.structure(params), "compiled_here": built,
              "compile_s": compile_s, "wall_s": time.perf_counter() - start}
    atomic_write_json(args.out, report)
    log.info("project %s (%s): %.1f s", directory, "built" if built else "reused", compile_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
