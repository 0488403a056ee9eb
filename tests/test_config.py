"""The config schema and semantic checks reject bad input with a message naming the key."""

from __future__ import annotations

import copy

import pytest

from pipeline.config import ConfigError, load_config, resolve_condition, validate_config
from tests.conftest import with_value


def test_default_config_is_valid_and_filled(default_config):
    config = validate_config(default_config)
    assert len(config["conditions"]) >= 3
    assert config["simulation"]["protocol"]["n_cycles"] >= config["retention"]["max_segments"]


def test_defaults_fill_a_minimal_config():
    config = validate_config({"simulation": {}, "conditions": {"a": {}}, "retention": {}})
    assert config["simulation"]["constants"]["tau_pl"] == "10 s"
    assert config["simulation"]["nonlinearities"]["kappa"]["kind"] == "sigmoid"
    assert config["retention"]["max_segments"] == 64
    assert config["seed"] == 1234


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["simulation", "tau_typo"], 1, "unknown config key(s) ['tau_typo'] under 'simulation'"),
        (["bogus"], 1, "unknown config key(s) ['bogus'] at the top level"),
        (["simulation", "protocol", "n_cycles"], "many", "simulation.protocol.n_cycles"),
        (["simulation", "target"], "gpu", "allowed values: 'numpy', 'cython', 'cpp_standalone'"),
        (["simulation", "constants", "tau_pl"], "-5 s", "'simulation.constants.tau_pl'"),
        (["simulation", "constants", "tau_pl"], "10 um", "expected s"),
        (["simulation", "constants", "tau_pl"], "10 parsecs", "unknown unit 'parsecs'"),
        (["simulation", "constants", "tau_pl"], "10", "has no unit"),
        (["simulation", "dt"], "2 s", "is not smaller than the cycle period"),
        (["simulation", "protocol", "on_time"], "1.5 s", "must be shorter than the period"),
        (["simulation", "dt"], "0.3 ms", "not a whole number of time steps"),
        (["simulation", "constants", "gamma_l"], -1.0, "simulation.constants.gamma_l"),
        (["conditions", "slow_ltp", "constants", "tau_pl"], "0 s", "conditions.slow_ltp"),
        (["conditions", "9lives"], {}, "name '9lives' is not allowed"),
        (["retention", "max_segments"], 0, "retention.max_segments"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(default_config, path, value, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(with_value(default_config, path, value))
    assert expected in str(info.value)


def test_unknown_condition_lists_known_ones(default_config):
    config = validate_config(default_config)
    with pytest.raises(ConfigError, match="unknown condition 'nope'.*baseline"):
        resolve_condition(config, "nope")


def test_condition_overrides_only_what_it_sets(default_config):
    config = validate_config(default_config)
    base = resolve_condition(config, "baseline")
    slow = resolve_condition(config, "slow_ltp")
    assert slow["constants"]["tau_pl"] == "20 s"
    slow["constants"]["tau_pl"] = base["constants"]["tau_pl"]
    for key in ("network", "protocol", "constants", "nonlinearities"):
        assert slow[key] == base[key]


def test_partial_nonlinearity_override_keeps_the_kind(default_config):
    config = copy.deepcopy(default_config)
    config["conditions"]["steep"] = {"nonlinearities": {"kappa": {"gain": 20.0}}}
    resolved = resolve_condition(validate_config(config), "steep")
    assert resolved["nonlinearities"]["kappa"] == {"kind": "sigmoid", "gain": 20.0,
                                                   "threshold": 0.5}


def test_missing_and_empty_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("simulation: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
