"""Shared fixtures: small, fast configurations."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def default_config() -> dict:
    """The shipped default configuration, as a raw (unvalidated) dict."""
    with open(REPO / "config" / "config.yaml") as f:
        return yaml.safe_load(f)


def small_simulation_params(**protocol) -> dict:
    """Resolved parameters of a small, fast numpy-target simulation (dt 5 ms, 12 cycles)."""
    from simulation.config import resolve_condition, validate_config

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
