"""Resolve the parameters of a condition: ``simulation`` with the condition's overrides.

Resolved parameters are plain JSON (strings and numbers). Their canonical text
(:func:`dump_resolved`) is what Snakemake compares to decide which jobs rerun.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from pipeline.errors import ConfigError


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


def condition_names(config: dict[str, Any]) -> list[str]:
    """Condition names in config order."""
    return list(config["conditions"])


def dump_resolved(params: dict[str, Any]) -> str:
    """Canonical JSON text of resolved parameters (stable key order, for change detection)."""
    return json.dumps(params, sort_keys=True, indent=2)
