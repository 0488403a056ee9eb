"""distill: the onset form, anchored p(0), AICc selection with a threshold, derived quantities,
pair weights and the bootstrap, and warnings that reach a user (stderr, plots, report)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distill import DistillWarning, distill, fit_candidate, get_model, validate_retention
from distill.__main__ import main
from distill.derived import bootstrap_pairs, derived_quantities, pair_weights, rise_time
from distill.fit import DELTA_AICC, criterion, fit_candidates, select_model
from distill.io import read_readout, readout_from_arrays, write_readout_csv
from distill.macro_models import FittedCurve, exp_onset, exp_onset_increment
from distill.retention import retention_factor, sat_exp_closed_form
from distill.synthetic import synthetic_readout
from tests.drawn import assert_drawn

REPO = Path(__file__).resolve().parents[1]
TAU_C = 1.0
ONSET = dict(A=0.8, tau=12.0, tau_on=1.5, c=0.0)
NOISE = 2e-3  # 0.25 % of the amplitude


def _onset_readout(seed: int, noise: float = NOISE, **kw):
    return synthetic_readout("exp_onset", {**ONSET, **kw}, TAU_C, 64, noise, seed=seed)


# --------------------------------------------------------------------------- the onset form


def test_exp_onset_limits_and_stable_increments() -> None:
    t = np.linspace(0.0, 60.0, 121)
    # tau_on -> 0: a saturating exponential; tau_on = tau: gamma(2) 1 - (1 + t/tau) e^{-t/tau}
    np.testing.assert_allclose(exp_onset(t, 1.0, 10.0, 1e-9, 0.0), -np.expm1(-t / 10.0),
                               atol=1e-12)
    np.testing.assert_allclose(exp_onset(t, 1.0, 10.0, 10.0, 0.0),
                               1 - (1 + t / 10.0) * np.exp(-t / 10.0), atol=1e-12)
    # symmetric in (tau, tau_on), starts at c with zero slope
    np.testing.assert_allclose(exp_onset(t, 1.0, 10.0, 2.0, 0.1), exp_onset(t, 1.0, 2.0, 10.0, 0.1))
    assert exp_onset(0.0, 1.0, 10.0, 2.0, 0.1) == pytest.approx(0.1)
    assert exp_onset(1e-4, 1.0, 10.0, 2.0, 0.0) < 1e-8
    # increments equal differences where those are accurate, and stay positive far out
    d = exp_onset_increment(t[:-1], t[1:], 1.0, 10.0, 2.0, 0.0)
    np.testing.assert_allclose(d, np.diff(exp_onset(t, 1.0, 10.0, 2.0, 0.0)), rtol=1e-9,
                               atol=1e-15)
    far = exp_onset_increment(np.array([700.0]), np.array([701.0]), 1.0, 10.0, 2.0, 0.0)
    assert far[0] > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exp_onset_recovers_known_parameters_from_noisy_curves(seed: int) -> None:
    ro = _onset_readout(seed)
    fit = fit_candidate(get_model("exp_onset"), ro.time_s, ro.p_l, ro.tau_cycle_s, 64)
    assert fit.status == "ok" and fit.eligible, fit.reason
    for p in ("A", "tau", "tau_on"):
        est, se, true = fit.params[p], fit.stderr[p], ONSET[p]
        assert abs(est - true) <= 4 * se, (p, est, true, se)
        assert abs(est - true) <= 0.1 * true, (p, est, true)
    assert fit.params["tau"] >= fit.params["tau_on"]  # canonical order


def test_onset_schedule_is_the_exponential_of_tau_ltp() -> None:
    """RF of an onset fit comes from its exponential without the onset (module docstring)."""
    curve = FittedCurve(get_model("exp_onset"), (0.8, 12.0, 1.5, 0.0))
    kernel = curve.retention_curve()
    assert kernel.model.name == "sat_exp" and kernel.params == (0.8, 12.0, 0.0)
    np.testing.assert_allclose(retention_factor(kernel, 1.0, 16),
                               sat_exp_closed_form(1.0, 12.0, 16), rtol=1e-12)
    # the full curve's first increment is smaller than its second: not a valid schedule itself
    d = curve.increment(np.arange(0.0, 3.0), np.arange(1.0, 4.0))
    assert d[0] < d[1]


# --------------------------------------------------------------------------- selection


@pytest.mark.parametrize("seed", [0, 1])
def test_selection_keeps_the_simple_form_when_it_is_true(seed: int) -> None:
    ro = synthetic_readout("sat_exp", dict(A=0.8, tau=12.0, c=0.0), TAU_C, 64, NOISE, seed=seed)
    res = distill(ro, "simple", 32)
    assert res.selected.name == "sat_exp"
    by = {c.name: c for c in res.candidates}
    # the nested onset form fits at least as well, yet is not clearly better
    assert criterion(by["exp_onset"]) > criterion(by["sat_exp"]) - DELTA_AICC


@pytest.mark.parametrize("seed", [0, 1])
def test_selection_picks_the_onset_form_when_it_is_true(seed: int) -> None:
    ro = _onset_readout(seed)
    res = distill(ro, "onset", 32)
    assert res.selected.name == "exp_onset"
    by = {c.name: c for c in res.candidates}
    assert criterion(by["sat_exp"]) - criterion(by["exp_onset"]) > DELTA_AICC
    assert res.derived["tau_ltp_s"] == pytest.approx(ONSET["tau"], rel=0.05)


def test_threshold_prefers_fewer_parameters_within_delta() -> None:
    """Given AICc values, the simplest candidate within DELTA_AICC of the best wins."""
    ro = _onset_readout(0)
    fits = fit_candidates(ro.time_s, ro.p_l, ro.tau_cycle_s, 32, ["sat_exp", "exp_onset"])
    simple, onset = fits
    simple.eligible = onset.eligible = True
    simple.aicc, onset.aicc = 100.0, 100.0 - DELTA_AICC + 0.5
    assert select_model(fits, "x").name == "sat_exp"
    onset.aicc = 100.0 - DELTA_AICC - 0.5
    assert select_model(fits, "x").name == "exp_onset"


def test_selected_curve_starts_at_the_readout() -> None:
    ro = _onset_readout(3)
    res = distill(ro, "anchor", 32)
    rise = ro.p_l.max() - ro.p_l[0]
    for c in res.candidates:
        if c.eligible:
            assert abs(c.p0 - ro.p_l[0]) <= 0.02 * rise + 3 * NOISE
    assert res.to_json()["candidates"][0]["p0"] == pytest.approx(res.candidates[0].p0)


# --------------------------------------------------------------------------- derived quantities


def test_derived_quantities_of_a_saturating_exponential() -> None:
    tau, tau_c = 8.0, 0.5
    curve = FittedCurve(get_model("sat_exp"), (0.5, tau, 0.1))
    schedules = {16: sat_exp_closed_form(tau_c, tau, 16)}
    d = derived_quantities(curve, tau_c, schedules, {"A": 0.01, "tau": 0.3, "c": 0.001})
    assert d["tau_ltp_s"] == tau and d["tau_ltp_cycles"] == pytest.approx(tau / tau_c)
    assert d["tau_ltp_stderr_s"] == 0.3
    assert d["plateau"] == pytest.approx(0.6) and d["rise"] == pytest.approx(0.5)
    assert d["cycles_to_90"] == pytest.approx(tau * np.log(10) / tau_c, rel=1e-9)
    assert d["shape_ratio_16"] == pytest.approx(np.exp(15 * tau_c / tau), rel=1e-9)
    # forms without a time constant use the 63.2 % rise time, which equals tau here
    assert rise_time(curve, 1 - np.exp(-1)) == pytest.approx(tau, rel=1e-9)
    hill = FittedCurve(get_model("hill"), (1.0, 5.0, 1.0, 0.0))
    d = derived_quantities(hill, 1.0, {})
    assert d["tau_ltp_definition"].startswith("time to 63")
    assert hill(d["tau_ltp_s"]) == pytest.approx(1 - np.exp(-1), rel=1e-9)
    assert d["shape_ratio_16"] is None


def test_retention_json_carries_derived_and_stays_valid() -> None:
    payload = distill(_onset_readout(0), "onset", 64).to_json()
    validate_retention(payload)
    assert set(payload["derived"]) >= {"tau_ltp_s", "tau_ltp_cycles", "plateau",
                                       "cycles_to_90", "shape_ratio_16"}
    for c in payload["candidates"]:
        if c["status"] == "ok" and c["reason"] is None:
            assert set(c["stderr"]) == set(c["params"])
    json.dumps(payload, allow_nan=False)


# --------------------------------------------------------------------------- pairs, bootstrap


def _pairs(n_pairs: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-pair saturating curves with a spread of amplitudes and time constants."""
    rng = np.random.default_rng(seed)
    t = np.arange(33) * 2.0
    A = rng.normal(0.6, 0.1, n_pairs)
    tau = rng.normal(20.0, 3.0, n_pairs)
    pairs = A * -np.expm1(-t[:, None] / tau) + rng.normal(0, 0.01, (t.size, n_pairs))
    pairs[0] = 0.0
    return t, pairs


