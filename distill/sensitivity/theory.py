"""What the rate model's equations predict for its schedule (derivation: docs/design.md §2.4).

p^l is a linear first-order filter that nothing reads back::

    τ_pl dp^l/dt = −γ_l p^l + κ(s(t))

so p^l(t) = (1/τ_pl) ∫ e^{−(t−u)/τ_l} κ(s(u)) du with τ_l = τ_pl / γ_l. Once the fast
subsystem (x, s, p^s; time constants ≤ τ_ps/γ_s = 0.5 s) is entrained by the drive, κ(s(t))
is periodic with the cycle period τc, and at cycle boundaries t_k = k τc

    p^l(t_{k+1}) = a p^l(t_k) + I,     a = e^{−τc/τ_l},   I = ∫_cycle e^{−(τc−u)/τ_l} κ du / τ_pl

whose solution p^l(t_k) = I (1 − a^k) / (1 − a) is a saturating exponential of time constant
τ_l sampled at the boundaries, whatever κ does within a cycle. Every other parameter enters
only I, i.e. the plateau I / (1 − a), which RF's normalisation removes: RF(t, T) =
(1 − a) a^{t−1} / (1 − a^T) and RF(1, T) / RF(T, T) = a^{−(T−1)} = e^{(T−1) τc / τ_l}.

Forward Euler with step dt multiplies p^l by (1 − dt/τ_l) per step, so the sampled time
constant is τ_eff = −dt / ln(1 − dt/τ_l) (τ_l − dt/2 to first order: 0.005 % at the defaults).
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.parameters import quantity

#: Parameters the prediction depends on (all others: elasticity 0 for τ_LTP and RF).
SCHEDULE_PARAMETERS = ("constants.tau_pl", "constants.gamma_l", "protocol.period")


def rate_time_constant_s(params: dict[str, Any]) -> float:
    """τ_eff in s: the time constant of p^l at cycle boundaries, τ_l = τ_pl / γ_l corrected for
    forward Euler with the parameters' ``dt``."""
    tau_pl = float(quantity(params["constants"]["tau_pl"], "second", "constants.tau_pl"))
    dt = float(quantity(params["dt"], "second", "dt"))
    tau_l = tau_pl / float(params["constants"]["gamma_l"])
    return -dt / math.log1p(-dt / tau_l)


def rate_cycle_s(params: dict[str, Any]) -> float:
    """The cycle period τc of rate-model parameters, s."""
    return float(quantity(params["protocol"]["period"], "second", "protocol.period"))


def shape_ratio(tau_s: float, tau_cycle_s: float, T: int) -> float:
    """RF(1, T) / RF(T, T) = e^{(T−1) τc / τ} of a saturating exponential sampled every τc."""
    return math.exp((T - 1) * tau_cycle_s / tau_s)


def rate_prediction(params: dict[str, Any], segments: list[int]) -> dict[str, Any]:
    """The predicted τ_LTP (s) and RF(1, T)/RF(T, T) for each T of rate-model ``params``."""
    tau = rate_time_constant_s(params)
    cycle = rate_cycle_s(params)
    return {"tau_ltp_s": tau, "ratio": {T: shape_ratio(tau, cycle, T) for T in segments}}
