"""Parameters of the spiking tripartite synapse: physical dimensions, parsing and checks.

The defaults and descriptions live in the config schema (``simulation.tripartite`` in
``workflow/schemas/config.schema.yaml``); this module knows the physical dimension of every
parameter, parses compound units such as ``"0.3 /uM/s"`` or ``"1 uM/s"`` and makes the
semantic checks a schema cannot make (units, signs, time steps against the cycle).
"""

from __future__ import annotations

import re
from typing import Any

from brian2 import Quantity, get_dimensions
from brian2.units import allunits
from brian2.units.fundamentalunits import DIMENSIONLESS

from simulation.units import UNITS

_s, _uM = allunits.second, allunits.umolar

#: Physical unit of each quantity parameter (None: dimensionless number), by section.
DIMENSIONS: dict[str, dict[str, Any]] = {
    "protocol": {"rate": allunits.hertz, "period": _s, "on_time": _s},
    "synapse": {
        "rho_c": None, "Y_T": _uM, "Omega_c": 1 / _s, "U_0_star": None, "Omega_f": 1 / _s,
        "Omega_d": 1 / _s, "O_G": 1 / (_uM * _s), "Omega_G": 1 / _s, "alpha": None,
    },
    "astrocyte": {
        "O_P": _uM / _s, "K_P": _uM, "C_T": _uM, "rho_A": None, "Omega_C": 1 / _s,
        "Omega_L": 1 / _s, "d_1": _uM, "d_2": _uM, "O_2": 1 / (_uM * _s), "d_3": _uM,
        "d_5": _uM, "O_beta": _uM / _s, "O_N": 1 / (_uM * _s), "Omega_N": 1 / _s, "K_KC": _uM,
        "zeta": None, "O_delta": _uM / _s, "kappa_delta": _uM, "K_delta": _uM,
        "Omega_5P": 1 / _s, "K_D": _uM, "K_3K": _uM, "O_3K": _uM / _s, "F_ex": _uM / _s,
        "I_Theta": _uM, "omega_I": _uM, "I_bias": _uM, "C_Theta": _uM,
        "Omega_A": 1 / _s, "U_A": None, "G_T": _uM, "rho_e": None, "Omega_e": 1 / _s,
    },
}
#: Parameters that may be zero (a rate switched off); all others must be positive.
MAY_BE_ZERO = {"rate", "O_G", "Omega_G", "alpha", "O_beta", "O_delta", "O_N", "Omega_L", "zeta",
               "F_ex", "I_bias"}
#: Dimensionless parameters that are probabilities or fractions (at most 1).
FRACTIONS = {"U_0_star", "alpha", "U_A", "rho_c", "rho_e"}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*((?:[*/]?\s*[A-Za-zµ]+(?:\^-?\d+|\*\*-?\d+)?\s*)*)$")
_FACTOR = re.compile(r"([*/]?)\s*([A-Za-zµ]+)(?:\^(-?\d+)|\*\*(-?\d+))?\s*")


def parse_any(text: Any, key: str) -> Quantity:
    """Parse ``"<number> <unit expression>"`` (e.g. ``"0.3 /uM/s"``) without a dimension check.

    Unit factors are joined by ``*`` or ``/`` and may carry integer powers (``s^-1``).
    Raises ``ValueError`` naming the key.
    """
    match = _QUANTITY.match(str(text)) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"config key '{key}': cannot read {text!r} as a quantity; write a "
                         f"number and a unit, e.g. '0.3 /uM/s', '1 uM/s', '2 Hz' or '40 /s'")
    number, expr = match.groups()
    value = Quantity(float(number))
    for op, name, p1, p2 in _FACTOR.findall(expr):
        factor = UNITS.get(name.replace("µ", "u"))
        if factor is None:
            raise ValueError(f"config key '{key}': unknown unit {name!r} in {text!r}; use Brian2 "
                             f"unit names such as s, ms, Hz, uM, mM")
        power = int(p1 or p2 or 1)
        value = value / factor**power if op == "/" else value * factor**power
    return value


def parse_compound(text: Any, unit: Any, key: str) -> Quantity:
    """Parse a quantity such as ``"0.3 /uM/s"``, ``"1 uM/s"``, ``"2 Hz"`` and check that it has
    the dimension of ``unit`` (None: a plain number is required). Raises ``ValueError``."""
    if unit is None:
        if isinstance(text, bool) or not isinstance(text, int | float):
            raise ValueError(f"config key '{key}': {text!r} must be a plain number (no unit)")
        return Quantity(float(text))
    value = parse_any(text, key)
    if get_dimensions(value) is not get_dimensions(unit):
        raise ValueError(f"config key '{key}': {text!r} has dimension {get_dimensions(value)}, "
                         f"expected that of {unit!r} ({get_dimensions(unit)})")
    return value


def tripartite_quantities(block: dict[str, Any], prefix: str) -> dict[str, dict[str, Quantity]]:
    """Every protocol/synapse/astrocyte parameter of a ``tripartite`` block as a Quantity,
    checked for dimension, sign and range. Raises ``ValueError`` naming the key."""
    out: dict[str, dict[str, Quantity]] = {}
    for section, dims in DIMENSIONS.items():
        out[section] = {}
        for name, unit in dims.items():
            key = f"{prefix}.{section}.{name}"
            q = parse_compound(block[section][name], unit, key)
            v = float(q)
            if v < 0 or (v == 0 and name not in MAY_BE_ZERO):
                sign = "non-negative" if name in MAY_BE_ZERO else "positive"
                raise ValueError(f"config key '{key}': {block[section][name]!r} must be {sign}")
            if name in FRACTIONS and v > 1:
                raise ValueError(f"config key '{key}': {v!r} must be at most 1 (a fraction)")
            out[section][name] = q
    return out


def check_tripartite(block: dict[str, Any], prefix: str) -> None:
    """Semantic checks of a resolved ``tripartite`` block (raises ``ValueError``)."""
    q = tripartite_quantities(block, prefix)
    dt = parse_compound(block["dt"], _s, f"{prefix}.dt")
    record_dt = parse_compound(block["record_dt"], _s, f"{prefix}.record_dt")
    for key, value in (("dt", dt), ("record_dt", record_dt)):
        if float(value) <= 0:
            raise ValueError(f"config key '{prefix}.{key}': {block[key]!r} must be positive")
    period, on_time = q["protocol"]["period"], q["protocol"]["on_time"]
    proto = block["protocol"]
    if dt >= period:
        raise ValueError(f"config key '{prefix}.dt': dt = {block['dt']} is not smaller than the "
                         f"cycle period {proto['period']}; choose dt well below it (e.g. 1 ms)")
    if on_time > period:
        raise ValueError(f"config key '{prefix}.protocol.on_time': {proto['on_time']} must not "
                         f"be longer than the period {proto['period']}")
    for key, value, unit in (("protocol.period", period, dt), ("protocol.on_time", on_time, dt),
                             ("record_dt", record_dt, dt), ("protocol.period", period, record_dt)):
        steps = float(value / unit)
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            what = "dt" if unit is dt else "record_dt"
            raise ValueError(f"config key '{prefix}.{key}': {value} is not a whole number of "
                             f"{what} = {block[what]}")
    if block["n_recorded"] > block["n_pairs"]:
        raise ValueError(f"config key '{prefix}.n_recorded': {block['n_recorded']} recorded pairs "
                         f"but only n_pairs = {block['n_pairs']}")


def is_dimensionless(unit: Any) -> bool:
    """Whether a :data:`DIMENSIONS` entry is a plain number."""
    return unit is None or get_dimensions(unit) is DIMENSIONLESS
