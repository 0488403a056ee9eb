"""The sensitivity analysis (docs/design.md §2.4): elasticities recovered on a synthetic model
with a known answer, invalid and failing points reported (never a crash), the per-point cache
and the workflow rerunning only a changed parameter, and the rate model's prediction checked
against a cheap simulation."""

from __future__ import annotations

import html
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from distill.retention import sat_exp_closed_form
from distill.sensitivity import points as sensitivity_points
from distill.sensitivity.__main__ import main
from distill.sensitivity.elasticity import elasticities, schedule_changes
from pipeline import sensitivity
from pipeline.config import ConfigError, validate_config
from pipeline.resolve import dump_resolved, resolve_condition
from report.sensitivity import sensitivity_section

REPO = Path(__file__).resolve().parents[1]

# --- a synthetic model with a known answer -------------------------------------------------------
#: tau_LTP = TAU0 (tau_pl / 10 s)^K_TAU; plateau = A0 (drive / 1.5)^K_PLATEAU; beta: nothing.
TAU0, K_TAU, A0, K_PLATEAU = 6.0, 1.5, 0.8, 2.0


def _synthetic_curve(params: dict) -> tuple[float, float]:
    tau_pl = float(params["constants"]["tau_pl"].split()[0])
    tau = TAU0 * (tau_pl / 10.0) ** K_TAU
    plateau = A0 * (params["protocol"]["drive"] / 1.5) ** K_PLATEAU
    return tau, plateau


def fake_simulate(params: dict) -> SimpleNamespace:
    """A closed-form saturating curve instead of Brian2 (64 cycles of 1 s); some points fail
    on purpose: constants.beta plus raises, constants.tau_s plus never saturates."""
    side = (params.get("sensitivity") or {}).get("side")
    name = (params.get("sensitivity") or {}).get("parameter")
    if (name, side) == ("constants.beta", "plus"):
        raise RuntimeError("state diverged (synthetic)")
    tau, plateau = _synthetic_curve(params)
    if (name, side) == ("constants.tau_s", "plus"):
        tau = 1000.0
    t = np.arange(65, dtype=float)
    readout = pd.DataFrame({"cycle": np.arange(65), "time_s": t,
                            "p_l": plateau * -np.expm1(-t / tau)})
    return SimpleNamespace(readout=readout, info={"compile_s": None})


def _config(parameters: list[str], step: float = 0.2, steps: dict | None = None) -> dict:
    return validate_config({
        "seed": 3,
        "simulation": {"target": "numpy", "dt": "10 ms", "record_dt": "100 ms",
                       "protocol": {"n_cycles": 64, "on_time": "0.9 s", "drive_jitter": 0.9}},
        "conditions": {"base": {}},
        "retention": {"max_segments": 16},
        "sensitivity": {"parameters": parameters, "step": step, "steps": steps or {},
                        "segments": [8, 4]}})


def _run(tmp_path: Path, config: dict, monkeypatch) -> tuple[pd.DataFrame, dict]:
    """Write the plans and the base readout, run the command line with the synthetic model."""
    monkeypatch.setattr(sensitivity_points, "_simulate", fake_simulate)
    base = resolve_condition(config, "base")
    (tmp_path / "params.json").write_text(dump_resolved(base))
    fake_simulate(base).readout.to_csv(tmp_path / "readout.csv", index=False)
    plans = []
    for name in sensitivity.condition_parameters(config, "base"):
        path = tmp_path / "points" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(dump_resolved(sensitivity.perturbation(config, "base", name)))
        plans.append(str(path))
    argv = ["run", "--plans", *plans, "--base-readout", str(tmp_path / "readout.csv"),
            "--base-params", str(tmp_path / "params.json"), "--max-segments", "16",
            "--segments", "8", "4", "--cache-dir", str(tmp_path / "cache"),
            "--out-csv", str(tmp_path / "out.csv"), "--out-png", str(tmp_path / "out.png"),
            "--out-json", str(tmp_path / "out.json")]
    assert main(argv) == 0
    return (pd.read_csv(tmp_path / "out.csv").set_index("parameter"),
            json.loads((tmp_path / "out.json").read_text()))


