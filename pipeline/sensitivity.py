"""The sensitivity analysis plan: which biological parameters of which conditions are moved up
and down, and the parameters of every such point (docs/design.md §2.4).

The config's ``sensitivity`` block (absent: no analysis) names the conditions (default every
condition), the parameters (default every numeric biological parameter of each condition's
model, :func:`biological_parameters`), the relative step (default 0.2, i.e. ±20 %; a
parameter may have its own in ``steps``), the numbers of segments T whose schedules RF(·, T)
are compared (default the primary training task's, :func:`sensitivity_segments`) and the
threshold on the schedule elasticity that separates parameters that move the schedule from
those that do not.

For every (condition, parameter) :func:`perturbation` gives two points, ``minus`` (value ·
(1 − step)) and ``plus`` (value · (1 + step)), each either with its full resolved parameters or
marked invalid with the reason (a zero base value, a schema bound such as a fraction above 1,
or a semantic check such as on_time >= period); an invalid point is reported, never run. The
points reuse the sweep machinery (:mod:`pipeline.sweeps`): the same parameter paths, value
formatting and resolved-parameter layout, so the same compiled code serves them (Cython cache
for the rate model, one C++ standalone project per structure for the tripartite model).

Everything here is plain JSON; :func:`check_sensitivity` runs when the config is loaded.
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from pipeline.errors import ConfigError
from pipeline.parameters import check_simulation
from pipeline.resolve import resolve_condition
from pipeline.sweeps import allowed_parameters, get_param, set_param
from pipeline.units import ANY, parse_quantity, unit_text

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
#: Numeric leaves that are not biology, by the end of their path, with the reason they are
#: never perturbed (the analysis asks which biology moves the schedule, not which numerics).
EXCLUDED = {
    "dt": "integration time step: a numerical setting (the answer must not depend on it)",
    "record_dt": "trace sampling interval: output only, never enters the readout",
    "protocol.n_cycles": "number of simulated cycles: the measurement window of the fit, "
                         "not biology",
    "protocol.rest_cycles": "cycles without input after the stimulation: traces only, not "
                            "fitted",
    "network.n_pre": "a count of neurons: an integer, ±20 % of 3 is not a network",
    "network.n_post": "a count of neurons: an integer, ±20 % of 3 is not a network",
    "n_pairs": "number of independent synapse-astrocyte pairs averaged: sets the noise of "
               "the mean, not its biology",
    "n_recorded": "pairs whose traces are written: output only",
}
#: Sides of a perturbation and the sign of their step.
SIDES = {"minus": -1.0, "plus": +1.0}


def _excluded_reason(path: str) -> str | None:
    for key, reason in EXCLUDED.items():
        if path == key or path.endswith(f".{key}"):
            return reason
    return None


def biological_parameters(base: dict[str, Any]) -> list[str]:
    """Dotted paths of every numeric biological parameter of resolved parameters ``base``:
    the sweepable leaves (:func:`pipeline.sweeps.allowed_parameters`) minus :data:`EXCLUDED`.

    Rate model: ``constants.*``, ``nonlinearities.<f>.gain|threshold``,
    ``network.synapse_spacing`` and ``protocol.{period, on_time, drive, drive_jitter}``;
    tripartite model: ``tripartite.protocol.{rate, period, on_time}``,
    ``tripartite.synapse.*`` and ``tripartite.astrocyte.*``.
    """
    return [p for p in allowed_parameters(base) if _excluded_reason(p) is None]


def excluded_parameters(base: dict[str, Any]) -> dict[str, str]:
    """``{path: reason}`` of the numeric leaves of ``base`` that are never perturbed."""
    return {p: _excluded_reason(p) for p in allowed_parameters(base)
            if _excluded_reason(p) is not None}


def enabled(config: dict[str, Any]) -> bool:
    """Whether the config asks for the analysis (a ``sensitivity`` block is present)."""
    return config.get("sensitivity") is not None


def sensitivity_conditions(config: dict[str, Any]) -> list[str]:
    """Conditions analysed, in config order (none without a ``sensitivity`` block): the
    listed ones, else every condition with at least one parameter to perturb."""
    if not enabled(config):
        return []
    chosen = config["sensitivity"].get("conditions")
    if chosen is not None:
        return list(chosen)
    return [c for c in config["conditions"] if condition_parameters(config, c)]


def condition_parameters(config: dict[str, Any], condition: str) -> list[str]:
    """The parameters perturbed in ``condition``: the configured list restricted to its
    model's biological parameters, or all of them (in path order)."""
    available = biological_parameters(resolve_condition(config, condition))
    chosen = config["sensitivity"].get("parameters")
    return available if chosen is None else [p for p in chosen if p in available]


