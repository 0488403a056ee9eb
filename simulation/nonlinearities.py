"""The model's nonlinearities as Brian2 expression strings: f(u) = kind(gain * (u - threshold)).

Gains and thresholds enter the equations as shared constants (``<name>_gain``,
``<name>_thr``), so changing them does not change the generated code: compiled code is
reused across conditions.
"""

from __future__ import annotations

KINDS = {
    "tanh": "tanh({z})",
    "sigmoid": "1.0/(1.0 + exp(-({z})))",
    "linear": "({z})",
    "relu": "({z})*int(({z}) > 0)",
}

#: The five nonlinearities of the rate model (docs/design.md §2.1).
NAMES = ("phi", "g", "theta", "psi", "kappa")


def expression(name: str, kind: str, argument: str) -> str:
    """Brian2 expression of nonlinearity ``name`` of the given ``kind`` applied to ``argument``."""
    if kind not in KINDS:
        raise ValueError(f"nonlinearity {name}: unknown kind {kind!r}; allowed: {sorted(KINDS)}")
    z = f"{name}_gain*(({argument}) - {name}_thr)"
    return KINDS[kind].format(z=z)


def constants_block(names: tuple[str, ...] = NAMES) -> str:
    """Brian2 equation lines declaring the gain/threshold shared constants."""
    return "\n".join(
        f"{n}_gain : 1 (shared, constant)\n{n}_thr : 1 (shared, constant)" for n in names
    )