def _finite_difference(k: float, h: float) -> tuple[float, float, float]:
    """Central, minus and plus elasticity of y = x^k at steps ±h (what the analysis measures)."""
    return (((1 + h) ** k - (1 - h) ** k) / (2 * h), (1 - (1 - h) ** k) / h,
            ((1 + h) ** k - 1) / h)


def _ratio(tau: float, T: int) -> float:
    rf = sat_exp_closed_form(1.0, tau, T)
    return rf[0] / rf[-1]


@pytest.mark.parametrize("step", [0.2, 0.01])
def test_elasticities_of_a_known_power_law_are_recovered(tmp_path, monkeypatch, step):
    config = _config(["constants.tau_pl", "protocol.drive", "constants.tau_n"], step=step)
    table, summary = _run(tmp_path, config, monkeypatch)
    central, minus, plus = _finite_difference(K_TAU, step)
    row = table.loc["constants.tau_pl"]
    assert row["status"] == "ok" and row["fit_base"] == "sat_exp"
    assert row["elasticity_tau"] == pytest.approx(central, abs=2e-4)
    assert row["elasticity_tau_minus"] == pytest.approx(minus, abs=2e-4)
    assert row["elasticity_tau_plus"] == pytest.approx(plus, abs=2e-4)
    if step == 0.01:  # small steps: the derivative itself, the power
        assert row["elasticity_tau"] == pytest.approx(K_TAU, abs=2e-3)
    assert abs(row["elasticity_plateau"]) < 1e-4  # tau_pl does not move the plateau
    # the schedule: RF(1,T)/RF(T,T) of a saturating exponential at the three time constants
    for T in (8, 4):
        taus = [TAU0 * (1 + s * step) ** K_TAU for s in (-1, 0, 1)]
        r = [_ratio(tau, T) for tau in taus]
        assert row[f"ratio_T{T}_base"] == pytest.approx(r[1], rel=1e-5)
        assert row[f"elasticity_ratio_T{T}"] == pytest.approx((r[2] - r[0]) / r[1] / (2 * step),
                                                              rel=1e-3)
        rf = {s: sat_exp_closed_form(1.0, tau, T) for s, tau in zip("m0p", taus, strict=True)}
        assert row[f"max_abs_dRF_T{T}"] == pytest.approx(
            max(np.abs(rf["m"] - rf["0"]).max(), np.abs(rf["p"] - rf["0"]).max()), rel=1e-3)
    assert row["schedule_elasticity"] == row["elasticity_ratio_T8"]  # the first T
    # drive moves only the plateau (power 2); tau_n moves nothing
    drive = table.loc["protocol.drive"]
    assert drive["elasticity_plateau"] == pytest.approx(_finite_difference(K_PLATEAU, step)[0],
                                                        abs=2e-4)
    assert abs(drive["elasticity_tau"]) < 1e-4 and abs(drive["schedule_elasticity"]) < 1e-4
    assert drive["moves_schedule"] == "no" and row["moves_schedule"] == "yes"
    assert abs(table.loc["constants.tau_n", "schedule_elasticity"]) < 1e-4
    assert [m["parameter"] for m in summary["moves_schedule"]] == ["constants.tau_pl"]
    assert set(summary["does_not_move"]) == {"protocol.drive", "constants.tau_n"}
    assert summary["fit_changes"] == []  # every point is fitted by the same form
    assert "1 of 3 parameters move the schedule RF(·, 8)" in summary["sentence"]
    assert (tmp_path / "out.png").stat().st_size > 10_000
    page = sensitivity_section([tmp_path / f"out.{ext}" for ext in ("csv", "json", "png")])
    assert html.escape(summary["sentence"]) in page
    assert "Do not move the schedule: protocol.drive, constants.tau_n." in page