def test_pair_weights_floor_the_first_point() -> None:
    _, pairs = _pairs()
    mean, sigma = pair_weights(pairs)
    np.testing.assert_allclose(mean, pairs.mean(axis=1))
    assert sigma[0] > 0 and np.all(sigma > 0)
    np.testing.assert_allclose(sigma[1:], np.maximum(pairs[1:].std(axis=1, ddof=1)
                                                    / np.sqrt(40), 0.1 * np.median(sigma[1:])))
    assert pair_weights(np.ones((5, 3)))[1] is None


def test_bootstrap_over_pairs_covers_the_mean_curve_and_repeats() -> None:
    t, pairs = _pairs()
    a = bootstrap_pairs("sat_exp", t, pairs, 2.0, n_boot=60, seed=4)
    b = bootstrap_pairs("sat_exp", t, pairs, 2.0, n_boot=60, seed=4)
    assert a == b and a["failed"] == 0 and a["n_pairs"] == 40
    lo, hi = a["ci95"]["tau_ltp_s"]
    mean, sigma = pair_weights(pairs)
    point = fit_candidate(get_model("sat_exp"), t, mean, 2.0, 1, sigma).params["tau"]
    assert lo < point < hi and hi - lo < 0.5 * point


def test_pair_readout_is_weighted_and_bootstrapped(tmp_path: Path) -> None:
    t, pairs = _pairs()
    df = pd.DataFrame({"cycle": np.arange(t.size), "time_s": t, "p_l": pairs.mean(axis=1)})
    df = pd.concat([df, pd.DataFrame(pairs, columns=[f"pair_{k}" for k in range(40)])], axis=1)
    df.to_csv(tmp_path / "r.csv", index=False)
    ro = read_readout(tmp_path / "r.csv")
    assert ro.pairs.shape == (33, 40)
    res = distill(ro, "tri", 16, n_boot=30)
    payload = res.to_json()
    assert "weighted" in payload["selection"]
    assert payload["bootstrap"]["resamples"] == 30 and "tau_ltp_s" in payload["bootstrap"]["ci95"]
    # a p_l column that is not the mean of the pairs is refused, naming the file
    df["p_l"] = df["p_l"] * 1.1
    df.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"bad\.csv.*not the mean"):
        read_readout(tmp_path / "bad.csv")


