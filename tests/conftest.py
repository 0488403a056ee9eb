"""Shared fixtures: small, fast configurations."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors gain nothing from threads, and a busy shared CPU makes them very slow."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


#: A tiny model for gradient and dtype tests (2 layers, segments of 4 tokens, dropout on).
SMALL_MODEL = dict(vocab_size=13, num_classes=3, d_model=16, n_layers=2, n_heads=2,
                   segment_len=4, num_mem_tokens=3, dropout=0.2, rf_segments=8)


@pytest.fixture(scope="module")
def retention(tmp_path_factory) -> str:
    """Path of a demo retention file with schedules for T = 1..16."""
    from model.retention import write_retention_json

    return str(write_retention_json(tmp_path_factory.mktemp("rf") / "rf.json", 16))


def small_model(preset: str, retention: str, **kw):
    """:data:`SMALL_MODEL` of ``preset`` in training mode, seeded (torch.manual_seed(0));
    keyword arguments override its fields."""
    import torch

    from model import build_model

    torch.manual_seed(0)
    return build_model(preset, **{**SMALL_MODEL, "retention": retention, **kw}).train()


def with_value(config: dict, path: list[str], value) -> dict:
    """A deep copy of ``config`` with the key at ``path`` set to ``value`` (missing parents
    are created)."""
    config = copy.deepcopy(config)
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return config


BROAD = REPO / "config" / "ablations.yaml"


@pytest.fixture
def broad_config() -> dict:
    """The broad ablation study (config/ablations.yaml: two tasks, every variant kind),
    as a raw (unvalidated) dict."""
    return yaml.safe_load(BROAD.read_text())


@pytest.fixture
def default_config() -> dict:
    """The shipped default configuration, as a raw (unvalidated) dict."""
    with open(REPO / "config" / "config.yaml") as f:
        return yaml.safe_load(f)


def small_simulation_params(**protocol) -> dict:
    """Resolved parameters of a small, fast numpy-target simulation (dt 5 ms, 12 cycles)."""
    from pipeline.config import resolve_condition, validate_config

    config = {
        "seed": 7,
        "simulation": {
            "target": "numpy",
            "dt": "5 ms",
            "record_dt": "50 ms",
            "protocol": {"n_cycles": 12, **protocol},
            "constants": {"tau_pl": "3 s"},
        },
        "conditions": {"small": {}},
        "retention": {"max_segments": 8},
    }
    return copy.deepcopy(resolve_condition(validate_config(config), "small"))


def small_tripartite_params(**tripartite) -> dict:
    """Resolved parameters of a small tripartite condition (10 pairs, dt 2 ms, 2 cycles of 2 s,
    numpy target); keyword arguments override keys of the ``tripartite`` block (sections
    such as ``protocol`` are merged)."""
    from pipeline.config import resolve_condition, validate_config

    block = {"target": "numpy", "dt": "2 ms", "record_dt": "20 ms", "n_pairs": 10,
             "n_recorded": 2, "protocol": {"n_cycles": 2}}
    for key, value in tripartite.items():
        if isinstance(value, dict):
            block[key] = {**block.get(key, {}), **value}
        else:
            block[key] = value
    config = {
        "seed": 11,
        "simulation": {"tripartite": block},
        "conditions": {"tiny": {"model": "tripartite"}},
        "retention": {"max_segments": 8},
    }
    return copy.deepcopy(resolve_condition(validate_config(config), "tiny"))


def run_metrics(**fields) -> dict:
    """A complete metrics.json payload of one run (as ``python -m train run`` writes it, with
    small made-up values); keyword arguments replace fields (``resolved_model`` defaults to
    the preset's settings with the spec's model overrides; pass None to leave it out, as
    files written before it existed did)."""
    metrics = {"run_id": "recall/rmaat/seed0", "task": "recall", "task_title": "recall",
               "lra": False, "preset": "rmaat", "variant": "rmaat", "seed": 0,
               "config_hash": "0" * 12, "spec": {"task": "recall", "preset": "rmaat",
                                                 "model": {}},
               "device": "CPU (x86_64, 1 thread)", "processes": 1, "parameters": 1000,
               "driver": "amrb", "n_train": 64, "n_val": 32, "n_test": 32,
               "epochs": [{"epoch": 1, "train_loss": 1.0, "tokens_per_s": 1000.0,
                           "train_time_s": 1.0, "lr": 0.001, "val_acc": 0.5,
                           "val_loss": 1.0}],
               "best_epoch": 1, "best_val_acc": 0.5, "test_acc": 0.5, "test_loss": 1.0,
               "majority_acc": 0.25, "test_predictions": None, "test_labels": None,
               "peak_memory_mb": 100.0, "memory_measure": "process peak RSS",
               "tokens_per_s": 1000.0, "train_wall_s": 1.0, "data_note": "generated (not LRA)",
               "inputs": {"data": "0" * 64, "retention": None}}
    metrics.update(fields)
    if fields.get("resolved_model", ...) is None:
        del metrics["resolved_model"]
    elif "resolved_model" not in fields:  # as the run would have built its model
        from model.presets import resolved_settings

        metrics["resolved_model"] = resolved_settings(metrics["preset"],
                                                      metrics["spec"].get("model") or {})
    return metrics
