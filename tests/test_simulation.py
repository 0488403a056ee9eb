"""The Brian2 rate model: connectivity, integration and saturation, determinism, errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from simulation.__main__ import main
from simulation.rate_model import SimulationDiverged, build_network, coupling_matrix, simulate
from tests.conftest import small_simulation_params


def test_process_coupling_has_every_pair_with_distance_weights():
    params = small_simulation_params()
    params["network"] = {"n_pre": 3, "n_post": 4, "synapse_spacing": "3 um"}
    net = build_network(params)
    n_syn = 12
    coupling = net["coupling"]
    assert len(coupling) == n_syn * (n_syn - 1)
    expected = coupling_matrix(params)
    got = np.zeros((n_syn, n_syn))
    got[np.asarray(coupling.i[:]), np.asarray(coupling.j[:])] = np.asarray(coupling.T[:])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # nearest neighbours on the grid are coupled by c exp(-spacing / lambda_T)
    assert expected[0, 1] == pytest.approx(0.2 * np.exp(-3 / 2))


def test_routing_synapses_connect_each_synapse_to_its_neurons():
    params = small_simulation_params()
    net = build_network(params)
    n_pre, n_post = 3, 3
    k = np.arange(n_pre * n_post)
    pre_of = dict(zip(np.asarray(net["to_syn_pre"].j[:]), np.asarray(net["to_syn_pre"].i[:]),
                      strict=True))
    post_of = dict(zip(np.asarray(net["to_syn_post"].j[:]), np.asarray(net["to_syn_post"].i[:]),
                       strict=True))
    assert [pre_of[s] for s in k] == list(k // n_post)
    assert [post_of[s] for s in k] == list(n_pre + k % n_post)
    assert sorted(np.asarray(net["to_post"].j[:])) == sorted(n_pre + k % n_post)


def test_readout_integrates_and_saturates():
    result = simulate(small_simulation_params(), progress=False)
    p = result.readout["p_l"].to_numpy()
    assert p[0] == 0.0
    assert np.all(np.diff(p) > 0), "p^l must grow in every cycle"
    increments = np.diff(p)
    assert increments[-1] < 0.3 * increments[1:4].max(), "growth must slow down (saturation)"
    assert result.info["n_coupling_connections"] == 72
    traces = result.traces
    assert set(traces["variable"]) == {"x", "s", "p_s", "p_l"}
    assert list(traces.columns) == ["time_s", "cycle", "element", "variable", "value"]
    assert traces["cycle"].max() == 11


def test_without_input_nothing_grows_and_trace_decays_after_input():
    quiet = simulate(small_simulation_params(drive=0.0), progress=False)
    driven = simulate(small_simulation_params(), progress=False)
    assert quiet.readout["p_l"].max() < 0.05 * driven.readout["p_l"].max()
    rest = simulate(small_simulation_params(n_cycles=6, rest_cycles=6), progress=False)
    p_l = rest.traces[rest.traces["variable"] == "p_l"].groupby("time_s")["value"].mean()
    assert p_l.loc[11.5:].max() < p_l.loc[5.5:6.0].max()


def test_same_seed_same_result_and_seed_matters():
    a = simulate(small_simulation_params(), progress=False)
    b = simulate(small_simulation_params(), progress=False)
    np.testing.assert_array_equal(a.readout["p_l"], b.readout["p_l"])
    other = small_simulation_params()
    other["seed"] = 8
    c = simulate(other, progress=False)
    assert not np.array_equal(a.readout["p_l"], c.readout["p_l"])


def test_numpy_and_cython_targets_agree(tmp_path):
    pytest.importorskip("Cython")
    params = small_simulation_params(n_cycles=4)
    reference = simulate(params, progress=False)
    params.update(target="cython", cache_dir=str(tmp_path / "cache"))
    compiled = simulate(params, progress=False)
    np.testing.assert_allclose(compiled.readout["p_l"], reference.readout["p_l"], rtol=1e-9)


def test_cpp_standalone_agrees_and_builds_inside_the_cache(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    params = small_simulation_params(n_cycles=4)
    reference = simulate(params, progress=False)
    params.update(target="cpp_standalone", cache_dir=str(tmp_path / "cache"))
    compiled = simulate(params, progress=False)
    np.testing.assert_allclose(compiled.readout["p_l"], reference.readout["p_l"], rtol=1e-9)
    assert (tmp_path / "cache" / "standalone" / "small" / "main").exists()
    assert not (tmp_path / "output").exists()
    again = simulate(small_simulation_params(n_cycles=4), progress=False)  # runtime again
    np.testing.assert_array_equal(again.readout["p_l"], reference.readout["p_l"])


def _diverging_params() -> dict:
    params = small_simulation_params()
    params["constants"]["coupling_strength"] = 50.0
    params["nonlinearities"]["psi"] = {"kind": "linear", "gain": 1.0, "threshold": 0.0}
    return params


def test_divergence_is_an_error_naming_the_condition():
    with pytest.raises(SimulationDiverged, match="condition 'small'.*coupling_strength"):
        simulate(_diverging_params(), progress=False)


def test_cli_writes_outputs_and_nothing_on_divergence(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(small_simulation_params(n_cycles=3)))
    assert main(["run", "--params", str(good), "--out-dir", str(tmp_path / "ok"),
                 "--no-progress"]) == 0
    readout = (tmp_path / "ok" / "readout.csv").read_text().splitlines()
    assert readout[0] == "cycle,time_s,p_l" and len(readout) == 5
    info = json.loads((tmp_path / "ok" / "info.json").read_text())
    assert info["condition"] == "small" and info["params"]["protocol"]["n_cycles"] == 3

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_diverging_params()))
    assert main(["run", "--params", str(bad), "--out-dir", str(tmp_path / "bad")]) == 1
    assert "diverged" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["run", "--params", str(tmp_path / "missing.json"),
                 "--out-dir", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["run", "--config", "config/config.yaml", "--condition", "nope",
                 "--out-dir", str(tmp_path)]) == 2
    assert "unknown condition 'nope'" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    assert main(["run", "--params", str(corrupt), "--out-dir", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_trace_plot_title_says_the_values_not_the_description():
    from simulation.plots import title_values

    params = {"model": "rate", "description": "slower long-term process (20 s)",
              "constants": {"tau_pl": "8 s", "tau_ps": "500 ms"},
              "protocol": {"n_cycles": 16, "period": "1 s"}}
    title = title_values(params)
    assert title == "τ_pl = 8 s, τ_ps = 500 ms, 16 cycles of 1 s"
    assert "20 s" not in title  # a stale description never reaches the plot


def _generated_code(params: dict) -> dict[str, str]:
    """Every code object Brian2 generates for a run of ``params`` (C++ standalone, nothing
    compiled), by name."""
    import brian2 as b2

    from pipeline.parameters import with_target
    from simulation.standalone import back_to_runtime

    try:
        objects = build_network(with_target(params, "cpp_standalone"))
        net = b2.Network(*(objects[k] for k in ("neurons", "syn", "to_syn_pre", "to_syn_post",
                                                "to_post", "coupling")))
        net.run(objects["n_cycles"] * objects["period"], namespace={})
        # a second build numbers its code objects (name_1), which appear in their own code:
        # compare by the base name, with the object's own name masked
        return {re.sub(r"_\d+$", "", name): str(co.code).replace(name, "<self>")
                for name, co in b2.device.code_objects.items()}
    finally:
        back_to_runtime()


def test_generated_code_is_the_same_for_every_value_of_every_constant():
    """docs/design.md §2.2: constants are run-time variables, never literals, so one compiled
    code serves every condition (the Cython cache, the sensitivity analysis): changing every
    biological constant, gain, threshold, the coupling and the drive changes no code."""
    params = small_simulation_params()
    changed = json.loads(json.dumps(params))
    changed["constants"] = {**params["constants"], "tau_n": "25 ms", "lambda_n": 1.3,
                            "tau_s": "90 ms", "beta": 0.8, "tau_ps": "400 ms", "gamma_s": 1.2,
                            "tau_pl": "5 s", "gamma_l": 0.9, "coupling_strength": 0.37,
                            "coupling_length": "3 um"}
    changed["network"]["synapse_spacing"] = "2.5 um"
    changed["protocol"].update(drive=1.7, drive_jitter=0.2, on_time="0.4 s")
    for spec in changed["nonlinearities"].values():
        spec.update(gain=spec["gain"] * 1.3, threshold=spec["threshold"] + 0.1)
    base, other = _generated_code(params), _generated_code(changed)
    assert set(base) == set(other)
    assert [name for name in base if base[name] != other[name]] == []
