"""The configuration's JSON schema, a strict validator for it and the project-path rule.

Kept apart from :mod:`pipeline.config` (which needs Brian2 for units) so that the training
stage and the plan, which must start fast and import no simulator, check their settings
against the same schema: ``train.spec`` builds the run spec's schema from it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

__all__ = ["SCHEMA_PATH", "StrictValidator", "inside_project", "load_schema"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load_schema() -> dict[str, Any]:
    """The JSON schema of the configuration, as a dict (a fresh copy on every call)."""
    with open(SCHEMA_PATH) as f:
        return yaml.safe_load(f)


def _is_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_number(checker: Any, instance: Any) -> bool:
    return (isinstance(instance, int | float) and not isinstance(instance, bool)
            and math.isfinite(instance))


#: Draft 2020-12 with strict types: an ``integer`` is an int (not 1.0, not true) and a
#: ``number`` is finite (JSON readers accept NaN and Infinity, and NaN passes every bound).
StrictValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_integer, "number": _is_number}),
)


def inside_project(path: str, project: str | Path | None = None) -> bool:
    """True when ``path`` lies inside ``project`` (default: the working directory, where
    the pipeline writes ``results/``; relative paths are taken from there).

    Purely lexical (``..`` is resolved, links are not followed), so a ``data`` folder that
    is a link to another disk still counts as inside.
    """
    root = os.path.normpath(os.path.abspath(project if project is not None else os.getcwd()))
    full = os.path.normpath(os.path.join(root, os.path.expanduser(path)))
    return full == root or full.startswith(root + os.sep)