def test_elasticity_formulas_and_missing_sides():
    e = elasticities(2.0, 10.0, {"minus": 1.6, "plus": 2.4}, {"minus": 8.0, "plus": 13.0})
    assert e["central"] == pytest.approx((13 - 8) / 10 / 0.4)
    assert e["minus"] == pytest.approx((8 - 10) / 10 / -0.2)
    assert e["plus"] == pytest.approx((13 - 10) / 10 / 0.2)
    one = elasticities(2.0, 10.0, {"minus": None, "plus": 2.4}, {"minus": None, "plus": 13.0})
    assert math.isnan(one["central"]) and math.isnan(one["minus"])
    assert one["plus"] == pytest.approx(1.5)
    assert all(math.isnan(v) for v in elasticities(0.0, 1.0, {"minus": 1, "plus": 2},
                                                   {"minus": 1, "plus": 2}).values())
    changes = schedule_changes([0.5, 0.3, 0.2], {"minus": [0.4, 0.35, 0.25], "plus": None})
    assert changes["max_abs_dRF"] == pytest.approx(0.1)
    assert changes["max_rel_dRF"] == pytest.approx(0.25)


def test_a_change_of_selected_macro_model_is_named():
    from distill.sensitivity.summary import fit_changes

    table = pd.DataFrame({"parameter": ["a", "b", "c"], "fit_base": ["sat_exp"] * 3,
                          "fit_minus": ["sat_exp", "hill", ""], "fit_plus": ["sat_exp", "sat_exp",
                                                                            "sat_exp"]})
    assert fit_changes(table) == ["b"]  # an invalid side ("") is no change


def test_invalid_and_failing_points_are_reported_not_crashed_on(tmp_path, monkeypatch):
    config = _config(["constants.tau_pl", "protocol.on_time", "protocol.drive_jitter",
                      "nonlinearities.phi.threshold", "constants.beta", "constants.tau_s"])
    plans = {p: sensitivity.perturbation(config, "base", p)["points"]
             for p in sensitivity.condition_parameters(config, "base")}
    # invalid points: on_time 1.08 s >= period 1 s; jitter 1.08 > 1 (schema); threshold 0
    assert not plans["protocol.on_time"]["plus"]["valid"]
    assert "shorter than the period" in plans["protocol.on_time"]["plus"]["reason"]
    assert plans["protocol.on_time"]["minus"]["valid"]
    assert "1.08 is greater than the maximum of 1" in plans["protocol.drive_jitter"]["plus"][
        "reason"]
    assert not any(p["valid"] for p in plans["nonlinearities.phi.threshold"].values())
    assert "is 0" in plans["nonlinearities.phi.threshold"]["minus"]["reason"]
    table, summary = _run(tmp_path, config, monkeypatch)
    assert table.loc["constants.tau_pl", "status"] == "ok"
    for name in ("protocol.on_time", "protocol.drive_jitter"):
        row = table.loc[name]
        assert row["status"] == "one-sided" and "plus: invalid" in row["reason"]
        assert math.isnan(row["elasticity_tau"]) and math.isfinite(row["elasticity_tau_minus"])
        assert math.isfinite(row["schedule_elasticity"])  # the one-sided value stands
    threshold = table.loc["nonlinearities.phi.threshold"]
    assert threshold["status"] == "invalid" and pd.isna(threshold["moves_schedule"])
    beta = table.loc["constants.beta"]  # the simulation raised
    assert beta["status"] == "one-sided"
    assert "plus: failed: simulation failed: RuntimeError: state diverged" in beta["reason"]
    tau_s = table.loc["constants.tau_s"]  # the fit refused a readout that never saturates
    assert tau_s["status"] == "one-sided" and "plus: not saturated" in tau_s["reason"]
    assert {m["parameter"] for m in summary["not_measured"]} == {"nonlinearities.phi.threshold"}


def test_cache_recomputes_only_the_points_of_a_changed_parameter(tmp_path, monkeypatch, capsys):
    names = ["constants.tau_pl", "protocol.drive", "constants.tau_n"]
    _run(tmp_path, _config(names), monkeypatch)
    assert "6 points computed, 0 reused" in capsys.readouterr().out
    _run(tmp_path, _config(names), monkeypatch)
    assert "0 points computed, 6 reused" in capsys.readouterr().out
    table, summary = _run(tmp_path, _config(names, steps={"protocol.drive": 0.1}),
                             monkeypatch)
    assert "2 points computed, 4 reused" in capsys.readouterr().out
    assert float(table.loc["protocol.drive", "value_plus"]) == pytest.approx(1.65)
    assert summary["cost"]["cache_files_removed"] == 4  # the old drive points (JSON + CSV)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 6


