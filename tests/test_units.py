"""The one quantity parser (pipeline.units) and the one protocol check for both models."""

from __future__ import annotations

import re

import pytest
from brian2 import Quantity, get_dimensions
from brian2.units import allunits as u

from pipeline.config import ConfigError, validate_config
from pipeline.parameters import DIMENSIONS
from pipeline.units import ANY, parse_quantity, unit_text
from tests.conftest import with_value

#: How the two parsers this one replaced computed each unit of the default config from its
#: number x: simple units as ``x * unit`` (rate model), compound ones as ``Quantity(x)`` divided
#: or multiplied factor by factor (tripartite model). Outputs are compared byte for byte
#: between versions, so the floats must be exactly these.
BEFORE = {
    "ms": lambda x: x * u.msecond,
    "s": lambda x: x * u.second,
    "um": lambda x: x * u.umetre,
    "Hz": lambda x: Quantity(x) * u.hertz,
    "mM": lambda x: Quantity(x) * u.mmolar,
    "uM": lambda x: Quantity(x) * u.umolar,
    "/s": lambda x: Quantity(x) / u.second,
    "/uM/s": lambda x: Quantity(x) / u.umolar / u.second,
    "uM/s": lambda x: Quantity(x) * u.umolar / u.second,
}


def _quantity_leaves(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _quantity_leaves(value, (*path, key))
    elif isinstance(node, str) and re.match(r"^\s*[-+]?(\d|\.\d)", node) and " " in node:
        yield ".".join(map(str, path)), node


def test_every_quantity_of_the_default_config_parses_to_the_same_float(default_config):
    leaves = [(k, v) for k, v in _quantity_leaves(default_config["simulation"])]
    leaves += [(k, v) for k, v in _quantity_leaves(default_config["sweeps"])]
    assert len(leaves) > 40  # rate and tripartite parameters and the sweep's range
    for key, text in leaves:
        number, unit = text.split(maxsplit=1)
        assert unit in BEFORE, f"{key}: {text!r} has a unit this test does not know; add it"
        expected = BEFORE[unit](float(number))
        value = parse_quantity(text, ANY, key)
        assert float(value) == float(expected), (key, text)
        assert get_dimensions(value) is get_dimensions(expected), (key, text)


@pytest.mark.parametrize(("text", "dimension", "si"), [
    ("20 ms", "second", 0.02), ("2 um", "metre", 2e-6), ("1.5 s", u.second, 1.5),
    ("0.3 /uM/s", 1 / (u.umolar * u.second), 300.0), ("1 uM/s", u.umolar / u.second, 1e-3),
    ("40 s^-1", u.hertz, 40.0), ("2 msecond", "second", 0.002), ("3 µm", "metre", 3e-6),
])
def test_parse_quantity_reads_units_and_checks_dimensions(text, dimension, si):
    assert float(parse_quantity(text, dimension, "k")) == pytest.approx(si, rel=1e-15)


@pytest.mark.parametrize(("value", "dimension", "message"), [
    ("10 um", "second", "has dimension m, expected s"),
    ("10", "second", "has no unit"),
    ("10 parsecs", "second", "unknown unit 'parsecs'"),
    ("ten ms", "second", "cannot read 'ten ms' as a quantity"),
    (5, "second", "cannot read 5 as a quantity"),
    ("1e400 s", "second", "not a finite number"),
    ("0.5 uM", 1 / (u.umolar * u.second), "has dimension"),
    ("0.6", None, "must be a plain number"),
    (True, None, "must be a plain number"),
])
def test_parse_quantity_errors_name_the_key(value, dimension, message):
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        parse_quantity(value, dimension, "simulation.some.key")
    assert "config key 'simulation.some.key'" in str(err.value)


def test_plain_numbers_and_unit_text():
    assert float(parse_quantity(0.6, None, "k")) == 0.6
    assert float(parse_quantity(10, None, "k")) == 10.0
    assert unit_text("0.05 /uM/s") == "/uM/s"
    assert unit_text("2e-3 ms") == "ms"
    assert float(parse_quantity("7", ANY, "k")) == 7.0  # ANY: a number without unit is fine


def test_every_tripartite_parameter_has_a_known_dimension(default_config):
    block = default_config["simulation"]["tripartite"]
    for section, dims in DIMENSIONS.items():
        assert set(dims) <= set(block[section])
        for name, unit in dims.items():
            parse_quantity(block[section][name], unit, f"{section}.{name}")


# The rate model lives at `simulation`, the tripartite model at `simulation.tripartite` and in
# the default config's condition `tripartite`; both take one protocol check.
RATE = ["simulation"]
TRIPARTITE = ["conditions", "tripartite", "tripartite"]


@pytest.mark.parametrize(("where", "key"), [
    (RATE, "simulation.protocol.on_time"),
    (TRIPARTITE, "conditions.tripartite.tripartite.protocol.on_time"),
])
def test_on_time_equal_to_the_period_is_rejected_for_both_models(default_config, where, key):
    period = "1 s" if where is RATE else "2 s"
    config = with_value(default_config, [*where, "protocol", "on_time"], period)
    with pytest.raises(ConfigError, match="must be shorter than the period") as err:
        validate_config(config)
    assert f"config key '{key}'" in str(err.value)
    shorter = "0.99 s" if where is RATE else "1.99 s"
    validate_config(with_value(default_config, [*where, "protocol", "on_time"], shorter))


@pytest.mark.parametrize(("where", "prefix"), [
    (RATE, "simulation"), (TRIPARTITE, "conditions.tripartite.tripartite"),
])
@pytest.mark.parametrize(("key", "value", "message"), [
    (["dt"], "3 s", "is not smaller than the cycle period"),
    (["dt"], "0 ms", "must be positive"),
    (["record_dt"], "0.3 ms", "not a whole number of time steps dt"),
    (["record_dt"], "30 ms", "not a whole number of record intervals record_dt"),
    (["protocol", "period"], "1.0005 s", "not a whole number of time steps dt"),
    (["protocol", "on_time"], "0 s", "must be positive"),
    (["protocol", "period"], "1000 um", "expected s"),
])
def test_the_protocol_checks_are_the_same_for_both_models(default_config, where, prefix, key,
                                                          value, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        validate_config(with_value(default_config, [*where, *key], value))
    assert f"config key '{prefix}." in str(err.value)


def test_run_parameters_have_the_same_fields_for_both_models(default_config):
    from pipeline.config import resolve_condition
    from pipeline.parameters import RunParameters, run_parameters, with_target

    config = validate_config(default_config)
    rate = run_parameters(resolve_condition(config, "baseline"))
    tri = run_parameters(resolve_condition(config, "tripartite"))
    assert isinstance(rate, RunParameters) and isinstance(tri, RunParameters)
    assert (rate.model, rate.target, rate.readout) == ("rate", "cython", "p_l")
    assert (tri.model, tri.target, tri.readout) == ("tripartite", "cpp_standalone", "gamma_s")
    assert float(rate.period) == 1.0 and rate.period_steps == 1000 and rate.n_cycles == 64
    assert float(tri.period) == 2.0 and tri.period_steps == 2000
    assert float(tri.record_dt) == 0.01 and float(tri.on_time) == 1.0
    params = resolve_condition(config, "tripartite")
    moved = with_target(params, "numpy")
    assert run_parameters(moved).target == "numpy" and "target" not in moved
    assert params["tripartite"]["target"] == "cpp_standalone"  # the input is not changed
    assert run_parameters(with_target(resolve_condition(config, "baseline"), "numpy")).target \
        == "numpy"
