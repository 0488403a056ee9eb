"""Biology -> model, dose-response: one biological parameter swept into trained models.

``experiment.dose_response`` names a condition, one of its parameters (a dotted path of its
resolved parameters, as sweeps name them: ``constants.tau_pl``), values, the variant to
train and the task. Each value becomes

- a **condition** ``dose_<leaf>_<value>`` (the base condition's overrides plus the value),
  simulated and distilled like any other, so that it writes its own retention schedule
  ``results/retention/<condition>.json``;
- a **variant** ``<variant>_<condition>``: the named variant's settings, reading that
  condition's schedule, on the task only, with the block's seeds.

The expansion happens when the config is loaded (:func:`expand_dose_response`, called by
``pipeline.config.validate_config``), so every later step sees ordinary conditions and
variants: the DAG, the checks, the tables. A changed value changes one condition's name and
parameters, so only its branch (simulate -> distill -> training runs) reruns.

Names are checked against the existing conditions and variants; the generated names follow
the config's name patterns.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pipeline.errors import ConfigError

KEY = "experiment.dose_response"


def dose_block(config: dict[str, Any]) -> dict[str, Any] | None:
    """The ``experiment.dose_response`` block, or None."""
    return (config.get("experiment") or {}).get("dose_response")


def _slug(value: Any) -> str:
    """A value as a name part: '2 s' -> '2s', '0.5 /uM/s' -> '0p5uM_s', 1e-3 -> '0p001'."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    text = text.replace(".", "p").replace("-", "m").replace("+", "")
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    return re.sub(r"_(?=[A-Za-z])", "", text, count=1) if text[:1].isdigit() else text


def condition_name(parameter: str, value: Any) -> str:
    """Name of the generated condition of one value: ``dose_<leaf>_<value>``."""
    return f"dose_{parameter.rsplit('.', 1)[-1]}_{_slug(value)}"


def variant_name(variant: str, condition: str) -> str:
    """Name of the generated variant that trains on a generated condition's schedule."""
    return f"{variant}_{condition}"


def _nested(path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def dose_points(config: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per value: {"value", "condition", "variant"} (none without the block)."""
    block = dose_block(config)
    if not block:
        return []
    return [{"value": value, "condition": condition_name(block["parameter"], value),
             "variant": variant_name(block["variant"], condition_name(block["parameter"],
                                                                      value))}
            for value in block["values"]]


def value_at(params: dict[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of resolved parameters, None where there is none."""
    node: Any = params
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _same_value(a: Any, b: Any) -> bool:
    """Whether two parameter values are equal, quantities compared in SI units ("10 s" and
    "10000 ms" are the same value)."""
    if isinstance(a, str) and isinstance(b, str):
        from pipeline.units import ANY, parse_quantity

        try:
            qa, qb = parse_quantity(a, ANY, "a"), parse_quantity(b, ANY, "b")
            return bool(qa.dim == qb.dim and float(qa) == float(qb))
        except (ValueError, AttributeError):
            return a.strip() == b.strip()
    return a == b


def expand_dose_response(config: dict[str, Any]) -> None:
    """Add the dose-response's conditions and variants to ``config`` (in place); raises
    :class:`ConfigError` naming the key when the block names an unknown condition, variant,
    task or parameter, or when a generated name is already taken."""
    block = dose_block(config)
    if not block:
        return
    exp = config["experiment"]
    conditions = config.setdefault("conditions", {})
    variants = exp.setdefault("variants", {})
    base_name = block.get("condition", "baseline")
    if base_name not in conditions:
        raise ConfigError(f"config key '{KEY}.condition': {base_name!r} is not a condition "
                          f"({', '.join(conditions)})")
    if block["task"] not in (exp.get("tasks") or {}):
        raise ConfigError(f"config key '{KEY}.task': {block['task']!r} is not a task of "
                          f"experiment.tasks ({', '.join(exp.get('tasks') or {})})")
    presets = exp.get("presets") or []
    if block["variant"] not in variants and block["variant"] not in presets:
        known = ", ".join([*presets, *variants])
        raise ConfigError(f"config key '{KEY}.variant': {block['variant']!r} is neither a "
                          f"preset of experiment.presets nor a variant ({known})")
    for ref in block.get("references") or []:
        if ref not in variants and ref not in presets:
            raise ConfigError(f"config key '{KEY}.references': {ref!r} is neither a preset nor "
                              f"a variant")
    from pipeline.resolve import resolve_condition

    base_params = resolve_condition(config, base_name)
    node: Any = base_params
    for key in block["parameter"].split("."):
        if not isinstance(node, dict) or key not in node:
            raise ConfigError(
                f"config key '{KEY}.parameter': {block['parameter']!r} is not a parameter of "
                f"condition {base_name!r} (a dotted path of its resolved parameters, e.g. "
                f"constants.tau_pl or tripartite.synapse.O_G)")
        node = node[key]
    if isinstance(node, dict | list):
        raise ConfigError(f"config key '{KEY}.parameter': {block['parameter']!r} is a group, "
                          f"not one parameter")
    # the variant's own runs (on its retention condition) are a point of the curve too: a
    # value that would rebuild that very condition is a second copy of that point
    run_condition = (variants.get(block["variant"], {}).get("retention_condition")
                     or exp.get("retention_condition") or "baseline")
    for value in block["values"] if run_condition == base_name else []:
        if _same_value(value, node):
            raise ConfigError(f"config key '{KEY}.values': {value!r} is the value of condition "
                              f"{run_condition!r}, on whose schedule {block['variant']!r} "
                              f"already runs (that point of the curve); leave it out")
    base_override = conditions[base_name] or {}
    source = variants.get(block["variant"], {"preset": block["variant"]})
    names = [p["condition"] for p in dose_points(config)]
    if len(set(names)) != len(names):
        raise ConfigError(f"config key '{KEY}.values': two values give the same condition name "
                          f"({', '.join(names)}); write each value once")
    for point in dose_points(config):
        if point["condition"] in conditions:
            raise ConfigError(f"config key '{KEY}.values': the generated condition "
                              f"{point['condition']!r} already exists in conditions; rename it")
        if point["variant"] in variants or point["variant"] in presets:
            raise ConfigError(f"config key '{KEY}.values': the generated variant "
                              f"{point['variant']!r} already exists; rename it")
        override = _merge(base_override, _nested(block["parameter"], point["value"]))
        override["description"] = (f"dose-response: {block['parameter']} = {point['value']} "
                                   f"(from {base_name})")
        conditions[point["condition"]] = override
        variant = copy.deepcopy(source)
        variant.update(retention_condition=point["condition"], tasks=[block["task"]],
                       description=f"{block['variant']} on the schedule of {point['condition']}")
        if block.get("seeds") is not None:
            variant["seeds"] = copy.deepcopy(block["seeds"])
        variants[point["variant"]] = variant
