"""Physical quantities in the config: strings such as ``"20 ms"`` parsed into Brian2 quantities."""

from __future__ import annotations

import math
import re

from brian2 import Quantity, get_dimensions
from brian2.units import allunits
from brian2.units.allunits import all_units
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµ]*)\s*$")

#: Unit names accepted in config strings: Brian2's full names (``msecond``) and the usual
#: abbreviations (``ms``, ``um``, ``uM``), mapping to Brian2 units.
UNITS = {repr(u): u for u in all_units}
for _full, _short in (("second", "s"), ("metre", "m"), ("molar", "M"), ("hertz", "Hz")):
    for _prefix in ("", "m", "u", "n", "p", "k"):
        if _prefix + _full in UNITS:
            UNITS[_prefix + _short] = UNITS[_prefix + _full]

#: Base units of the dimensions that config values may have, for error messages.
DIMENSION_NAMES = {
    "second": get_dimensions(allunits.second),
    "metre": get_dimensions(allunits.metre),
}


def parse_quantity(text: str, dimension: Dimension | str, key: str) -> Quantity:
    """Parse ``"<number> <unit>"`` (e.g. ``"1.5 s"``, ``"20 ms"``, ``"2 um"``).

    ``dimension`` is the required physical dimension (a Brian2 ``Dimension`` or one of the
    names in :data:`DIMENSION_NAMES`); ``key`` names the config key in error messages.
    Raises ``ValueError`` naming the key, the value and what is expected.
    """
    if isinstance(dimension, str):
        dimension = DIMENSION_NAMES[dimension]
    match = _QUANTITY.match(str(text))
    if match is None:
        raise ValueError(
            f"config key '{key}': cannot read {text!r} as a quantity; "
            f"write a number and a unit, e.g. '20 ms' or '2 um'"
        )
    number, unit_name = match.groups()
    if not math.isfinite(float(number)):
        raise ValueError(
            f"config key '{key}': {text!r} is not a finite number (too large for a float); "
            f"write a value below 1e308"
        )
    if not unit_name:
        if dimension is not DIMENSIONLESS:
            raise ValueError(
                f"config key '{key}': {text!r} has no unit; it needs a unit of dimension "
                f"{dimension} (e.g. '{number} ms' or '{number} um')"
            )
        return Quantity(float(number))
    unit_name = unit_name.replace("µ", "u")
    unit = UNITS.get(unit_name)
    if unit is None:
        raise ValueError(
            f"config key '{key}': unknown unit {unit_name!r} in {text!r}; "
            f"use a Brian2 unit name such as s, ms, us, um, mm"
        )
    value = float(number) * unit
    if get_dimensions(value) is not dimension:
        raise ValueError(
            f"config key '{key}': {text!r} has dimension {get_dimensions(value)}, "
            f"expected {dimension}"
        )
    return value
