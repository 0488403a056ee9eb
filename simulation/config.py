"""Load, validate and resolve the pipeline configuration (``config/config.yaml``).

Validation happens in two passes, both before anything runs:

1. the JSON schema ``workflow/schemas/config.schema.yaml`` (types, ranges, unknown keys),
2. semantic checks that a schema cannot express: units and signs of physical quantities,
   the time step against the cycle, condition names.

Every error is a :class:`ConfigError` whose message names the offending key.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from simulation.units import parse_quantity

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"

#: Keys of ``constants`` holding times (must be positive) and lengths.
TIME_CONSTANTS = ("tau_n", "tau_s", "tau_ps", "tau_pl")
LENGTH_CONSTANTS = ("coupling_length",)


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


def load_schema() -> dict[str, Any]:
    """The JSON schema of the configuration, as a dict."""
    with open(SCHEMA_PATH) as f:
        return yaml.safe_load(f)


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file, validate it and fill in defaults.

    Raises :class:`ConfigError` for a missing or unreadable file and for any invalid value.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; copy config/config.yaml and edit it")
    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    return validate_config(config)


def _key_path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _format_schema_error(error) -> str:
    key = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = f"under '{key}'" if error.absolute_path else "at the top level"
        return f"unknown config key(s) {extra} {where}; allowed keys: {allowed}"
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"config key '{key}': {error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    if error.validator == "pattern" and error.schema_path and "propertyNames" in error.schema_path:
        return (
            f"config key '{key}': name {error.instance!r} is not allowed; condition names start "
            f"with a letter and use letters, digits, '_' and '-'"
        )
    return f"config key '{key}': {error.message}"


def _resolve_ref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"].removeprefix("#/").split("/")
        target: Any = root
        for part in ref:
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _fill_defaults(instance: dict[str, Any], schema: dict[str, Any], root: dict[str, Any]) -> None:
    """Insert schema defaults for missing keys, recursively (in place)."""
    schema = _resolve_ref(schema, root)
    for key, sub in schema.get("properties", {}).items():
        sub = _resolve_ref(sub, root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key not in instance and sub.get("type") == "object" and "properties" in sub:
            instance[key] = {}
        if isinstance(instance.get(key), dict):
            _fill_defaults(instance[key], sub, root)


def validate_config(config: Any) -> dict[str, Any]:
    """Validate a config dict and return a copy with defaults filled in.

    Condition overrides are validated but not filled: a condition inherits every value it
    does not set from ``simulation``.
    """
    if not isinstance(config, dict):
        raise ConfigError("the config must be a mapping of keys to values (got an empty file?)")
    schema = load_schema()
    error = best_match(Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(_format_schema_error(error))
    config = copy.deepcopy(config)
    compare_given = "compare_segments" in (config.get("retention") or {})
    for key in ("seed", "simulation", "retention", "sweeps"):
        _fill_defaults(config, {"properties": {key: schema["properties"][key]}}, schema)
    if not compare_given:  # the default 16 never exceeds a smaller max_segments
        retention = config["retention"]
        retention["compare_segments"] = min(retention["compare_segments"],
                                            retention["max_segments"])
    check_simulation({**config["simulation"], "model": "rate"}, prefix="simulation")
    check_simulation({"model": "tripartite", "tripartite": config["simulation"]["tripartite"]},
                     prefix="simulation")
    for name in config["conditions"]:
        config["conditions"][name] = config["conditions"][name] or {}
        check_simulation(resolve_condition(config, name), prefix=f"conditions.{name}")
    check_segments(config)
    check_paths(config)
    from simulation.sweeps import check_sweeps  # imports this module

    check_sweeps(config)
    return config


def inside_project(path: str, project: str | Path | None = None) -> bool:
    """True when ``path`` lies inside ``project`` (default: the working directory, where
    the pipeline writes ``results/``; relative paths are taken from there).

    Purely lexical (``..`` is resolved, links are not followed), so a ``data`` folder that
    is a link to another disk still counts as inside.
    """
    root = os.path.normpath(os.path.abspath(project if project is not None else os.getcwd()))
    full = os.path.normpath(os.path.join(root, os.path.expanduser(path)))
    return full == root or full.startswith(root + os.sep)


def check_paths(config: dict[str, Any]) -> None:
    """Folders the pipeline writes must lie inside the project (the working directory).

    Only a data root read as files (``experiment.tasks.<task>.root`` with ``source:
    files``) may lie anywhere: it is only read (a read-only system folder works).
    """
    written = [("simulation.cache_dir", config["simulation"]["cache_dir"])]
    for task, spec in ((config.get("experiment") or {}).get("tasks") or {}).items():
        if spec.get("source") == "generate":
            written.append((f"experiment.tasks.{task}.root", spec["root"]))
    for key, value in written:
        if not inside_project(value):
            raise ConfigError(
                f"config key '{key}': {value!r} lies outside the project ({os.getcwd()}), "
                f"and the pipeline writes there; use a path inside it (a link such as "
                f"data -> /scratch/data is fine). Only the root of a 'source: files' task may "
                f"lie outside")


def check_segments(config: dict[str, Any]) -> None:
    """Segment counts that plots ask for must lie within the schedules distill writes."""
    most = config["retention"]["max_segments"]
    wanted = [("retention.compare_segments", config["retention"]["compare_segments"])]
    for name, sweep in (config.get("sweeps") or {}).items():
        for t in sweep.get("schedule_segments") or []:
            wanted.append((f"sweeps.{name}.schedule_segments", t))
    for key, t in wanted:
        if t > most:
            raise ConfigError(
                f"config key '{key}': T = {t} segments, but schedules are written only for "
                f"T = 1..{most} (retention.max_segments); lower it or raise max_segments")


def resolve_condition(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The full simulation parameters of one condition: ``simulation`` with its overrides.

    The result is plain JSON (strings and numbers) and also carries ``condition``, ``seed``
    and ``description``. Raises :class:`ConfigError` for an unknown condition name.
    """
    conditions = config.get("conditions", {})
    if name not in conditions:
        raise ConfigError(
            f"unknown condition {name!r}; the config defines: {', '.join(sorted(conditions))}"
        )
    return resolve_parameters(config, name, conditions[name] or {})


