"""Parameter sweeps: expand a config's ``sweeps`` section into resolved parameter sets.

A sweep names a model, optionally a base condition, and one or two parameters, each given
as a list of ``values`` or a ``range`` ``{start, stop, num, scale: linear|log}``. Parameters
are dotted paths into the resolved parameters of the base (``tripartite.synapse.O_G``,
``tripartite.protocol.rate``, ``constants.tau_pl``, ``nonlinearities.psi.gain``); any numeric
or quantity leaf is allowed. Two parameters give the full grid. Points are named ``p000``,
``p001``, ... in order (the second parameter varies fastest).

Everything is checked by :func:`check_sweeps` when the config is loaded, before any job runs:
unknown parameter (the message lists the allowed ones), empty list or range, values whose
unit does not match the parameter, duplicates, and every point's parameters.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

import numpy as np

from pipeline.errors import ConfigError
from pipeline.parameters import check_simulation, run_parameters
from pipeline.resolve import resolve_condition, resolve_parameters
from pipeline.units import ANY, parse_quantity, unit_text

#: Leaves that are bookkeeping, not biology: never swept.
NOT_SWEPT = {"seed", "divergence_threshold", "cache_dir", "condition", "description", "model",
             "target"}
_STARTS_NUMERIC = re.compile(r"^\s*[-+]?(\d|\.\d)")


def sweep_names(config: dict[str, Any]) -> list[str]:
    """Sweep names in config order."""
    return list(config.get("sweeps", {}))


def sweep_model(config: dict[str, Any], name: str) -> str:
    """The model a sweep runs (explicit, else that of its base condition, else the default)."""
    sweep = config["sweeps"][name]
    if "model" in sweep:
        return sweep["model"]
    if sweep.get("condition") in config["conditions"]:
        return (config["conditions"][sweep["condition"]] or {}).get(
            "model", config["simulation"]["model"])
    return config["simulation"]["model"]


def base_parameters(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Resolved parameters of a sweep's base (its condition, or the model's defaults)."""
    sweep = config["sweeps"][name]
    where = f"sweeps.{name}"
    model = sweep_model(config, name)
    if "condition" in sweep:
        if sweep["condition"] not in config["conditions"]:
            raise ConfigError(f"config key '{where}.condition': unknown condition "
                              f"{sweep['condition']!r}; the config defines: "
                              f"{', '.join(sorted(config['conditions']))}")
        base = resolve_condition(config, sweep["condition"])
        if base["model"] != model:
            raise ConfigError(f"config key '{where}.model': {model!r}, but its base condition "
                              f"{sweep['condition']!r} uses the {base['model']!r} model")
    else:
        base = resolve_parameters(config, name, {"model": model})
    return base


def allowed_parameters(base: dict[str, Any]) -> list[str]:
    """Dotted paths of every numeric or quantity leaf of resolved parameters."""
    out = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in NOT_SWEPT:
                    walk(value, [*path, key])
        elif (isinstance(node, int | float) and not isinstance(node, bool)) or (
                isinstance(node, str) and _STARTS_NUMERIC.match(node)):
            out.append(".".join(path))

    walk(base, [])
    return sorted(out)


