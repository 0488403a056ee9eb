"""Load, validate and resolve the pipeline configuration (``config/config.yaml``).

The one place that reads the YAML for every stage. Validation happens in two passes, both
before anything runs:

1. the JSON schema ``workflow/schemas/config.schema.yaml`` (types, ranges, unknown keys),
2. semantic checks that a schema cannot express: units and signs of physical quantities and
   the protocol against the time steps (:mod:`pipeline.parameters`), sweeps
   (:mod:`pipeline.sweeps`), the sensitivity analysis (:mod:`pipeline.sensitivity`), segment
   counts and output folders (here).

Every error is a :class:`ConfigError` whose message names the offending key. Resolving a
condition (:mod:`pipeline.resolve`) and the checks are re-exported here, so stages and the
Snakefile import one module. Checks of the ``experiment`` section that need the model live in
``train.plan.check_experiment``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from pipeline.dose import expand_dose_response
from pipeline.errors import ConfigError
from pipeline.parameters import check_network_memory, check_simulation
from pipeline.resolve import condition_names, dump_resolved, resolve_condition, resolve_parameters
from pipeline.schema import inside_project, load_schema
from pipeline.sensitivity import check_sensitivity
from pipeline.sweeps import check_sweeps

__all__ = ["ConfigError", "check_network_memory", "check_paths", "check_segments",
           "check_simulation", "condition_names", "dump_resolved", "inside_project",
           "load_config", "load_schema", "resolve_condition", "resolve_parameters",
           "validate_config"]

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
        chars = "digits, '_' and '-'" if "-]" in error.validator_value else "digits and '_'"
        return (f"config key '{key}': name {error.instance!r} is not allowed; names under it "
                f"start with a letter and use letters, {chars}")
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
    if config.get("sensitivity") is not None:  # absent: no analysis (not an empty block)
        _fill_defaults(config, {"properties": {"sensitivity": schema["properties"][
            "sensitivity"]}}, schema)
    if not compare_given:  # the default 16 never exceeds a smaller max_segments
        retention = config["retention"]
        retention["compare_segments"] = min(retention["compare_segments"],
                                            retention["max_segments"])
    expand_dose_response(config)  # its values become conditions and variants (pipeline.dose)
    check_simulation({**config["simulation"], "model": "rate"}, prefix="simulation")
    check_simulation({"model": "tripartite", "tripartite": config["simulation"]["tripartite"]},
                     prefix="simulation")
    for name in config["conditions"]:
        config["conditions"][name] = config["conditions"][name] or {}
        check_simulation(resolve_condition(config, name), prefix=f"conditions.{name}")
    check_segments(config)
    check_paths(config)
    check_sweeps(config)
    check_sensitivity(config)
    return config


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
