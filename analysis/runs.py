"""The one reader of run outputs: a training run's ``metrics.json`` as a :class:`RunRecord`.

``python -m train run`` writes ``results/runs/{task}/{variant}/seed{seed}/metrics.json`` last,
atomically, when the run has been tested. Every consumer of run outputs (the tables, the
claims scorecard, the report's training curves) reads it through :func:`read_runs`, so a
missing, corrupt or incomplete file is one clear error naming the file and what to do,
wherever it is read.

The record keeps the values as the run wrote them (no rounding, no conversion): tables
built from it are those of the file. The model settings are those the run recorded
(``resolved_model``: every ``ModelConfig`` field as the model was built), not a fresh
resolution of the presets; files written before runs recorded them fall back to resolving
the run's recorded spec with this version's presets, with a warning (rerun to record them).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Keys every metrics.json holds, with the kind of value (``float``: any real number).
REQUIRED: dict[str, type] = {
    "task": str, "task_title": str, "lra": bool, "variant": str, "preset": str, "seed": int,
    "driver": str, "test_acc": float, "best_val_acc": float, "majority_acc": float,
    "best_epoch": int, "n_train": int, "n_test": int, "peak_memory_mb": float,
    "memory_measure": str, "tokens_per_s": float, "train_wall_s": float, "device": str,
    "parameters": int, "data_note": str, "epochs": list, "spec": dict,
}

RERUN = "rerun its training job (snakemake reruns it when metrics.json is deleted)"
#: Model settings the analyses read; a recorded ``resolved_model`` must hold them.
MODEL_KEYS = ("recurrent", "readout", "rf_mode", "rf_schedule", "driver", "segment_len",
              "num_mem_tokens")
#: The retention factors a run applied (optional: null without RF, absent in older files).
RF_KEYS = ("rf_factors_final", "rf_factors_initial")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRecord:
    """What one training run recorded (the fields of its ``metrics.json`` that analyses read).

    Accuracies are fractions in [0, 1]; ``peak_memory_mb`` in MiB (``memory_measure`` says
    how it was measured); ``tokens_per_s`` the mean of the epochs' training throughput;
    ``train_wall_s`` seconds of optimiser steps; ``epochs`` one dict per epoch
    (``epoch``, ``train_loss``, ``val_acc``, ...); ``test_predictions`` / ``test_labels``
    the per-example test classes in split order (None in files written before they were
    stored); ``model`` every model setting (``ModelConfig`` field) as the model was built,
    ``model_recorded`` False when the file predates ``resolved_model`` and ``model`` was
    re-derived from its spec. ``rf_factors_final`` / ``rf_factors_initial``: RF(t, T) for
    t = 1..T (dimensionless) that the tested model applied and that it started from (differ
    only for a learned schedule); None for a model without RF and in files written before
    runs recorded them.
    """

    path: str
    task: str
    task_title: str
    lra: bool
    variant: str
    preset: str
    seed: int
    driver: str
    test_acc: float
    best_val_acc: float
    majority_acc: float
    best_epoch: int
    n_train: int
    n_test: int
    peak_memory_mb: float
    memory_measure: str
    tokens_per_s: float
    train_wall_s: float
    device: str
    parameters: int
    data_note: str
    epochs: list[dict[str, Any]]
    spec: dict[str, Any]
    model: dict[str, Any] = field(default_factory=dict)
    model_recorded: bool = True
    test_predictions: list[int] | None = None
    test_labels: list[int] | None = None
    rf_factors_final: list[float] | None = None
    rf_factors_initial: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # every other key of the file

    @classmethod
    def from_metrics(cls, metrics: Any, path: str | Path = "<memory>") -> RunRecord:
        """Check ``metrics`` (a parsed metrics.json) and keep its values; ``ValueError``
        naming ``path``, the key and what to do when it is not a complete run's metrics."""
        if not isinstance(metrics, dict):
            raise ValueError(f"{path} is not the metrics of a run (a JSON object written by "
                             f"`python -m train run`); {RERUN}")
        missing = [key for key in REQUIRED if key not in metrics]
        if missing:
            raise ValueError(f"{path} is incomplete: it lacks {', '.join(missing)} (not "
                             f"written by this version of `python -m train run`); {RERUN}")
        for key, kind in REQUIRED.items():
            if not _is(metrics[key], kind):
                raise ValueError(f"{path}: {key!r} must be {_KIND_NAMES[kind]}, got "
                                 f"{metrics[key]!r}; {RERUN}")
        for key in ("test_predictions", "test_labels"):
            value = metrics.get(key)
            if value is not None and not (isinstance(value, list)
                                          and all(_is(v, int) for v in value)):
                raise ValueError(f"{path}: {key!r} must be a list of class indices; {RERUN}")
        for key in RF_KEYS:
            value = metrics.get(key)
            if value is not None and not (isinstance(value, list) and value
                                          and all(_is(v, float) for v in value)):
                raise ValueError(f"{path}: {key!r} must be a list of numbers (RF(t, T), "
                                 f"t = 1..T) or null, got {value!r}; {RERUN}")
        model = metrics.get("resolved_model")
        recorded = model is not None
        if not recorded:
            model = _settings_from_spec(metrics, path)
        elif not (isinstance(model, dict) and all(k in model for k in MODEL_KEYS)):
            raise ValueError(f"{path}: 'resolved_model' must be an object with (at least) "
                             f"{', '.join(MODEL_KEYS)}; {RERUN}")
        known = {*REQUIRED, "resolved_model", "test_predictions", "test_labels", *RF_KEYS}
        return cls(path=str(path), **{key: metrics[key] for key in REQUIRED},
                   model=model, model_recorded=recorded,
                   test_predictions=metrics.get("test_predictions"),
                   test_labels=metrics.get("test_labels"),
                   **{key: metrics.get(key) for key in RF_KEYS},
                   extra={k: v for k, v in metrics.items() if k not in known})


_KIND_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number",
               list: "a list", dict: "an object"}


def _is(value: Any, kind: type) -> bool:
    """Whether a JSON value is of ``kind`` (bool is not a number; NaN is a number)."""
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _settings_from_spec(metrics: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """Model settings of a file written before runs recorded ``resolved_model``: the run's
    recorded spec resolved with this version's presets (what the training did when the
    presets have not changed since)."""
    from model.presets import PRESETS, resolved_settings

    if metrics["preset"] not in PRESETS:
        raise ValueError(f"{path}: preset {metrics['preset']!r} is unknown to this version "
                         f"and the file records no 'resolved_model'; {RERUN}")
    return resolved_settings(metrics["preset"], metrics["spec"].get("model") or {})


def read_run(path: str | Path) -> RunRecord:
    """The run whose ``metrics.json`` is at ``path``: ``FileNotFoundError`` when it is missing,
    ``ValueError`` when it is not valid JSON or not a complete run's metrics."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{path} is missing; run its training job first") from err
    try:
        metrics = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); rerun its training job") from err
    return RunRecord.from_metrics(metrics, path)


def read_runs(paths: Sequence[str | Path]) -> list[RunRecord]:
    """The runs of ``paths``, in that order (:func:`read_run`). Files that predate recorded
    model settings are named in one warning."""
    runs = [read_run(path) for path in paths]
    old = [run.path for run in runs if not run.model_recorded]
    if old:
        log.warning("%d metrics.json file(s) record no 'resolved_model' (written by an older "
                    "version); their model settings are re-derived from their run spec with "
                    "this version's presets; rerun them to record the settings they trained "
                    "with: %s", len(old), ", ".join(old))
    return runs