def resolve_parameters(config: dict[str, Any], name: str, overrides: dict[str, Any]) -> dict:
    """``simulation`` with ``overrides`` (a condition's keys), for its model, as plain JSON.

    A rate-model result is ``simulation`` without its ``tripartite`` block; a tripartite
    result holds ``model``, ``cache_dir`` and the ``tripartite`` block only, so that changing
    one model's parameters never reruns the other model's jobs.
    """
    resolved = copy.deepcopy(config["simulation"])
    overrides = copy.deepcopy(overrides)
    description = overrides.pop("description", "")
    model = overrides.pop("model", resolved["model"])
    tripartite = resolved.pop("tripartite", {})
    other = sorted(set(overrides) - {"tripartite"}) if model == "tripartite" else (
        ["tripartite"] if "tripartite" in overrides else [])
    if other:
        raise ConfigError(f"config key 'conditions.{name}': sets {other}, which the {model} "
                          f"model does not use; set `model` or remove them")
    for section, values in overrides.pop("tripartite", {}).items():
        if isinstance(values, dict):
            tripartite[section] = {**tripartite[section], **values}
        else:
            tripartite[section] = values
    if model == "tripartite":
        resolved = {"model": model, "cache_dir": resolved["cache_dir"], "tripartite": tripartite}
    resolved["model"] = model
    for section, values in overrides.items():
        if section == "nonlinearities":
            for fname, spec in values.items():
                resolved[section][fname] = {**resolved[section][fname], **spec}
        else:
            resolved[section] = {**resolved[section], **values}
    resolved["condition"] = name
    resolved["description"] = description
    resolved["seed"] = config.get("seed", 1234)
    return resolved