# --------------------------------------------------------------------------- warnings reach users


def _weak_csv(tmp_path: Path) -> Path:
    """A readout that ends at ~70 % of its asymptote: a weak-saturation warning."""
    ro = synthetic_readout("sat_exp", dict(A=0.8, tau=50.0, c=0.0), TAU_C, 60, 1e-4, seed=0)
    path = tmp_path / "weak.csv"
    write_readout_csv(path, ro)
    return path


def test_cli_prints_warnings_to_stderr_and_json(tmp_path: Path, capsys) -> None:
    out = tmp_path / "weak.json"
    assert main(["fit", "--readout", str(_weak_csv(tmp_path)), "--condition", "weak",
                 "--max-segments", "32", "--out", str(out), "--plot-dir",
                 str(tmp_path / "plots")]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^warning: condition 'weak': selected .* reaches only", err, re.M)
    payload = json.loads(out.read_text())
    assert payload["warning_kinds"] == ["weakly_saturated"] and payload["quantity"] == "p_l"
    assert_drawn(tmp_path / "plots" / "fit.png")


def _rule_shell(rule: str) -> str:
    """The shell string of ``rule`` in workflow/rules/distill.smk (adjacent literals joined)."""
    text = (REPO / "workflow" / "rules" / "distill.smk").read_text()
    block = text.split(f"rule {rule}:", 1)[1].split("shell:", 1)[1].split("\nrule ", 1)[0]
    lines = [ln.split("#", 1)[0].strip() if ln.strip().startswith("#") else ln.strip()
             for ln in block.strip().splitlines()]
    return "".join(ast.literal_eval(ln) for ln in lines if ln)


def test_distill_rule_copies_warnings_to_stderr(tmp_path: Path) -> None:
    shell = _rule_shell("distill")
    ns = types.SimpleNamespace
    command = shell.format(
        params=ns(python=f"cd {REPO} && {Path(__import__('sys').executable)}", max_segments=32,
                  quantity="p_l"),
        input=ns(readout=_weak_csv(tmp_path)), output=ns(retention=tmp_path / "w.json"),
        wildcards=ns(condition="weak"), log=tmp_path / "w.log",
    ).replace("results/plots/weak", str(tmp_path / "plots"))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", command], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "warning: condition 'weak'" in proc.stderr
    assert "warning: condition 'weak'" in (tmp_path / "w.log").read_text()
    # a failing fit still fails, and its error reaches stderr too
    bad = tmp_path / "flat.csv"
    write_readout_csv(bad, readout_from_arrays(np.arange(10.0), np.ones(10)))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c",
                           command.replace(str(_weak_csv(tmp_path)), str(bad))],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "error: condition 'weak'" in proc.stderr


def test_validation_names_a_bad_derived_quantity() -> None:
    payload = distill(_onset_readout(0), "onset", 16).to_json()
    payload["derived"]["tau_ltp_s"] = "ten seconds"
    with pytest.raises(ValueError, match="derived.tau_ltp_s"):
        validate_retention(payload)
    del payload["derived"]  # older files without it stay readable
    validate_retention(payload)


def test_report_table_shows_tau_ltp_and_warnings(tmp_path: Path) -> None:
    from report.page import ReportInputs, ltp_section

    ro = synthetic_readout("sat_exp", dict(A=0.8, tau=50.0, c=0.0), TAU_C, 60, 1e-4, seed=0)
    with pytest.warns(DistillWarning, match="reaches only"):
        payload = distill(ro, "weak", 32).to_json()
    (tmp_path / "retention").mkdir()
    (tmp_path / "retention" / "weak.json").write_text(json.dumps(payload))
    html = ltp_section(ReportInputs(retention=[tmp_path / "retention" / "weak.json"]))
    assert "<th>warnings</th>" in html and "<th>τ_LTP (s)</th>" in html
    assert "reaches only" in html  # the weak-saturation warning, in its row
    assert f"{payload['derived']['tau_ltp_s']:.4g}" in html
