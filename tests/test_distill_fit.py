"""distill: candidate fits recover known parameters, AIC selects, eligibility, shape checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from distill import (
    MODELS,
    DistillWarning,
    NoEligibleModelError,
    ReadoutShapeError,
    distill,
    fit_candidate,
    fit_candidates,
    get_model,
)
from distill.fit import DELTA_AICC, information_criteria, select_model
from distill.synthetic import synthetic_readout

TAU_C = 0.5  # s
N_CYCLES = 120

# true parameters (physical units) of one synthetic curve per form; p^l scale ~0.01 on purpose
TRUE = {
    "sat_exp": dict(A=0.012, tau=9.0, c=0.0005),
    "hill": dict(A=0.010, K=12.0, n=2.0, c=0.0002),
    "logistic": dict(A=0.011, t0=18.0, s=4.0, c=0.0003),
    "double_exp": dict(A1=0.004, tau1=2.0, A2=0.006, tau2=25.0, c=0.0001),
}
NOISE = 5e-5  # ≈ 0.5 % of the amplitude


def _readout(name: str, seed: int = 0, noise: float = NOISE, **kw):
    return synthetic_readout(name, TRUE[name], tau_cycle_s=kw.get("tau_cycle_s", TAU_C),
                             n_cycles=kw.get("n_cycles", N_CYCLES), noise_sd=noise, seed=seed)


@pytest.mark.parametrize("name", list(TRUE))
@pytest.mark.parametrize("seed", [0, 1])
def test_fit_recovers_known_parameters(name: str, seed: int) -> None:
    ro = _readout(name, seed)
    fit = fit_candidate(get_model(name), ro.time_s, ro.p_l, ro.tau_cycle_s, 16)
    assert fit.status == "ok", fit.reason
    assert fit.r2 > 0.995
    assert set(fit.stderr) == set(TRUE[name])
    for p, true in TRUE[name].items():
        est, se = fit.params[p], fit.stderr[p]
        assert 0 < se < np.inf
        # within 4 standard errors of the truth, and the standard errors are not absurd
        assert abs(est - true) <= 4 * se, (p, est, true, se)
        if p != "c":
            assert abs(est - true) <= 0.1 * abs(true), (p, est, true)
    # residuals are the data minus the fitted curve
    np.testing.assert_allclose(fit.residuals, ro.p_l - fit.curve(ro.time_s))
    assert np.std(fit.residuals) == pytest.approx(NOISE, rel=0.25)


def test_stderr_shrinks_with_less_noise() -> None:
    wide = fit_candidate(get_model("sat_exp"), *_arrays(_readout("sat_exp", noise=4e-4)), 16)
    narrow = fit_candidate(get_model("sat_exp"), *_arrays(_readout("sat_exp", noise=4e-5)), 16)
    assert narrow.stderr["tau"] < wide.stderr["tau"] / 5


def _arrays(ro):
    return ro.time_s, ro.p_l, ro.tau_cycle_s


@pytest.mark.parametrize("name", ["sat_exp", "double_exp", "hill", "logistic"])
def test_aic_picks_true_form(name: str) -> None:
    """The generating form has the lowest AICc, or (sat_exp, nested in exp_onset and
    double_exp) is the simplest candidate within DELTA_AICC of the lowest."""
    params = dict(TRUE[name])
    if name == "hill":
        params.update(K=3.0, n=0.8)  # concave Hill with a heavy tail: unlike exponentials
    ro = synthetic_readout(name, params, TAU_C, N_CYCLES, NOISE, seed=3)
    fits = fit_candidates(ro.time_s, ro.p_l, ro.tau_cycle_s, 16)
    ok = [f for f in fits if f.status == "ok"]
    best = min(ok, key=lambda f: f.aicc)
    if name == "sat_exp":
        assert best.aicc >= fits[0].aicc - DELTA_AICC  # nested forms gain little
        assert select_model(fits, "simple").name == "sat_exp"
        return
    assert best.name == name
    assert best.delta_aicc == 0.0
    others = sorted(f.aicc for f in ok if f is not best)
    assert others[0] - best.aicc >= 1.9  # at least the AIC cost of one useless parameter


def test_aic_selects_eligible_double_exp_over_sat_exp() -> None:
    res = distill(_readout("double_exp", 4), "two-timescales", 32)
    assert res.selected.name == "double_exp"
    sat = next(c for c in res.candidates if c.name == "sat_exp")
    assert sat.eligible and sat.aic - res.selected.aic > 10


def test_information_criteria_formula() -> None:
    aic, aicc = information_criteria(rss=2.0, n=50, k=3, y_scale=1.0)
    assert aic == pytest.approx(50 * np.log(2.0 / 50) + 6)
    assert aicc == pytest.approx(aic + 2 * 3 * 4 / (50 - 3 - 1))
    assert information_criteria(1.0, n=4, k=3, y_scale=1.0)[1] is None
    assert np.isfinite(information_criteria(0.0, n=10, k=3, y_scale=0.01)[0])  # exact fit


def test_sigmoid_best_fit_is_ineligible_and_warned() -> None:
    hill3 = dict(A=0.01, K=15.0, n=3.0, c=0.0)
    ro = synthetic_readout("hill", hill3, TAU_C, N_CYCLES, NOISE, seed=5)
    with pytest.warns(DistillWarning) as record:  # without exp_onset, which fits an onset
        res = distill(ro, "sigmoid-onset", 32,
                      models=["sat_exp", "hill", "logistic", "double_exp"])
    messages = " | ".join(str(w.message) for w in record)
    assert "hill fits better" in messages and "R² = " in messages  # misfit is not silent
    assert res.warnings == [str(w.message) for w in record]
    by = {c.name: c for c in res.candidates}
    best = min((c for c in res.candidates if c.status == "ok"), key=lambda c: c.aic)
    assert best.name == "hill"
    assert not by["hill"].eligible and "concave" in by["hill"].reason
    assert res.selected.name != "hill" and res.selected.eligible
    payload = res.to_json()
    assert any(c["name"] == "hill" and c["eligible"] is False and "concave" in c["reason"]
               for c in payload["candidates"])


def test_no_eligible_candidate_names_the_condition() -> None:
    ro = synthetic_readout("hill", dict(A=0.01, K=15.0, n=3.0, c=0.0), TAU_C, N_CYCLES, NOISE)
    with pytest.raises(NoEligibleModelError, match="'sigmoid-onset'.*hill: curve is not concave"):
        distill(ro, "sigmoid-onset", 32, models=["hill", "logistic"])


def test_logistic_with_inflection_before_zero_is_not_anchored() -> None:
    """A logistic whose inflection lies before t = 0 starts at c + A σ(−t0/s), not at its
    anchored offset: it cannot follow such a readout from its first point and is ineligible."""
    ro = synthetic_readout("logistic", dict(A=0.02, t0=-6.0, s=8.0, c=-0.005), TAU_C,
                           N_CYCLES, NOISE, seed=2)
    fit = fit_candidate(get_model("logistic"), ro.time_s, ro.p_l, ro.tau_cycle_s, 64)
    assert not fit.eligible and "not anchored" in fit.reason
    rise = ro.p_l.max() - ro.p_l[0]
    assert abs(fit.p0 - ro.p_l[0]) > 0.02 * rise


def test_failed_candidate_is_recorded_not_raised() -> None:
    ro = _readout("sat_exp")
    t, y = ro.time_s[:5], ro.p_l[:5]
    fits = fit_candidates(t, y, ro.tau_cycle_s, 4)
    dbl = next(f for f in fits if f.name == "double_exp")
    assert dbl.status == "failed" and not dbl.eligible and dbl.params == {}
    assert "5 points for 5 parameters" in dbl.reason
    assert dbl.to_json()["aic"] is None and dbl.to_json()["params"] == {}


def test_degenerate_double_exp_is_not_identifiable() -> None:
    ro = _readout("sat_exp", seed=7)
    fit = fit_candidate(get_model("double_exp"), ro.time_s, ro.p_l, ro.tau_cycle_s, 16)
    assert fit.status == "ok"
    assert not fit.eligible and "identifiable" in fit.reason
    assert fit.stderr == {}  # never NaN/inf in the output


def test_guesses_and_bounds_are_consistent() -> None:
    t = np.linspace(0, 1, 50)
    y = 1 - np.exp(-t / 0.2)
    for model in MODELS.values():
        lo, hi = model.bounds()
        assert lo.shape == hi.shape == (model.n_params,)
        assert np.all(lo < hi)
        for p0 in model.guesses(t, y):
            assert len(p0) == model.n_params, model.name


def test_fit_is_scale_invariant() -> None:
    """Same curve in other units of p^l and of time gives the same shape parameters."""
    small = synthetic_readout("sat_exp", dict(A=0.01, tau=8.0, c=0.0), 0.5, 100, 1e-5, seed=1)
    big = synthetic_readout("sat_exp", dict(A=10.0, tau=800.0, c=0.0), 50.0, 100, 1e-2, seed=1)
    fs = fit_candidate(get_model("sat_exp"), *_arrays(small), 16)
    fb = fit_candidate(get_model("sat_exp"), *_arrays(big), 16)
    assert fb.params["tau"] / 100 == pytest.approx(fs.params["tau"], rel=1e-6)
    assert fb.params["A"] / 1000 == pytest.approx(fs.params["A"], rel=1e-6)


# ---------------------------------------------------------------------------- readout shape


def _curve_readout(f, noise: float = 0.0, n_cycles: int = N_CYCLES):
    return synthetic_readout(f, None, TAU_C, n_cycles, noise, seed=0)


@pytest.mark.parametrize(
    ("f", "noise", "match", "kind"),
    [
        (lambda t: np.full_like(t, 0.3), 0.0, "flat", "flat"),
        (lambda t: 0.01 * np.exp(-t / 10), 0.0, "does not increase", "no_rise"),
        (lambda t: np.zeros_like(t), 1e-3, "no clear rise", "no_rise"),
        (lambda t: 0.01 * (1 - np.exp(-t / 5)) * np.exp(-t / 40), 0.0, "rises and then falls",
         "rise_then_fall"),
        (lambda t: 1e-3 * t, 1e-4, "still growing", "not_saturated"),
        (lambda t: 0.01 * (1 - np.exp(-t / 200)), 1e-5, "still growing", "not_saturated"),
    ],
    ids=["flat", "decreasing", "noise", "overshoot", "linear", "slow-exp"],
)
def test_bad_readout_shapes_raise(f, noise: float, match: str, kind: str) -> None:
    with pytest.raises(ReadoutShapeError, match=rf"'cond-x'.*{match}") as err:
        distill(_curve_readout(f, noise), "cond-x", 32)
    assert err.value.kind == kind  # what programs read instead of the message


def test_weak_saturation_warns_and_strict_raises() -> None:
    ro = _curve_readout(lambda t: 0.01 * (1 - np.exp(-t / 30)), 1e-5)  # 1 − e^{−2}: 86 %
    with pytest.warns(DistillWarning, match="not fully saturated"):
        res = distill(ro, "slowish", 32)
    assert 0.5 < res.selected.saturation_fraction < 0.9
    assert res.warning_kinds == ["weakly_saturated"] and len(res.warnings) == 1
    with pytest.raises(ReadoutShapeError, match="strict") as err:
        distill(ro, "slowish", 32, strict=True)
    assert err.value.kind == "strict"


def test_extrapolation_is_recorded() -> None:
    ro = _readout("sat_exp")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = distill(ro, "long", 4 * N_CYCLES)
    assert any("extrapolated" in str(w.message) for w in caught)
    assert res.to_json()["extrapolated_beyond_s"] == pytest.approx(N_CYCLES * TAU_C)
    assert res.warning_kinds == ["extrapolated"]
    short = distill(ro, "short", N_CYCLES)
    assert short.to_json()["extrapolated_beyond_s"] is None and short.warnings == []
    assert short.warning_kinds == []


def test_shape_error_kinds_are_checked() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        ReadoutShapeError("message", "wobbly")