def check_simulation(params: dict[str, Any], prefix: str = "simulation") -> None:
    """Semantic checks of resolved simulation parameters (units, signs, dt versus cycle)."""
    if params.get("model") == "tripartite":
        from simulation.tripartite_params import check_tripartite

        try:
            check_tripartite(params["tripartite"], prefix=f"{prefix}.tripartite")
        except ValueError as err:
            raise ConfigError(str(err)) from err
        return

    def quantity(section: str | None, key: str, dim: str):
        full = f"{prefix}.{section}.{key}" if section else f"{prefix}.{key}"
        value = params[section][key] if section else params[key]
        try:
            q = parse_quantity(value, dim, full)
        except ValueError as err:
            raise ConfigError(str(err)) from err
        if float(q) <= 0:
            raise ConfigError(f"config key '{full}': {value!r} must be positive")
        return q

    check_network_memory(params["network"], prefix=f"{prefix}.network")
    for key in TIME_CONSTANTS:
        quantity("constants", key, "second")
    for key in LENGTH_CONSTANTS:
        quantity("constants", key, "metre")
    quantity("network", "synapse_spacing", "metre")
    dt = quantity(None, "dt", "second")
    record_dt = quantity(None, "record_dt", "second")
    period = quantity("protocol", "period", "second")
    on_time = quantity("protocol", "on_time", "second")
    if dt >= period:
        raise ConfigError(
            f"config key '{prefix}.dt': dt = {params['dt']} is not smaller than the cycle "
            f"period {params['protocol']['period']}; choose dt well below the period (e.g. 1 ms)"
        )
    if on_time >= period:
        raise ConfigError(
            f"config key '{prefix}.protocol.on_time': {params['protocol']['on_time']} must be "
            f"shorter than the period {params['protocol']['period']}"
        )
    for key, value in (("protocol.period", period), ("protocol.on_time", on_time),
                       ("record_dt", record_dt)):
        steps = float(value / dt)
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            raise ConfigError(
                f"config key '{prefix}.{key}': {value} is not a whole number of time steps "
                f"dt = {params['dt']}"
            )


#: Bytes per synapse-to-synapse coupling connection in Brian2, an estimate: two int32
#: indices and the float64 weight T take 16; the rest allows for Brian2's index arrays.
BYTES_PER_COUPLING = 48


def physical_memory_bytes() -> int:
    """Physical memory of this machine in bytes (0 when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_network_memory(network: dict[str, Any], prefix: str = "simulation.network",
                         memory_bytes: int | None = None) -> None:
    """Refuse a rate-model network whose all-to-all process coupling cannot fit in memory.

    n_syn = n_pre * n_post processes are coupled pairwise: n_syn (n_syn - 1) connections
    of :data:`BYTES_PER_COUPLING` bytes each, against this machine's physical memory.
    """
    n_syn = network["n_pre"] * network["n_post"]
    need = n_syn * (n_syn - 1) * BYTES_PER_COUPLING
    have = physical_memory_bytes() if memory_bytes is None else memory_bytes
    if have and need > have:
        raise ConfigError(
            f"config key '{prefix}.n_pre' / '{prefix}.n_post': {network['n_pre']} x "
            f"{network['n_post']} = {n_syn} synapses need {n_syn * (n_syn - 1):,} coupling "
            f"connections, about {need / 2**30:.1f} GiB, more than this machine's "
            f"{have / 2**30:.1f} GiB; use fewer neurons (the coupling grows as n_syn^2)")


def condition_names(config: dict[str, Any]) -> list[str]:
    """Condition names in config order."""
    return list(config["conditions"])


def dump_resolved(params: dict[str, Any]) -> str:
    """Canonical JSON text of resolved parameters (stable key order, for change detection)."""
    return json.dumps(params, sort_keys=True, indent=2)
