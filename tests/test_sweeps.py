"""Parameter sweeps: expansion, rejection of bad sweeps before anything runs, non-saturating
points reported (never silently fitted), and a small sweep through Snakemake."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from distill.sweeps import analysis as sweep_analysis
from distill.sweeps import plots as sweep_plots
from pipeline.config import ConfigError, validate_config
from pipeline.sweeps import allowed_parameters, base_parameters, expand_sweep, resolve_sweep_point
from tests.drawn import assert_drawn

REPO = Path(__file__).resolve().parents[1]


def _config(**sweeps) -> dict:
    return {"simulation": {}, "retention": {"max_segments": 16},
            "conditions": {"base": {}, "tri": {"model": "tripartite"}}, "sweeps": sweeps}


def test_log_range_expands_to_quantities_in_the_unit_of_start():
    config = validate_config(_config(og={"condition": "tri", "parameters": [
        {"name": "tripartite.synapse.O_G",
         "range": {"start": "0.05 /uM/s", "stop": "2 /uM/s", "num": 20, "scale": "log"}}]}))
    points = expand_sweep(config, "og")
    assert [p["point"] for p in points] == [f"p{k:03d}" for k in range(20)]
    values = [p["values"]["tripartite.synapse.O_G"] for p in points]
    assert values[0] == "0.05 /uM/s" and values[-1] == "2 /uM/s"
    numbers = np.array([float(v.split()[0]) for v in values])
    np.testing.assert_allclose(np.diff(np.log(numbers)), np.log(40) / 19, rtol=1e-4)
    params = resolve_sweep_point(config, "og", "p003")
    assert params["tripartite"]["synapse"]["O_G"] == values[3]
    assert params["condition"] == "og-p003" and params["model"] == "tripartite"
    assert params["sweep"] == {"name": "og", "point": "p003",
                               "values": {"tripartite.synapse.O_G": values[3]}}


def test_two_parameter_grid_and_rate_model_values():
    config = validate_config(_config(grid={"parameters": [
        {"name": "constants.tau_pl", "values": ["5 s", "10 s", "20 s"]},
        {"name": "network.n_pre", "range": {"start": 2, "stop": 4, "num": 2}}]}))
    points = expand_sweep(config, "grid")
    assert len(points) == 6
    assert points[1]["values"] == {"constants.tau_pl": "5 s", "network.n_pre": 4}
    assert isinstance(points[0]["values"]["network.n_pre"], int)
    assert resolve_sweep_point(config, "grid", "p005")["constants"]["tau_pl"] == "20 s"


def test_allowed_parameters_cover_both_models():
    config = validate_config(_config())
    config["sweeps"] = {"t": {"model": "tripartite", "parameters": []},
                        "r": {"model": "rate", "parameters": []}}
    tri = allowed_parameters(base_parameters(config, "t"))
    rate = allowed_parameters(base_parameters(config, "r"))
    assert {"tripartite.synapse.O_G", "tripartite.protocol.rate", "tripartite.n_pairs"} <= set(tri)
    assert {"constants.tau_pl", "nonlinearities.psi.gain", "protocol.drive"} <= set(rate)
    assert "seed" not in tri + rate and "tripartite.target" not in tri


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ({"name": "tripartite.synapse.O_X", "values": [1]},
         r"unknown parameter 'tripartite.synapse.O_X'.*allowed parameters:.*synapse\.O_G"),
        ({"name": "tripartite.synapse.O_G",
          "range": {"start": "0.1 /uM/s", "stop": "1 /uM/s", "num": 0}}, "empty range"),
        ({"name": "tripartite.synapse.O_G", "values": []}, "empty list of values"),
        ({"name": "tripartite.synapse.O_G",
          "range": {"start": "1 /uM/s", "stop": "1 /uM/s", "num": 5}}, "start equals stop"),
        ({"name": "tripartite.synapse.O_G", "values": ["1 uM/s"]}, "does not have the dimension"),
        ({"name": "tripartite.synapse.O_G",
          "range": {"start": "0 /uM/s", "stop": "1 /uM/s", "num": 3, "scale": "log"}},
         "log range needs positive"),
        ({"name": "tripartite.synapse.alpha", "values": [0.5, 2.0]}, "at most 1"),
        ({"name": "tripartite.synapse.O_G", "values": ["1 /uM/s"], "range": {
            "start": "1 /uM/s", "stop": "2 /uM/s", "num": 2}}, "either 'values' or 'range'"),
    ],
)
def test_bad_sweeps_are_rejected_by_the_config_loader(parameter, expected):
    with pytest.raises(ConfigError, match=expected) as err:
        validate_config(_config(bad={"condition": "tri", "parameters": [parameter]}))
    assert "sweeps.bad" in str(err.value)


def test_sweep_base_condition_must_exist_and_match_the_model():
    with pytest.raises(ConfigError, match="unknown condition 'nope'"):
        validate_config(_config(s={"condition": "nope", "parameters": [
            {"name": "constants.tau_pl", "values": ["5 s"]}]}))
    with pytest.raises(ConfigError, match="uses the 'tripartite' model"):
        validate_config(_config(s={"condition": "tri", "model": "rate", "parameters": [
            {"name": "constants.tau_pl", "values": ["5 s"]}]}))


def test_default_config_sweep_has_at_least_20_points(default_config):
    config = validate_config(default_config)
    assert config["sweeps"]
    assert any(len(expand_sweep(config, name)) >= 20 for name in config["sweeps"])


# --- non-saturating points ------------------------------------------------------------------

def _readout_csv(path: Path, p: np.ndarray, tau_cycle: float = 1.0) -> Path:
    pd.DataFrame({"cycle": np.arange(p.size), "time_s": np.arange(p.size) * tau_cycle,
                  "p_l": p}).to_csv(path, index=False)
    return path


def _point(name: str) -> dict:
    return {"condition": f"s-{name}", "sweep": {"name": "s", "point": name,
                                                "values": {"constants.tau_pl": "1 s"}}}


def test_non_saturating_and_flat_points_are_reported_not_fitted(tmp_path):
    t = np.arange(17.0)
    growing = _readout_csv(tmp_path / "g.csv", 0.01 * t)            # still growing linearly
    flat = _readout_csv(tmp_path / "f.csv", np.zeros(17))
    good = _readout_csv(tmp_path / "ok.csv", 1 - np.exp(-t / 3))
    weak = _readout_csv(tmp_path / "w.csv", 1 - np.exp(-t / 9))      # ~83 % of its asymptote
    fits = [sweep_analysis.fit_point(path, _point(f"p00{k}"), 16)
            for k, path in enumerate([growing, flat, good, weak])]
    assert [f["status"] for f in fits] == ["not saturated", "no rise", "ok", "weakly saturated"]
    assert fits[0]["retention"] is None and "still growing" in fits[0]["reason"]
    assert fits[2]["retention"]["macro_model"]["r2"] > 0.999 and fits[2]["reason"] is None
    assert fits[3]["retention"] is not None and "not fully saturated" in fits[3]["reason"]
    for k, f in enumerate(fits):
        f["values"] = {"constants.tau_pl": f"{k + 1} s"}
    table = sweep_analysis.sweep_table(fits, [4, 8])
    assert list(table["status"]) == ["not saturated", "no rise", "ok", "weakly saturated"]
    assert np.isnan(table.loc[0, "r2"]) and table.loc[0, "reason"].startswith("condition")
    assert table.loc[2, "model"] == "sat_exp" and table.loc[2, "tau_s"] == pytest.approx(3, 1e-3)
    rf = json.loads(table.loc[2, "RF_T8"])
    assert len(rf) == 8 and abs(sum(rf) - 1) < 1e-9
    assert table.loc[2, "constants.tau_pl [s]"] == 3.0

    readouts = {f["point"]: pd.read_csv(p) for f, p in zip(fits, [growing, flat, good, weak],
                                                              strict=True)}
    by_point = {f["point"]: f for f in fits}
    sweep_plots.plot_ltp_curves(table, readouts, by_point, "constants.tau_pl", tmp_path / "c.png")
    sweep_plots.plot_fit_vs_parameter(table, "constants.tau_pl", tmp_path / "f.png")
    sweep_plots.plot_schedules(table, by_point, "constants.tau_pl", [4, 8], tmp_path / "s.png")
    for name in ("c", "f", "s"):
        assert_drawn(tmp_path / f"{name}.png")



def test_command_line_fits_points_and_aggregates_a_sweep(tmp_path):
    """`python -m distill.sweeps` (the workflow's commands) from another directory: each point
    gets its fit JSON, the aggregate a table whose rows and statuses match the points."""
    t = np.arange(17.0)
    sweep_dir = tmp_path / "sweeps" / "s"
    curves = {"p000": 1 - np.exp(-t / 3), "p001": 0.01 * t}  # saturating, still growing
    for k, (name, p) in enumerate(curves.items()):
        point = sweep_dir / "points" / name
        point.mkdir(parents=True)
        _readout_csv(point / "readout.csv", p)
        params = _point(name)
        params["sweep"]["values"] = {"constants.tau_pl": f"{k + 1} s"}
        (point / "params.json").write_text(json.dumps(params))
        fit = subprocess.run(
            [sys.executable, "-m", "distill.sweeps", "fit-point", "--readout",
             str(point / "readout.csv"), "--params", str(point / "params.json"),
             "--max-segments", "8", "--out", str(point / "fit.json")],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        assert fit.returncode == 0, fit.stderr
        written = json.loads((point / "fit.json").read_text())
        assert written == sweep_analysis.fit_point(point / "readout.csv", params, 8)
    agg = subprocess.run(
        [sys.executable, "-m", "distill.sweeps", "aggregate", "--sweep-dir", str(sweep_dir),
         "--segments", "4", "8"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert agg.returncode == 0, agg.stderr
    assert "warning: s p001: not saturated" in agg.stderr
    table = pd.read_csv(sweep_dir / "table.csv")
    assert list(table["point"]) == ["p000", "p001"]
    assert list(table["status"]) == ["ok", "not saturated"]
    for plot in ("ltp_curves", "fit_vs_parameter", "schedules"):
        assert_drawn(sweep_dir / f"{plot}.png")
    one = subprocess.run(
        [sys.executable, "-m", "distill.sweeps", "aggregate", "--sweep-dir", str(sweep_dir),
         "--heatmap-only"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert one.returncode == 2 and "needs a two-parameter sweep" in one.stderr

def test_model_switches_are_found_between_neighbouring_fitted_points():
    col = "tripartite.synapse.O_G [/uM/s]"
    table = pd.DataFrame({
        "point": [f"p{k}" for k in range(5)], col: [0.1, 0.2, 0.4, 0.8, 1.6],
        "status": ["ok", "ok", "not saturated", "ok", "weakly saturated"],
        "model": ["sat_exp", "sat_exp", np.nan, "exp_onset", "hill"]})
    switches = sweep_plots.model_switches(table.sample(frac=1, random_state=0),
                                          "tripartite.synapse.O_G")
    # log-spaced values: the mark sits at the geometric mean of the two fitted neighbours
    assert switches == [(pytest.approx(np.sqrt(0.2 * 0.8)), "sat_exp", "exp_onset"),
                        (pytest.approx(np.sqrt(0.8 * 1.6)), "exp_onset", "hill")]
    assert sweep_plots.model_switches(table.assign(model="sat_exp"),
                                      "tripartite.synapse.O_G") == []


# --- through Snakemake ----------------------------------------------------------------------

def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(config), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def _tiny_sweep_config() -> dict:
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["sweeps"] = {"tau_grid": {
        "description": "tiny two-parameter sweep (one point does not saturate)",
        "condition": "baseline",
        "parameters": [{"name": "constants.tau_pl", "values": ["2 s", "60 s"]},
                       {"name": "protocol.drive", "values": [1.5, 2.0]}],
        "schedule_segments": [4, 8]}}
    return config


def test_bad_sweep_stops_snakemake_before_any_job(tmp_path):
    config = _tiny_sweep_config()
    config["sweeps"]["tau_grid"]["parameters"][0]["name"] = "constants.tau_typo"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, bad, "-n")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "unknown parameter 'constants.tau_typo'" in out
    assert "constants.tau_pl" in out  # the allowed names are listed
    config = copy.deepcopy(_tiny_sweep_config())
    config["sweeps"]["tau_grid"]["parameters"][1] = {
        "name": "protocol.drive", "range": {"start": 1.0, "stop": 2.0, "num": 0}}
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, bad, "--cores", "1")
    assert result.returncode != 0 and "empty range" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_small_sweep_runs_flags_the_non_saturating_point_and_reruns_only_changes(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(_tiny_sweep_config()))
    target = "results/sweeps/tau_grid/heatmap.png"
    result = snakemake(tmp_path, config, "--cores", "2", target)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_dir = tmp_path / "results" / "sweeps" / "tau_grid"
    table = pd.read_csv(sweep_dir / "table.csv")
    assert len(table) == 4 and set(table["point"]) == {"p000", "p001", "p002", "p003"}
    slow = table[table["constants.tau_pl"] == "60 s"]
    assert set(slow["status"]) == {"not saturated"} and slow["r2"].isna().all()
    fast = table[table["constants.tau_pl"] == "2 s"]
    assert set(fast["status"]) <= {"ok", "poor fit"} and (fast["r2"] > 0.98).all()
    assert "RF_T8" in table and "RF1_T4" in table
    for plot in ("ltp_curves", "fit_vs_parameter", "schedules", "heatmap"):
        assert_drawn(sweep_dir / f"{plot}.png")
    log = (tmp_path / "logs" / "sweep_aggregate" / "tau_grid.log").read_text()
    assert "not saturated" in log

    data = yaml.safe_load(config.read_text())
    data["sweeps"]["tau_grid"]["parameters"][1]["values"] = [1.5, 1.8]
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    dry = snakemake(tmp_path, changed, "-n", target)
    out = dry.stdout + dry.stderr
    assert dry.returncode == 0, out
    assert set(re.findall(r"point=(p\d{3})", out)) == {"p001", "p003"}, out

    # a smaller sweep: the table holds its points only, not the folders the larger one left
    data["sweeps"]["tau_grid"]["parameters"][1]["values"] = [1.5]
    changed.write_text(yaml.safe_dump(data))
    result = snakemake(tmp_path, changed, "--cores", "2", "results/sweeps/tau_grid/table.csv")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (sweep_dir / "points" / "p003" / "fit.json").exists()  # left behind, not read
    assert list(pd.read_csv(sweep_dir / "table.csv")["point"]) == ["p000", "p001"]


def test_sweep_axis_labels_name_the_parameter_and_its_unit_not_the_config_path():
    table = pd.DataFrame({"tripartite.synapse.O_G [/uM/s]": [1.0], "constants.tau_pl [s]": [2.0],
                          "network.n_pre [1]": [4.0]})
    assert (sweep_plots.axis_label(table, "tripartite.synapse.O_G")
            == "gliotransmitter receptor activation rate O_G (µM⁻¹ s⁻¹)")
    assert sweep_plots.axis_label(table, "constants.tau_pl") == (
        "long-term process time constant τ_pl (s)")
    assert sweep_plots.axis_label(table, "network.n_pre") == "presynaptic neurons"


def test_every_sweep_status_has_a_plot_marker():
    assert set(sweep_analysis.STATUSES) <= set(sweep_plots._MARK)