def get_param(params: dict[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (e.g. ``constants.tau_pl``) of nested ``params``."""
    node = params
    for key in path.split("."):
        node = node[key]
    return node


def set_param(params: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted ``path`` of nested ``params`` (in place; parents exist)."""
    *parents, leaf = path.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = value


def parameter_values(spec: dict[str, Any], base_value: Any, where: str) -> list[Any]:
    """The values of one swept parameter, in the form of ``base_value`` (number or quantity
    string with the unit of the first given value). Raises :class:`ConfigError`."""
    name = spec["name"]
    if ("values" in spec) == ("range" in spec):
        raise ConfigError(f"config key '{where}': give either 'values' or 'range' for "
                          f"parameter {name!r}")
    quantity = isinstance(base_value, str)
    integer = isinstance(base_value, int) and not isinstance(base_value, bool)

    def parse(value: Any, key: str):
        if quantity != isinstance(value, str):
            kind = "a quantity with a unit like the base value " if quantity else "a plain number"
            raise ConfigError(f"config key '{key}': {value!r} must be {kind}"
                              f"{repr(base_value) if quantity else ''} for {name!r}")
        if not quantity:
            return float(value), None
        try:
            q, base_q = parse_quantity(value, ANY, key), parse_quantity(base_value, ANY, key)
        except ValueError as err:
            raise ConfigError(str(err)) from err
        if q.dim is not base_q.dim:
            raise ConfigError(f"config key '{key}': {value!r} does not have the dimension of "
                              f"{name!r} (base value {base_value!r})")
        return float(q), value

    if "values" in spec:
        if not spec["values"]:
            raise ConfigError(f"config key '{where}.values': empty list of values for {name!r}")
        parsed = [parse(v, f"{where}.values") for v in spec["values"]]
        numbers = [p[0] for p in parsed]
        texts = [p[1] for p in parsed]
    else:
        rng = spec["range"]
        start, start_text = parse(rng["start"], f"{where}.range.start")
        stop, _ = parse(rng["stop"], f"{where}.range.stop")
        num = int(rng["num"])
        if num < 1:
            raise ConfigError(f"config key '{where}.range.num': empty range ({num} values) for "
                              f"{name!r}; use num >= 1")
        if num > 1 and start == stop:
            raise ConfigError(f"config key '{where}.range': empty range for {name!r}: start "
                              f"equals stop ({rng['start']!r}) with num = {num}")
        if rng.get("scale", "linear") == "log":
            if start <= 0 or stop <= 0:
                raise ConfigError(f"config key '{where}.range': a log range needs positive "
                                  f"start and stop for {name!r}")
            numbers = list(np.geomspace(start, stop, num))
        else:
            numbers = list(np.linspace(start, stop, num))
        texts = [start_text] * num
    values: list[Any] = []
    for number, text in zip(numbers, texts, strict=True):
        if quantity:
            unit_q = parse_quantity(f"1 {unit_text(text)}", ANY, where)
            values.append(f"{number / float(unit_q):.6g} {unit_text(text)}".strip())
        elif integer:
            values.append(int(round(number)))
        else:
            values.append(float(f"{number:.12g}"))
    if len(set(map(str, values))) != len(values):
        raise ConfigError(f"config key '{where}': values of {name!r} repeat after rounding "
                          f"({values}); give distinct values")
    return values


def expand_sweep(config: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The points of one sweep: ``[{"point": "p000", "values": {param: value}}, ...]``."""
    sweep = config["sweeps"][name]
    base = base_parameters(config, name)
    allowed = allowed_parameters(base)
    axes = []
    for k, spec in enumerate(sweep["parameters"]):
        where = f"sweeps.{name}.parameters.{k}"
        if spec["name"] not in allowed:
            raise ConfigError(f"config key '{where}.name': unknown parameter {spec['name']!r} "
                              f"for the {base['model']} model; allowed parameters: "
                              f"{', '.join(allowed)}")
        axes.append(parameter_values(spec, get_param(base, spec["name"]), where))
    names = [spec["name"] for spec in sweep["parameters"]]
    if len(set(names)) != len(names):
        raise ConfigError(f"config key 'sweeps.{name}.parameters': {names[0]!r} is swept twice")
    return [{"point": f"p{k:03d}", "values": dict(zip(names, combo, strict=True))}
            for k, combo in enumerate(itertools.product(*axes))]


def resolve_sweep_point(config: dict[str, Any], name: str, point: str,
                        points: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Resolved parameters of one sweep point (condition name ``<sweep>-<point>``).

    ``points`` (from :func:`expand_sweep`) saves expanding the sweep again.
    """
    points_by_name = {p["point"]: p for p in (points or expand_sweep(config, name))}
    if point not in points_by_name:
        raise ConfigError(f"sweep {name!r} has no point {point!r}")
    params = copy.deepcopy(base_parameters(config, name))
    for path, value in points_by_name[point]["values"].items():
        set_param(params, path, value)
    params["condition"] = f"{name}-{point}"
    params["description"] = config["sweeps"][name].get("description", "")
    params["sweep"] = {"name": name, "point": point, "values": points_by_name[point]["values"]}
    return params


def check_sweeps(config: dict[str, Any]) -> None:
    """Expand every sweep and check every point's parameters; raises :class:`ConfigError`."""
    for name in sweep_names(config):
        points = expand_sweep(config, name)
        for point in points:
            params = resolve_sweep_point(config, name, point["point"], points)
            check_simulation(params, prefix=f"sweeps.{name} (point {point['point']}: "
                                            f"{point['values']})")


def sweep_uses_standalone(config: dict[str, Any], name: str) -> bool:
    """Whether a sweep's points run one shared C++ standalone binary (a build job first)."""
    run = run_parameters(base_parameters(config, name))
    return run.model == "tripartite" and run.target == "cpp_standalone"


def sweep_targets(config: dict[str, Any]) -> list[str]:
    """Final files of every sweep: its table (and plots) and, for two parameters, heat maps."""
    targets = []
    for name in sweep_names(config):
        targets.append(f"results/sweeps/{name}/table.csv")
        if len(config["sweeps"][name]["parameters"]) == 2:
            targets.append(f"results/sweeps/{name}/heatmap.png")
    return targets