def parameter_step(config: dict[str, Any], parameter: str) -> float:
    """Relative step of ``parameter`` (its own in ``steps``, else ``step``)."""
    block = config["sensitivity"]
    return float((block.get("steps") or {}).get(parameter, block["step"]))


def _primary_task_segments(config: dict[str, Any]) -> tuple[int, str] | None:
    """(T, where from) of the first task of ``experiment.tasks``: ceil(seq_len /
    segment_len), the T the training plan gives an rmaat model of that task; None when the
    config does not say both lengths."""
    experiment = config.get("experiment") or {}
    tasks = experiment.get("tasks") or {}
    if not tasks:
        return None
    name, task = next(iter(tasks.items()))
    seq_len = task.get("seq_len")
    segment_len = (task.get("segment_len") or (task.get("model") or {}).get("segment_len")
                   or (experiment.get("model") or {}).get("segment_len"))
    if not seq_len or not segment_len:
        return None
    return math.ceil(seq_len / segment_len), f"experiment.tasks.{name}"


def sensitivity_segments(config: dict[str, Any]) -> list[int]:
    """The numbers of segments T whose schedules RF(·, T) the analysis compares.

    ``sensitivity.segments`` when given; else the T of the primary training task (the first
    task of ``experiment.tasks``: ceil(seq_len / segment_len), 8 in the default config); else
    ``retention.compare_segments``.
    """
    block = config["sensitivity"]
    if block.get("segments"):
        return [int(t) for t in block["segments"]]
    primary = _primary_task_segments(config)
    return [primary[0]] if primary else [int(config["retention"]["compare_segments"])]


# --- the points --------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    """The config schema (the file :func:`pipeline.config.load_schema` reads), read once per
    process and treated as read-only."""
    with open(SCHEMA_PATH) as f:
        return yaml.safe_load(f)


def _leaf_schema(schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The schema of one resolved parameter (e.g. ``constants.tau_pl`` of the rate model,
    ``tripartite.synapse.alpha``), ``$ref`` resolved; None if the schema does not describe it."""
    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = schema
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    node = resolve(schema["properties"]["simulation"])
    for key in path.split("."):
        node = resolve(node)
        props = node.get("properties") or {}
        if key not in props:
            return None
        node = props[key]
    return resolve(node)


def _schema_error(value: Any, leaf: dict[str, Any] | None, key: str) -> str | None:
    if leaf is None:
        return None
    error = next(iter(Draft202012Validator(leaf).iter_errors(value)), None)
    return None if error is None else f"config key '{key}': {error.message}"


def _number(value: Any, key: str) -> float:
    return float(parse_quantity(value, ANY, key)) if isinstance(value, str) else float(value)


def _format(number: float, base_value: Any, key: str) -> Any:
    """``number`` (SI) in the form of ``base_value``: a quantity string in its unit, or a
    float (integers too: zeta = 10 becomes 12.0, a constant, not a count)."""
    if isinstance(base_value, str):
        unit = unit_text(base_value)
        scale = float(parse_quantity(f"1 {unit}", ANY, key)) if unit else 1.0
        return f"{number / scale:.6g} {unit}".strip()
    return float(f"{number:.12g}")


