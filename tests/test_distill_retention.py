"""distill: retention factor RF(t, T) properties and the saturating-exponential closed form."""

from __future__ import annotations

import numpy as np
import pytest

from distill import FittedCurve, RetentionError, get_model, retention_factor, retention_schedules
from distill.retention import sat_exp_closed_form

TAU_C = 0.5  # s

CURVES = {
    "sat_exp": FittedCurve(get_model("sat_exp"), (0.012, 9.0, 0.0005)),
    "double_exp": FittedCurve(get_model("double_exp"), (0.004, 2.0, 0.006, 25.0, 0.0)),
    "hill_concave": FittedCurve(get_model("hill"), (0.01, 3.0, 0.8, 0.0)),
    "logistic_concave": FittedCurve(get_model("logistic"), (0.02, -6.0, 8.0, -0.005)),
}
TS = [1, 2, 3, 4, 8, 16, 32, 64]


@pytest.mark.parametrize("name", list(CURVES))
@pytest.mark.parametrize("T", TS)
def test_rf_positive_normalised_non_increasing(name: str, T: int) -> None:
    rf = retention_factor(CURVES[name], TAU_C, T)
    assert rf.shape == (T,) and rf.dtype == np.float64
    assert np.all(rf > 0)
    assert abs(rf.sum() - 1.0) <= 1e-9
    assert np.all(np.diff(rf) <= 0)
    if T > 1 and name != "sat_exp":  # strictly concave curves: strictly decreasing RF
        assert np.all(np.diff(rf) < 0)


@pytest.mark.parametrize("name", list(CURVES))
def test_rf_shifts_down_as_T_grows(name: str) -> None:
    sched = retention_schedules(CURVES[name], TAU_C, 64)
    assert sorted(sched) == list(range(1, 65))
    first = np.array([sched[T][0] for T in range(1, 65)])
    assert first[0] == 1.0
    assert np.all(np.diff(first) < 0)  # RF(1, T) decreases with T
    for T in (2, 8, 33, 64):  # every schedule equals the one computed on its own
        np.testing.assert_allclose(sched[T], retention_factor(CURVES[name], TAU_C, T),
                                   rtol=0, atol=1e-15)
    # RF(t, T) = RF(t, T') · S_T' / S_T: each entry of a longer schedule is smaller
    assert np.all(sched[64][:32] < sched[32])


@pytest.mark.parametrize("tau", [0.2, 3.0, 9.0, 400.0])
@pytest.mark.parametrize("T", [1, 5, 16, 64])
def test_rf_matches_sat_exp_closed_form(tau: float, T: int) -> None:
    curve = FittedCurve(get_model("sat_exp"), (0.3, tau, 0.1))
    expected = sat_exp_closed_form(TAU_C, tau, T)
    t = np.arange(1, T + 1)
    by_hand = ((1 - np.exp(-TAU_C / tau)) * np.exp(-(t - 1) * TAU_C / tau)
               / (1 - np.exp(-T * TAU_C / tau)))
    np.testing.assert_allclose(expected, by_hand, rtol=1e-9)
    np.testing.assert_allclose(retention_factor(curve, TAU_C, T), expected, rtol=1e-12)


def test_plain_callable_is_differenced() -> None:
    tau = 9.0
    rf = retention_factor(lambda t: 0.01 * (1 - np.exp(-t / tau)), TAU_C, 16)
    np.testing.assert_allclose(rf, sat_exp_closed_form(TAU_C, tau, 16), rtol=1e-9)


def test_stable_increments_survive_fast_saturation() -> None:
    """τ = 0.2 τc: by cycle 64 the increments are ~e^{-320}; plain differences of p would be
    0 (or negative) there, the stable increments are not."""
    tau = 0.2 * TAU_C
    curve = FittedCurve(get_model("sat_exp"), (1.0, tau, 0.0))
    rf = retention_factor(curve, TAU_C, 64)
    assert np.all(rf > 0) and np.all(np.diff(rf) <= 0)
    np.testing.assert_allclose(rf, sat_exp_closed_form(TAU_C, tau, 64), rtol=1e-9)
    with pytest.raises(RetentionError, match="does not increase"):
        retention_factor(lambda t: 1 - np.exp(-t / tau), TAU_C, 64)


def test_sigmoid_curve_gives_no_schedule() -> None:
    sigmoid = FittedCurve(get_model("hill"), (0.01, 15.0, 3.0, 0.0))
    with pytest.raises(RetentionError, match="not concave"):
        retention_factor(sigmoid, TAU_C, 16)
    # a sigmoid is fine for T = 1 (one increment) but not beyond
    assert retention_factor(sigmoid, TAU_C, 1).tolist() == [1.0]


def test_decreasing_curve_gives_no_schedule() -> None:
    with pytest.raises(RetentionError, match="does not increase"):
        retention_factor(lambda t: np.exp(-t), TAU_C, 4)


@pytest.mark.parametrize("T", [0, -3, 2.5])
def test_bad_T_rejected(T) -> None:
    with pytest.raises(ValueError, match="integer >= 1"):
        retention_factor(CURVES["sat_exp"], TAU_C, T)


def test_bad_cycle_period_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        retention_factor(CURVES["sat_exp"], 0.0, 4)
