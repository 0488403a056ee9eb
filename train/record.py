"""What a finished run records in its ``metrics.json``: identity and settings, the model as
built, per-epoch history, the test result with per-example predictions, and its cost."""

from __future__ import annotations

import platform
import resource
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from lra.tasks import get_task
from train.data import labels_of
from train.spec import RunSpec


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """Peak memory of this process so far, MiB, and how it was measured."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "CUDA max_memory_allocated"
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss_kb / 1024, "process peak RSS (ru_maxrss; includes data and Python)"


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's architecture and torch's thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"CPU ({platform.machine()}, {threads} thread{'s' if threads != 1 else ''})"


def majority_accuracy(dataset) -> float:
    """Accuracy of always predicting the most frequent test label (the trivial baseline)."""
    labels = labels_of(dataset)
    return float(np.bincount(labels).max() / max(len(labels), 1))


def metrics_record(spec: RunSpec, net: torch.nn.Module, data: dict[str, Any],
                   state: dict[str, Any], test: dict[str, Any], inputs: dict[str, str | None],
                   device: torch.device, processes: int) -> dict[str, Any]:
    """The content of ``metrics.json``. ``state``: the training state (history, best epoch,
    ``wall_s`` seconds of optimiser steps, ``peak_memory_mb`` of the run's earlier parts and
    ``restarts``); ``test``: :func:`train.loop.evaluate` of the test split; ``inputs``: the
    content hashes of :func:`train.loop.run_inputs`.

    A run resumed after a kill reports its cost over all its parts: the peak memory is the
    largest of this process's and the one the checkpoints carried, ``train_wall_s`` the
    seconds of every optimiser step that made the model, and ``resumed`` how often it was
    restarted from a checkpoint (0: one uninterrupted process)."""
    peak, how = peak_memory_mb(device)
    peak = max(peak, state.get("peak_memory_mb", 0.0))
    task = get_task(spec.task)
    return {
        "run_id": spec.run_id, "task": spec.task, "task_title": task.display_name,
        "lra": task.lra, "preset": spec.preset, "variant": spec.variant or spec.preset,
        "seed": spec.seed, "config_hash": spec.config_hash(), "spec": spec.to_dict(),
        "device": device_name(device), "processes": processes,
        "parameters": sum(p.numel() for p in net.parameters()),
        "driver": net.config.driver,
        # every model setting as the model was built (preset defaults, the task's T, ...):
        # the analysis reads these instead of re-resolving the presets of its own version
        "resolved_model": asdict(net.config),
        "n_train": len(data["train"]), "n_val": len(data["val"]), "n_test": len(data["test"]),
        "epochs": state["history"], "best_epoch": state["best_epoch"],
        "best_val_acc": state["best_val"], "test_acc": test["acc"], "test_loss": test["loss"],
        "majority_acc": majority_accuracy(data["test"]),
        # per-example test predictions and labels, in split order (paired tests in claims)
        "test_predictions": test["predictions"],
        "test_labels": [int(v) for v in labels_of(data["test"])],
        "peak_memory_mb": peak, "memory_measure": how,
        "tokens_per_s": sum(r["tokens_per_s"] for r in state["history"]) / len(
            state["history"]),
        "train_wall_s": state["wall_s"], "resumed": state.get("restarts", 0),
        "data_note": spec.data_note, "inputs": inputs,
        # RF(t, T), t = 1..T, that the tested model applies and that it started from (the
        # same unless rf_schedule is learned); None without RF
        "rf_factors_final": net.rf_factors(), "rf_factors_initial": net.rf_factors(True),
    }
