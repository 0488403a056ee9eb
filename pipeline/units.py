"""Physical quantities in the config: strings such as ``"20 ms"`` or ``"0.3 /uM/s"`` parsed
into Brian2 quantities, by one parser for every stage.

A quantity is ``"<number> <unit expression>"``. The unit expression is one or more Brian2 unit
names (``msecond``) or the usual abbreviations (``ms``, ``um``, ``uM``, ``Hz``), joined by
``*`` or ``/`` and optionally raised to an integer power (``s^-1``, ``m**2``); a leading ``/``
divides (``"40 /s"`` is 40 per second). Every error names the config key.
"""

from __future__ import annotations

import math
import re
from typing import Any

from brian2 import Quantity, get_dimensions
from brian2.units import allunits
from brian2.units.allunits import all_units
from brian2.units.fundamentalunits import DIMENSIONLESS, Dimension

__all__ = ["ANY", "DIMENSION_NAMES", "UNITS", "is_dimensionless", "parse_quantity", "unit_text"]

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*((?:[*/]?\s*[A-Za-zµ]+(?:\^-?\d+|\*\*-?\d+)?\s*)*)$")
_FACTOR = re.compile(r"([*/]?)\s*([A-Za-zµ]+)(?:\^(-?\d+)|\*\*(-?\d+))?\s*")
_LEADING_NUMBER = re.compile(rf"^\s*{_NUMBER}\s*")

#: Unit names accepted in config strings: Brian2's full names (``msecond``) and the usual
#: abbreviations (``ms``, ``um``, ``uM``), mapping to Brian2 units.
UNITS = {repr(u): u for u in all_units}
for _full, _short in (("second", "s"), ("metre", "m"), ("molar", "M"), ("hertz", "Hz")):
    for _prefix in ("", "m", "u", "n", "p", "k"):
        if _prefix + _full in UNITS:
            UNITS[_prefix + _short] = UNITS[_prefix + _full]

#: Dimensions that callers may name by a word instead of a Brian2 unit.
DIMENSION_NAMES: dict[str, Dimension] = {
    "second": get_dimensions(allunits.second),
    "metre": get_dimensions(allunits.metre),
}


class _Any:
    def __repr__(self) -> str:
        return "ANY"


#: ``dimension`` argument of :func:`parse_quantity`: accept any dimension.
ANY: Any = _Any()


def _dimension(dimension: Any) -> Dimension:
    if isinstance(dimension, str):
        return DIMENSION_NAMES[dimension]
    return get_dimensions(dimension)


def parse_quantity(text: Any, dimension: Any, key: str) -> Quantity:
    """Parse a config quantity such as ``"20 ms"``, ``"2 um"``, ``"0.3 /uM/s"`` or ``"1 uM/s"``.

    ``dimension`` says what is required:

    - a Brian2 unit, quantity or ``Dimension``, or a name in :data:`DIMENSION_NAMES`
      (``"second"``, ``"metre"``): a string whose unit has that physical dimension;
    - ``None``: a plain number (int or float, no string, no unit);
    - :data:`ANY`: a string with any unit (or none).

    Returns a Brian2 ``Quantity`` in SI units (``"20 ms"`` gives 0.02 second). Raises
    ``ValueError`` naming ``key``, the value and what is expected.
    """
    if dimension is None:
        if isinstance(text, bool) or not isinstance(text, int | float):
            raise ValueError(f"config key '{key}': {text!r} must be a plain number (no unit)")
        return Quantity(float(text))
    match = _QUANTITY.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"config key '{key}': cannot read {text!r} as a quantity; write a "
                         f"number and a unit, e.g. '20 ms', '2 um', '0.3 /uM/s' or '40 /s'")
    number, expr = match.groups()
    if not math.isfinite(float(number)):
        raise ValueError(f"config key '{key}': {text!r} is not a finite number (too large for a "
                         f"float); write a value below 1e308")
    value = Quantity(float(number))
    for op, name, p1, p2 in _FACTOR.findall(expr):
        factor = UNITS.get(name.replace("µ", "u"))
        if factor is None:
            raise ValueError(f"config key '{key}': unknown unit {name!r} in {text!r}; use Brian2 "
                             f"unit names such as s, ms, us, um, Hz, uM, mM")
        power = int(p1 or p2 or 1)
        value = value / factor**power if op == "/" else value * factor**power
    if dimension is ANY:
        return value
    wanted = _dimension(dimension)
    if not expr and wanted is not DIMENSIONLESS:
        raise ValueError(f"config key '{key}': {text!r} has no unit; it needs a unit of "
                         f"dimension {wanted} (e.g. '{number} ms' or '{number} um')")
    if get_dimensions(value) is not wanted:
        raise ValueError(f"config key '{key}': {text!r} has dimension {get_dimensions(value)}, "
                         f"expected {wanted}")
    return value


def unit_text(text: str) -> str:
    """The unit expression of a quantity string (``"0.5 /uM/s"`` gives ``"/uM/s"``)."""
    return _LEADING_NUMBER.sub("", text, count=1).strip()


def is_dimensionless(unit: Any) -> bool:
    """Whether a unit entry (a Brian2 unit, or None for a plain number) has no dimension."""
    return unit is None or get_dimensions(unit) is DIMENSIONLESS