def test_config_block_is_checked_and_defaults_follow_the_primary_task(default_config):
    config = validate_config({**default_config, "sensitivity": {}})  # the schema's defaults
    assert config["sensitivity"]["step"] == 0.2 and config["sensitivity"]["threshold"] == 0.05
    assert sensitivity.sensitivity_segments(config) == [8]  # 128 tokens / 16 per segment
    assert sensitivity.sensitivity_conditions(config) == list(config["conditions"])
    rate = sensitivity.condition_parameters(config, "baseline")
    assert {"constants.tau_pl", "constants.gamma_l", "protocol.period",
            "nonlinearities.kappa.gain", "network.synapse_spacing"} <= set(rate)
    assert not {"dt", "record_dt", "protocol.n_cycles", "network.n_pre"} & set(rate)
    tri = sensitivity.condition_parameters(config, "tripartite")
    assert "tripartite.synapse.O_G" in tri and "tripartite.n_pairs" not in tri
    assert len(tri) == 45
    bad = {**default_config, "sensitivity": {"parameters": ["constants.tau_typo"]}}
    with pytest.raises(ConfigError, match="unknown parameter 'constants.tau_typo'.*tau_pl"):
        validate_config(bad)
    bad = {**default_config, "sensitivity": {"parameters": ["dt"]}}
    with pytest.raises(ConfigError, match="'dt' is not perturbed: integration time step"):
        validate_config(bad)
    bad = {**default_config, "sensitivity": {"segments": [100]}}
    with pytest.raises(ConfigError, match="sensitivity.segments"):
        validate_config(bad)
    bad = {**default_config, "sensitivity": {"step": 1.5}}
    with pytest.raises(ConfigError, match="sensitivity.step"):
        validate_config(bad)
    absent = {k: v for k, v in default_config.items() if k != "sensitivity"}
    assert sensitivity.sensitivity_targets(validate_config(absent)) == []


# --- the rate model's prediction on a cheap simulation ------------------------------------------

def test_rate_model_schedule_depends_only_on_tau_pl_gamma_l_and_the_period(tmp_path):
    """docs/design.md §2.4: tau_LTP = tau_pl / gamma_l; every other parameter moves only the
    plateau. Numpy target, dt 10 ms, 48 cycles, tau_pl 10 s (with tau_pl 4 s and 16 cycles the
    fast transient is not separated from tau_l and the prediction is off by up to 0.2)."""
    from distill.sensitivity.points import fit_readout, run_point
    from distill.sensitivity.table import sensitivity_table
    from simulation.rate_model import simulate

    names = ["constants.tau_pl", "constants.gamma_l", "protocol.period",
             "nonlinearities.kappa.gain", "protocol.drive", "constants.coupling_strength"]
    config = validate_config({
        "seed": 7, "conditions": {"base": {}}, "retention": {"max_segments": 16},
        "simulation": {"target": "numpy", "dt": "10 ms", "record_dt": "100 ms",
                       "protocol": {"n_cycles": 48}, "constants": {"tau_pl": "10 s"}},
        "sensitivity": {"parameters": names, "segments": [8]}})
    base_params = resolve_condition(config, "base")
    simulate(base_params, progress=False).readout.to_csv(tmp_path / "base.csv", index=False)
    base = fit_readout(tmp_path / "base.csv", base_params, 16)
    plans = [sensitivity.perturbation(config, "base", name) for name in names]
    results = {plan["parameter"]: {side: run_point(p["params"], 16, tmp_path / f"{k}{side}.csv")
                                   for side, p in plan["points"].items()}
               for k, plan in enumerate(plans)}
    table = sensitivity_table(plans, base, results, [8], 0.05, 0.05,
                              base_params).set_index("parameter")
    assert (table["status"] == "ok").all()
    assert table.loc["constants.tau_pl", "elasticity_tau"] == pytest.approx(1.0, abs=0.05)
    assert table.loc["constants.gamma_l", "elasticity_tau"] == pytest.approx(-1.04, abs=0.05)
    # the schedule depends on tau_c / tau_l: tau_pl and gamma_l (or the period) move it oppositely
    assert table.loc["constants.tau_pl", "schedule_elasticity"] < -0.5
    assert table.loc["protocol.period", "schedule_elasticity"] > 0.5
    others = table.drop(index=["constants.tau_pl", "constants.gamma_l", "protocol.period"])
    assert others["elasticity_tau"].abs().max() < 0.05
    assert (others["moves_schedule"] == "no").all()
    assert others["elasticity_plateau"].abs().max() > 0.05  # they do move the plateau
    assert (table["theory"] == "agrees").all(), table[["elasticity_tau",
                                                       "expected_elasticity_tau"]]


