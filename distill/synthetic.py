"""Synthetic readouts for tests, demos and development without the simulation stage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .io import Readout
from .macro_models import get_model


def synthetic_readout(
    curve: str | Callable[[np.ndarray], np.ndarray],
    params: dict[str, float] | None = None,
    tau_cycle_s: float = 1.0,
    n_cycles: int = 60,
    noise_sd: float = 0.0,
    seed: int = 0,
) -> Readout:
    """A readout sampled at cycles 0..n_cycles of ``tau_cycle_s`` s.

    ``curve`` is a candidate name (with ``params`` in physical units) or any callable of time
    in s; Gaussian noise of standard deviation ``noise_sd`` (units of p^l) is added with a fixed
    ``seed`` so that the data repeat.
    """
    cycle = np.arange(n_cycles + 1)
    t = cycle * float(tau_cycle_s)
    if isinstance(curve, str):
        model = get_model(curve)
        f = lambda x: model.func(x, *(params[p] for p in model.param_names))  # noqa: E731
    else:
        f = curve
    y = np.asarray(f(t), dtype=float)
    y = y + np.random.default_rng(seed).normal(0.0, noise_sd, size=y.shape)
    name = curve if isinstance(curve, str) else "callable"
    return Readout(cycle=cycle, time_s=t, p_l=y, tau_cycle_s=float(tau_cycle_s),
                   source=f"<synthetic {name}>")