def perturbation(config: dict[str, Any], condition: str, parameter: str) -> dict[str, Any]:
    """The two points of one parameter of one condition, as plain JSON::

        {"condition", "parameter", "model", "base_value", "step",
         "points": {"minus": {"value", "valid", "reason", "params"},
                    "plus":  {...}}}

    ``value`` is base · (1 ∓ step) in the base value's unit; ``params`` the point's full
    resolved parameters (null when ``valid`` is false, with the ``reason``). A point is
    invalid when the base value is 0 (a relative step is undefined), when the value breaks
    the schema's bound for that key, or when the point's parameters fail the semantic checks
    (:func:`pipeline.parameters.check_simulation`).
    """
    base = resolve_condition(config, condition)
    key = f"conditions.{condition}.{parameter}"
    base_value = get_param(base, parameter)
    step = parameter_step(config, parameter)
    x0 = _number(base_value, key)
    leaf = _leaf_schema(_schema(), parameter)
    points = {}
    for side, sign in SIDES.items():
        entry: dict[str, Any] = {"value": None, "valid": False, "reason": None, "params": None}
        if x0 == 0:
            entry["reason"] = (f"base value {base_value!r} is 0: a relative step is undefined "
                               "(perturb it with a sweep instead)")
            points[side] = entry
            continue
        value = _format(x0 * (1 + sign * step), base_value, key)
        entry["value"] = value
        reason = _schema_error(value, leaf, key)
        params = copy.deepcopy(base)
        set_param(params, parameter, value)
        params["condition"] = f"{condition}.{parameter}.{side}"
        params["sensitivity"] = {"condition": condition, "parameter": parameter, "side": side,
                                 "value": value}
        if reason is None:
            try:
                check_simulation(params, prefix=f"sensitivity.{condition}[{side}]")
            except ConfigError as err:
                reason = str(err)
        if reason is None:
            entry.update(valid=True, params=params)
        else:
            entry["reason"] = reason
        points[side] = entry
    return {"condition": condition, "parameter": parameter, "model": base["model"],
            "base_value": base_value, "step": step, "points": points}


def check_sensitivity(config: dict[str, Any]) -> None:
    """Check the ``sensitivity`` block against the config; raises :class:`ConfigError`.

    Conditions must exist; every named parameter must be a biological parameter of at least
    one analysed condition's model (the message lists them, and the excluded numeric keys with
    the reason); ``steps`` may only name analysed parameters; every T at most
    ``retention.max_segments``. Invalid *points* (e.g. a fraction pushed above 1) are not
    config errors: the analysis reports them.
    """
    if not enabled(config):
        return
    block = config["sensitivity"]
    conditions = sensitivity_conditions(config)
    unknown = [c for c in conditions if c not in config["conditions"]]
    if unknown:
        raise ConfigError(f"config key 'sensitivity.conditions': unknown condition(s) "
                          f"{unknown}; the config defines: {', '.join(config['conditions'])}")
    available: set[str] = set()
    excluded: dict[str, str] = {}
    for condition in conditions or config["conditions"]:
        base = resolve_condition(config, condition)
        available |= set(biological_parameters(base))
        excluded.update(excluded_parameters(base))
    for name in block.get("parameters") or []:
        if name in available:
            continue
        if name in excluded:
            raise ConfigError(f"config key 'sensitivity.parameters': {name!r} is not perturbed: "
                              f"{excluded[name]}")
        raise ConfigError(f"config key 'sensitivity.parameters': unknown parameter {name!r} "
                          f"for the models of {conditions}; biological parameters: "
                          f"{', '.join(sorted(available))}")
    for condition in block.get("conditions") or []:
        if not condition_parameters(config, condition):
            raise ConfigError(f"config key 'sensitivity.conditions': condition {condition!r} "
                              f"has none of the listed parameters (its model: "
                              f"{resolve_condition(config, condition)['model']})")
    analysed = set(block.get("parameters") or available)
    for name in block.get("steps") or {}:
        if name not in analysed:
            raise ConfigError(f"config key 'sensitivity.steps': {name!r} is not an analysed "
                              f"parameter; analysed: {', '.join(sorted(analysed))}")
    most = config["retention"]["max_segments"]
    for t in sensitivity_segments(config):
        if t > most:
            raise ConfigError(f"config key 'sensitivity.segments': T = {t} segments, but "
                              f"schedules are written only for T = 1..{most} "
                              f"(retention.max_segments); set sensitivity.segments or raise "
                              f"max_segments")
        if t < 2:
            raise ConfigError(f"config key 'sensitivity.segments': T = {t}; a schedule of one "
                              "segment is always [1] (use T >= 2)")


def sensitivity_targets(config: dict[str, Any]) -> list[str]:
    """Final files of the analysis: per condition its table and tornado plot."""
    return [f"results/sensitivity/{c}.{ext}" for c in sensitivity_conditions(config)
            for ext in ("csv", "png")]
