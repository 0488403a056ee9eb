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
