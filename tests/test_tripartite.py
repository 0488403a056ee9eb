"""The spiking tripartite synapse: regime checks, saturation and distillation, targets agree,
run-time parameters without recompiling, configuration errors, command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from distill import distill
from distill.io import read_readout, readout_from_arrays, validate_retention
from pipeline.config import ConfigError, validate_config
from simulation.__main__ import main
from simulation.standalone import compiler_available
from simulation.tripartite import simulate, structure
from tests.conftest import small_tripartite_params
from tests.drawn import assert_drawn

REPO = Path(__file__).resolve().parents[1]
needs_compiler = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler")

# One compiled structure serves every standalone test: 50 pairs, 40 stimulated cycles of 2 s
# and 20 rest cycles. Numpy runs with only 2 cycles share its first 4 s exactly (same seed,
# same random-number stream), which keeps the numpy side fast.
STANDALONE = {"n_pairs": 50, "protocol": {"n_cycles": 40, "rest_cycles": 20}}
NUMPY_PREFIX = {"n_pairs": 50, "protocol": {"n_cycles": 2, "rest_cycles": 0}}


def _gamma(result, element="mean") -> pd.Series:
    t = result.traces
    return t[(t["variable"] == "Gamma_S") & (t["element"] == element)].set_index("time_s")["value"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("brian_cache"))


def _standalone(cache: str, **overrides) -> dict:
    params = small_tripartite_params(target="cpp_standalone", **STANDALONE)
    params["cache_dir"] = cache
    for section, values in overrides.items():
        params["tripartite"][section].update(values)
    return params


@pytest.fixture(scope="module")
def default_run(cache):
    """The default parameters on the shared standalone project (compiled here, once)."""
    if not compiler_available():
        pytest.skip("no C++ compiler")
    return simulate(_standalone(cache), progress=False)


@needs_compiler
def test_readout_integrates_saturates_and_distills(default_run):
    p = default_run.readout["p_l"].to_numpy()
    assert len(p) == 41 and p[0] == 0.0
    assert p[-1] > 0.5, "mean Gamma_S must rise substantially"
    early, late = p[10] - p[0], p[40] - p[30]  # cycles of 2 s
    assert late < 0.25 * early, "growth must slow down (saturation)"
    readout = readout_from_arrays(default_run.readout["time_s"].to_numpy(), p)
    result = distill(readout, "tripartite", max_segments=32)
    payload = result.to_json()
    validate_retention(payload)
    assert payload["macro_model"]["r2"] >= 0.98
    assert payload["macro_model"]["saturation_fraction"] >= 0.9
    for T, rf in result.schedules.items():
        assert np.all(rf > 0) and abs(rf.sum() - 1) < 1e-9 and np.all(np.diff(rf) <= 1e-15), T


@needs_compiler
def test_regime_gamma_and_release_probability_bounds(default_run):
    traces = default_run.traces
    gamma = traces[traces["variable"] == "Gamma_S"]["value"]
    assert gamma.min() >= 0.0 and gamma.max() <= 1.0
    u0 = traces[traces["variable"] == "U_0"]["value"]
    u0_star, alpha = 0.6, 1.0
    assert u0.min() >= u0_star - 1e-12 and u0.max() <= alpha + 1e-12
    assert u0.max() > u0_star + 0.2, "release-increasing gliotransmission must raise U_0"
    info = default_run.info
    assert info["n_connections"] == {"spikes": 50, "glu": 50, "glio": 50}
    assert info["gliotransmitter_releases"] > 0 and info["target"] == "cpp_standalone"


@needs_compiler
def test_trace_decays_after_the_input_stops(default_run):
    gamma = _gamma(default_run)
    at_stop = gamma.loc[79.5:80.0].mean()
    assert gamma.loc[80.0:].max() <= at_stop + 0.02, "no growth without input"
    assert gamma.iloc[-1] < at_stop - 0.05, "Gamma_S must decay (Omega_G) after the input"
    assert gamma.loc[110:].mean() < gamma.loc[95:100].mean() < gamma.loc[80:85].mean()


@needs_compiler
def test_run_args_swap_without_recompiling_matches_a_fresh_network(default_run, cache):
    """Other parameter values through the same compiled binary = a network built anew with
    those values (numpy target), for the same seed; input off = nothing grows."""
    project = default_run.info["project"]
    swapped = simulate(_standalone(cache, synapse={"O_G": "1 /uM/s", "alpha": 0.0}),
                       progress=False)
    assert swapped.info["project"] == project and swapped.info["compile_s"] == 0.0
    fresh = small_tripartite_params(**NUMPY_PREFIX, synapse={"O_G": "1 /uM/s", "alpha": 0.0})
    reference = simulate(fresh, progress=False)
    np.testing.assert_allclose(swapped.readout["p_l"][:3], reference.readout["p_l"],
                               rtol=1e-9, atol=1e-12)
    got, want = _gamma(swapped).loc[:3.99], _gamma(reference)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-12)
    assert want.max() > 0.05, "the compared window must contain gliotransmitter events"
    u0 = swapped.traces[swapped.traces["variable"] == "U_0"]["value"]
    assert u0.min() >= 0.0 - 1e-12 and u0.max() <= 0.6 + 1e-12  # alpha = 0: within [alpha, U_0*]

    quiet = simulate(_standalone(cache, protocol={"rate": "0 Hz"}), progress=False)
    assert quiet.info["compile_s"] == 0.0 and quiet.info["presynaptic_spikes"] == 0
    assert quiet.readout["p_l"].abs().max() == 0.0 and quiet.info["gliotransmitter_releases"] == 0


@needs_compiler
def test_numpy_and_standalone_agree_for_the_same_seed(default_run):
    reference = simulate(small_tripartite_params(**NUMPY_PREFIX), progress=False)
    np.testing.assert_allclose(default_run.readout["p_l"][:3], reference.readout["p_l"],
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_gamma(default_run).loc[:3.99].to_numpy(),
                               _gamma(reference).to_numpy(), rtol=1e-9, atol=1e-12)
    assert _gamma(reference).max() > 0.01
    for var in ("C", "I", "G_A", "Gamma_S"):
        t = default_run.traces
        a = t[(t["variable"] == var) & (t["element"] == "pair1") & (t["time_s"] < 3.999)]
        r = reference.traces
        b = r[(r["variable"] == var) & (r["element"] == "pair1")]
        np.testing.assert_allclose(a["value"].to_numpy(), b["value"].to_numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=var)
    events = default_run.traces.query("variable == 'glio_release' and time_s < 4")
    assert len(events) == len(reference.traces.query("variable == 'glio_release'"))


def test_structure_ignores_parameter_values():
    a = small_tripartite_params()
    b = small_tripartite_params(synapse={"O_G": "1 /uM/s"}, protocol={"rate": "5 Hz"})
    assert structure(a) == structure(b)
    assert structure(a) != structure(small_tripartite_params(n_pairs=11))


def test_numpy_fallback_without_compiler(monkeypatch):
    import simulation.standalone as standalone

    monkeypatch.setattr(standalone, "compiler_available", lambda: False)
    assert standalone.available_target("cpp_standalone") == "numpy"
    assert standalone.available_target("cython") == "numpy"


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"synapse": {"O_G": "0.3 uM"}}, "tripartite.synapse.O_G"),
        ({"synapse": {"U_0_star": 1.5}}, "at most 1"),
        ({"astrocyte": {"C_Theta": "-0.5 uM"}}, "must be positive"),
        ({"protocol": {"rate": "2 parsecs"}}, "unknown unit 'parsecs'"),
        ({"protocol": {"on_time": "3 s"}}, "must be shorter than the period"),
        ({"record_dt": "30 ms"}, "not a whole number of record intervals record_dt"),
        ({"n_recorded": 500}, "n_recorded"),
    ],
)
def test_bad_tripartite_parameters_are_rejected_naming_the_key(override, expected):
    config = {"simulation": {}, "retention": {},
              "conditions": {"t": {"model": "tripartite", "tripartite": override}}}
    with pytest.raises(ConfigError, match=expected) as err:
        validate_config(config)
    assert "conditions.t" in str(err.value)


def test_condition_model_and_overrides_must_match():
    config = {"simulation": {}, "retention": {},
              "conditions": {"t": {"model": "tripartite", "constants": {"tau_pl": "5 s"}}}}
    with pytest.raises(ConfigError, match=r"conditions.t.*\['constants'\]"):
        validate_config(config)
    config["conditions"] = {"r": {"tripartite": {"n_pairs": 3}}}
    with pytest.raises(ConfigError, match=r"conditions.r.*tripartite"):
        validate_config(config)


def test_default_config_has_a_tripartite_condition(default_config):
    from pipeline.config import resolve_condition

    config = validate_config(default_config)
    tripartite = [n for n, c in config["conditions"].items() if c.get("model") == "tripartite"]
    assert tripartite
    params = resolve_condition(config, tripartite[0])
    assert set(params) == {"model", "cache_dir", "tripartite", "condition", "description",
                           "seed"}
    assert "tripartite" not in resolve_condition(config, "baseline")


def test_cli_runs_and_plots_a_tripartite_condition(tmp_path):
    params = small_tripartite_params(protocol={"n_cycles": 2})
    (tmp_path / "p.json").write_text(json.dumps(params))
    assert main(["run", "--params", str(tmp_path / "p.json"), "--out-dir",
                 str(tmp_path / "sim"), "--no-progress"]) == 0
    readout = pd.read_csv(tmp_path / "sim" / "readout.csv")
    n = params["tripartite"]["n_pairs"]
    assert list(readout.columns) == ["cycle", "time_s", "p_l"] + [f"pair_{k}" for k in range(n)]
    assert len(readout) == 3
    # p_l is the mean over the pairs, which distill reads for weights and the bootstrap
    pairs = readout[[f"pair_{k}" for k in range(n)]].to_numpy()
    np.testing.assert_allclose(pairs.mean(axis=1), readout["p_l"], rtol=1e-9, atol=1e-15)
    assert read_readout(tmp_path / "sim" / "readout.csv", min_points=3).pairs.shape == (3, n)
    info = json.loads((tmp_path / "sim" / "info.json").read_text())
    assert info["model"] == "tripartite" and info["target"] == "numpy"
    assert main(["plot", "--sim-dir", str(tmp_path / "sim"), "--out",
                 str(tmp_path / "traces.png")]) == 0
    assert_drawn(tmp_path / "traces.png")


def _spawn(args: list[str], log: Path) -> tuple[subprocess.Popen, Path]:
    """``python -m simulation <args>`` in the background, its output to the file ``log``: a
    pipe that nobody reads while the test waits for the other process fills up and blocks
    the writer (the compiler's output while it holds the build lock: a deadlock by chance).
    """
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "simulation", *args], stdout=out,
                                stderr=subprocess.STDOUT), log


@needs_compiler
def test_concurrent_jobs_share_one_compiled_project(default_run, cache, tmp_path):
    """Two processes run the same project at once (as parallel Snakemake jobs do): neither
    recompiles, both get their own results, and no run directory is left behind."""
    procs = []
    for k, rate in enumerate(("2 Hz", "3 Hz")):
        params = _standalone(cache, protocol={"rate": rate})
        (tmp_path / f"p{k}.json").write_text(json.dumps(params))
        procs.append(_spawn(["run", "--params", str(tmp_path / f"p{k}.json"), "--out-dir",
                             str(tmp_path / f"out{k}"), "--no-progress"], tmp_path / f"{k}.log"))
    for proc, log in procs:
        assert proc.wait(timeout=600) == 0, log.read_text()[-2000:]
    infos = [json.loads((tmp_path / f"out{k}" / "info.json").read_text()) for k in range(2)]
    assert {i["project"] for i in infos} == {default_run.info["project"]}
    assert all(i["compile_s"] == 0.0 for i in infos)
    first = pd.read_csv(tmp_path / "out0" / "readout.csv")["p_l"]
    np.testing.assert_allclose(first, default_run.readout["p_l"], rtol=1e-12)
    assert infos[1]["presynaptic_spikes"] > infos[0]["presynaptic_spikes"]
    assert not any((Path(default_run.info["project"]) / "runs").iterdir())


@needs_compiler
def test_two_processes_building_the_same_project_compile_it_once(tmp_path):
    """Cold cache, two builds at once: one compiles under the lock, the other waits and
    reuses it; the project is complete (manifest) and shared."""
    params = small_tripartite_params(target="cpp_standalone", n_pairs=3,
                                     protocol={"period": "0.2 s", "on_time": "0.1 s"})
    params["cache_dir"] = str(tmp_path / "cache")
    (tmp_path / "p.json").write_text(json.dumps(params))
    procs = [_spawn(["build", "--params", str(tmp_path / "p.json"), "--out",
                     str(tmp_path / f"build{k}.json")], tmp_path / f"{k}.log") for k in range(2)]
    codes = [proc.wait(timeout=600) for proc, _ in procs]
    logs = [log.read_text() for _, log in procs]
    assert codes == [0, 0], logs
    assert sum("compiling C++ standalone project" in log for log in logs) == 1, logs
    builds = [json.loads((tmp_path / f"build{k}.json").read_text()) for k in range(2)]
    assert builds[0]["project"] == builds[1]["project"]
    assert sorted(b["compiled_here"] for b in builds) == [False, True]
    assert (Path(builds[0]["project"]) / "manifest.json").is_file()
