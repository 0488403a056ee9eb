"""Simulation parameters of both models: physical dimensions, parsing and semantic checks.

The defaults and descriptions live in the config schema (``workflow/schemas/config.schema.yaml``);
this module makes the checks a schema cannot make: units and signs of physical quantities, and
the stimulation protocol against the time steps. Both models share one protocol layout (``dt``,
``record_dt`` and ``protocol.{period, on_time, n_cycles, rest_cycles}``: at the top of the rate
model's parameters, inside ``tripartite`` for the tripartite model) and one protocol check,
:func:`check_protocol`.

Every error is a :class:`~pipeline.errors.ConfigError` whose message names the offending key.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

from brian2 import Quantity
from brian2.units import allunits

from pipeline.errors import ConfigError
from pipeline.units import parse_quantity

_s, _uM = allunits.second, allunits.umolar

#: Keys of the rate model's ``constants`` holding times (must be positive) and lengths.
TIME_CONSTANTS = ("tau_n", "tau_s", "tau_ps", "tau_pl")
LENGTH_CONSTANTS = ("coupling_length",)

#: Physical unit of each tripartite quantity parameter (None: dimensionless number), by section.
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
#: Tripartite parameters that may be zero (a rate switched off); all others must be positive.
MAY_BE_ZERO = {"rate", "O_G", "Omega_G", "alpha", "O_beta", "O_delta", "O_N", "Omega_L", "zeta",
               "F_ex", "I_bias"}
#: Dimensionless tripartite parameters that are probabilities or fractions (at most 1).
FRACTIONS = {"U_0_star", "alpha", "U_A", "rho_c", "rho_e"}

#: Bytes per synapse-to-synapse coupling connection in Brian2, an estimate: two int32
#: indices and the float64 weight T take 16; the rest allows for Brian2's index arrays.
BYTES_PER_COUPLING = 48


def quantity(value: Any, unit: Any, key: str) -> Quantity:
    """:func:`pipeline.units.parse_quantity` raising :class:`ConfigError`."""
    try:
        return parse_quantity(value, unit, key)
    except ValueError as err:
        raise ConfigError(str(err)) from err


def positive_quantity(value: Any, unit: Any, key: str) -> Quantity:
    """A quantity that must be greater than zero (raises :class:`ConfigError` naming ``key``)."""
    q = quantity(value, unit, key)
    if float(q) <= 0:
        raise ConfigError(f"config key '{key}': {value!r} must be positive")
    return q


@dataclass(frozen=True)
class RunParameters:
    """What a simulation run needs to know of resolved parameters, parsed once, with the same
    fields for both models (the model-specific biology stays in the parameter dict).

    Times are Brian2 quantities in seconds; ``readout`` is what the readout's ``p_l`` column
    holds: ``p_l`` (rate model) or the tripartite ``readout`` (``gamma_s`` or
    ``release_probability``).
    """

    model: str
    condition: str
    seed: int
    target: str
    cache_dir: str
    readout: str
    dt: Quantity
    record_dt: Quantity
    period: Quantity
    on_time: Quantity
    n_cycles: int
    rest_cycles: int

    @property
    def period_steps(self) -> int:
        """Time steps per STP cycle."""
        return int(round(float(self.period / self.dt)))


def model_block(params: dict[str, Any]) -> dict[str, Any]:
    """The part of resolved parameters that holds ``target``, ``dt``, ``record_dt`` and
    ``protocol``: the parameters themselves (rate model) or their ``tripartite`` block."""
    return params["tripartite"] if params.get("model") == "tripartite" else params


def run_parameters(params: dict[str, Any]) -> RunParameters:
    """Parse the run settings of resolved parameters of either model (see
    :class:`RunParameters`); raises :class:`ConfigError` naming a bad key."""
    tripartite = params.get("model") == "tripartite"
    block = model_block(params)
    prefix = "tripartite." if tripartite else ""
    proto = block["protocol"]
    return RunParameters(
        model="tripartite" if tripartite else "rate", condition=params["condition"],
        seed=params["seed"], target=block["target"], cache_dir=params["cache_dir"],
        readout=block["readout"] if tripartite else "p_l",
        dt=quantity(block["dt"], _s, f"{prefix}dt"),
        record_dt=quantity(block["record_dt"], _s, f"{prefix}record_dt"),
        period=quantity(proto["period"], _s, f"{prefix}protocol.period"),
        on_time=quantity(proto["on_time"], _s, f"{prefix}protocol.on_time"),
        n_cycles=int(proto["n_cycles"]), rest_cycles=int(proto["rest_cycles"]))


def with_target(params: dict[str, Any], target: str) -> dict[str, Any]:
    """A copy of resolved parameters that runs on the code-generation ``target``."""
    params = copy.deepcopy(params)
    model_block(params)["target"] = target
    return params


def check_simulation(params: dict[str, Any], prefix: str = "simulation") -> None:
    """Semantic checks of resolved simulation parameters of either model (units, signs, the
    protocol against the time steps). ``prefix`` is the key path the messages name."""
    if params.get("model") == "tripartite":
        check_tripartite(params["tripartite"], prefix=f"{prefix}.tripartite")
    else:
        check_rate(params, prefix=prefix)


def check_protocol(block: dict[str, Any], prefix: str) -> dict[str, Quantity]:
    """The checks of a stimulation protocol, the same for both models.

    ``block`` holds ``dt``, ``record_dt`` and ``protocol`` (``period``, ``on_time``; the
    schema bounds ``n_cycles`` and ``rest_cycles``). All four times must be positive; ``dt``
    smaller than the period; ``on_time`` shorter than the period (a cycle needs an off
    phase); period, on_time and record_dt whole numbers of time steps; the period a whole
    number of record intervals (so that records fall on cycle boundaries). Returns the four
    times as quantities (seconds) by name.
    """
    proto = block["protocol"]
    q = {"dt": positive_quantity(block["dt"], _s, f"{prefix}.dt"),
         "record_dt": positive_quantity(block["record_dt"], _s, f"{prefix}.record_dt"),
         "period": positive_quantity(proto["period"], _s, f"{prefix}.protocol.period"),
         "on_time": positive_quantity(proto["on_time"], _s, f"{prefix}.protocol.on_time")}
    if q["dt"] >= q["period"]:
        raise ConfigError(f"config key '{prefix}.dt': dt = {block['dt']} is not smaller than the "
                          f"cycle period {proto['period']}; choose dt well below the period "
                          f"(e.g. 1 ms)")
    if q["on_time"] >= q["period"]:
        raise ConfigError(f"config key '{prefix}.protocol.on_time': {proto['on_time']} must be "
                          f"shorter than the period {proto['period']} (a cycle needs an off "
                          f"phase)")
    for key, name, unit in (("protocol.period", "period", "dt"),
                            ("protocol.on_time", "on_time", "dt"),
                            ("record_dt", "record_dt", "dt"),
                            ("protocol.period", "period", "record_dt")):
        steps = float(q[name] / q[unit])
        if abs(steps - round(steps)) > 1e-6 or round(steps) < 1:
            what = "time steps dt" if unit == "dt" else "record intervals record_dt"
            raise ConfigError(f"config key '{prefix}.{key}': {q[name]} is not a whole number of "
                              f"{what} = {block[unit]}")
    return q


def check_rate(params: dict[str, Any], prefix: str = "simulation") -> None:
    """Semantic checks of resolved rate-model parameters."""
    check_network_memory(params["network"], prefix=f"{prefix}.network")
    for key in TIME_CONSTANTS:
        positive_quantity(params["constants"][key], _s, f"{prefix}.constants.{key}")
    for key in LENGTH_CONSTANTS:
        positive_quantity(params["constants"][key], "metre", f"{prefix}.constants.{key}")
    positive_quantity(params["network"]["synapse_spacing"], "metre",
                      f"{prefix}.network.synapse_spacing")
    check_protocol(params, prefix)


def tripartite_quantities(block: dict[str, Any], prefix: str) -> dict[str, dict[str, Quantity]]:
    """Every protocol/synapse/astrocyte parameter of a ``tripartite`` block as a Quantity,
    checked for dimension, sign and range. Raises :class:`ConfigError` naming the key."""
    out: dict[str, dict[str, Quantity]] = {}
    for section, dims in DIMENSIONS.items():
        out[section] = {}
        for name, unit in dims.items():
            key = f"{prefix}.{section}.{name}"
            q = quantity(block[section][name], unit, key)
            v = float(q)
            if v < 0 or (v == 0 and name not in MAY_BE_ZERO):
                sign = "non-negative" if name in MAY_BE_ZERO else "positive"
                raise ConfigError(f"config key '{key}': {block[section][name]!r} must be {sign}")
            if name in FRACTIONS and v > 1:
                raise ConfigError(f"config key '{key}': {v!r} must be at most 1 (a fraction)")
            out[section][name] = q
    return out


def check_tripartite(block: dict[str, Any], prefix: str = "simulation.tripartite") -> None:
    """Semantic checks of a resolved ``tripartite`` block."""
    tripartite_quantities(block, prefix)
    check_protocol(block, prefix)
    if block["n_recorded"] > block["n_pairs"]:
        raise ConfigError(f"config key '{prefix}.n_recorded': {block['n_recorded']} recorded "
                          f"pairs but only n_pairs = {block['n_pairs']}")


def physical_memory_bytes() -> int:
    """Physical memory of this machine in bytes (0 when the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_network_memory(network: dict[str, Any], prefix: str = "simulation.network",
                         memory_bytes: int | None = None) -> None:
    """Refuse a rate-model network whose all-to-all process coupling cannot fit in memory.

    n_syn = n_pre * n_post processes are coupled pairwise: n_syn (n_syn - 1) connections
    of :data:`BYTES_PER_COUPLING` bytes each, against this machine's physical memory.
    """
    n_syn = network["n_pre"] * network["n_post"]
    need = n_syn * (n_syn - 1) * BYTES_PER_COUPLING
    have = physical_memory_bytes() if memory_bytes is None else memory_bytes
    if have and need > have:
        raise ConfigError(
            f"config key '{prefix}.n_pre' / '{prefix}.n_post': {network['n_pre']} x "
            f"{network['n_post']} = {n_syn} synapses need {n_syn * (n_syn - 1):,} coupling "
            f"connections, about {need / 2**30:.1f} GiB, more than this machine's "
            f"{have / 2**30:.1f} GiB; use fewer neurons (the coupling grows as n_syn^2)")