# --- through Snakemake -----------------------------------------------------------------------

def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(config), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def test_workflow_runs_the_analysis_and_a_changed_step_reruns_only_that_parameter(tmp_path):
    data = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    target = "results/sensitivity/baseline.csv"
    result = snakemake(tmp_path, config, "--cores", "2", target)
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(tmp_path / target)
    assert list(table["parameter"]) == data["sensitivity"]["parameters"]
    assert (tmp_path / "results" / "sensitivity" / "baseline.png").stat().st_size > 10_000
    data["sensitivity"]["steps"] = {"nonlinearities.kappa.gain": 0.1}
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    dry = snakemake(tmp_path, changed, "-n", target)
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out
    assert re.findall(r"parameter=([\w.]+)", out) == ["nonlinearities.kappa.gain"], out
    assert "rule simulate" not in out and "rule resolve_condition" not in out
    result = snakemake(tmp_path, changed, "--cores", "2", target)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (tmp_path / "logs" / "sensitivity" / "baseline.log").read_text()
    assert "2 points computed, 2 reused from the cache" in log


def test_tripartite_parameters_that_enter_as_one_product_move_it_alike():
    """docs/design.md §2.4: O_G, rho_e and G_T enter Gamma_S only through O_G rho_e G_T (the
    gliotransmitter released, times the binding rate); the same seed gives the same spikes, so
    a 20 % step of any of them gives the same readout (and the same elasticities)."""
    from simulation.tripartite import simulate

    config = validate_config({
        "seed": 11, "retention": {"max_segments": 8},
        "conditions": {"tiny": {"model": "tripartite"}},
        "simulation": {"tripartite": {"target": "numpy", "dt": "2 ms", "record_dt": "20 ms",
                                      "n_pairs": 10, "n_recorded": 1,
                                      "protocol": {"n_cycles": 3}}},
        "sensitivity": {"parameters": ["tripartite.synapse.O_G", "tripartite.astrocyte.rho_e",
                                       "tripartite.astrocyte.G_T"]}})
    readouts = [simulate(sensitivity.perturbation(config, "tiny", name)["points"]["plus"][
        "params"], progress=False).readout["p_l"].to_numpy()
                for name in sensitivity.condition_parameters(config, "tiny")]
    assert readouts[0][-1] > 0.01  # gliotransmitter did reach the receptors
    for other in readouts[1:]:
        np.testing.assert_allclose(other, readouts[0], rtol=1e-9, atol=1e-12)


def test_command_line_refuses_bad_input_before_any_point(tmp_path, capsys):
    config = _config(["constants.tau_pl"])
    plan = tmp_path / "plan.json"
    plan.write_text(dump_resolved(sensitivity.perturbation(config, "base", "constants.tau_pl")))
    other = {**resolve_condition(config, "base"), "condition": "other"}
    (tmp_path / "params.json").write_text(dump_resolved(other))
    argv = ["run", "--plans", str(plan), "--base-readout", str(tmp_path / "readout.csv"),
            "--base-params", str(tmp_path / "params.json"), "--max-segments", "16",
            "--segments", "8", "--cache-dir", str(tmp_path / "cache"),
            "--out-csv", str(tmp_path / "out.csv"), "--out-png", str(tmp_path / "out.png"),
            "--out-json", str(tmp_path / "out.json")]
    assert main(argv) == 2
    assert "plans of ['base'] but base parameters of 'other'" in capsys.readouterr().err
    (tmp_path / "params.json").write_text(dump_resolved(resolve_condition(config, "base")))
    assert main(argv) == 2  # the condition's readout does not exist
    assert "readout.csv does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "cache").exists()
