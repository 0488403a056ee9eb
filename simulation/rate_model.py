"""Rate-based neuron–astrocyte network (Kozachkov type; docs/design.md §2.1) in Brian2.

State: neuron rates x_i; per synapse i->j the synaptic state s_ij, the short-term astrocytic
process p^s_ij and the long-term process p^l_ij::

    tau_n  dx_j/dt    = -lambda x_j + sum_i g(s_ij) phi(x_i) + b_j(t)
    tau_s  ds_ij/dt   = -beta s_ij + theta(x_i) theta(x_j) + psi(p^s_ij)
    tau_ps dp^s_ij/dt = -gamma_s p^s_ij + sum_kl T_ijkl psi(p^s_kl) + kappa(s_ij)
    tau_pl dp^l_ij/dt = -gamma_l p^l_ij + kappa(s_ij)

with T_ijkl = c exp(-d(ij, kl) / lambda_T) for synapses on a grid (kl != ij) and b_j(t) a
square pulse of height ``drive`` during the first ``on_time`` of every cycle for the
presynaptic neurons. The readout is the mean p^l over synapses at cycle boundaries.

Brian2 layout. All per-synapse state lives in one ``NeuronGroup`` (``syn``, one element per
synapse), not in a ``Synapses`` object, because ``Synapses`` whose source and target are
both ``Synapses`` silently get no connections on the Cython target (docs/design.md §2.2).
Three ``Synapses`` objects route rates and currents with summed variables:

- ``to_syn``: neuron -> syn, gives each synapse its pre and post rate (x_i, x_j);
- ``to_post``: syn -> neuron, sums g(s_ij) phi(x_i) into the postsynaptic input;
- ``coupling``: syn -> syn, sums T_ijkl psi(p^s_kl) into each process.

Every constant is a shared constant variable of its group, not a literal in the code, so
the Cython target compiles each code object once and reuses it for all conditions.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.parameters import run_parameters
from pipeline.units import parse_quantity
from simulation.nonlinearities import NAMES as NONLINEARITIES
from simulation.nonlinearities import constants_block, expression
from simulation.progress import progress_reporter
from simulation.result import SimulationResult


class SimulationDiverged(RuntimeError):
    """The simulated state became NaN/infinite or exceeded the divergence threshold."""


# --- model equations -------------------------------------------------------------------------

def neuron_equations() -> str:
    """Equations of the neuron group (pre- and postsynaptic neurons together)."""
    return f"""
    dx/dt = (-lambda_n*x + I_syn + b*drive_on)/tau_n : 1
    drive_on = stimulating * int((timestep(t, dt) % period_steps) < on_steps) : 1
    stimulating = int(timestep(t, dt) < stim_steps) : 1
    I_syn : 1
    b : 1 (constant)                      # drive amplitude of this neuron (0 for postsynaptic)
    lambda_n : 1 (shared, constant)
    tau_n : second (shared, constant)
    period_steps : integer (shared, constant)
    on_steps : integer (shared, constant)
    stim_steps : integer (shared, constant)
    {constants_block(("phi",))}
    """


def synapse_equations(kinds: dict[str, str]) -> str:
    """Equations of the per-synapse group: s, p^s, p^l and the routed inputs."""
    f = {name: (lambda arg, n=name: expression(n, kinds[n], arg)) for name in NONLINEARITIES}
    return f"""
    ds/dt = (-beta*s + {f['theta']('x_i')}*{f['theta']('x_j')} + {f['psi']('p_s')})/tau_s : 1
    dp_s/dt = (-gamma_s*p_s + J + {f['kappa']('s')})/tau_ps : 1
    dp_l/dt = (-gamma_l*p_l + {f['kappa']('s')})/tau_pl : 1
    out = {f['g']('s')}*{f['phi']('x_i')} : 1      # g(s_ij) phi(x_i), sent to neuron j
    psi_ps = {f['psi']('p_s')} : 1                # psi(p^s), sent to the other processes
    x_i : 1
    x_j : 1
    J : 1                                          # sum_kl T_ijkl psi(p^s_kl)
    grid_x : metre (constant)
    grid_y : metre (constant)
    beta : 1 (shared, constant)
    gamma_s : 1 (shared, constant)
    gamma_l : 1 (shared, constant)
    tau_s : second (shared, constant)
    tau_ps : second (shared, constant)
    tau_pl : second (shared, constant)
    {constants_block()}
    """


# --- network ----------------------------------------------------------------------------------

def _set_target(target: str, cache_dir: str) -> None:
    import brian2

    brian2.device.reinit()
    brian2.device.activate()
    brian2.start_scope()
    if target == "cpp_standalone":
        brian2.set_device("cpp_standalone", build_on_run=False)
    else:
        brian2.set_device("runtime")
        brian2.prefs.codegen.target = target
        if target == "cython":
            brian2.prefs.codegen.runtime.cython.cache_dir = str(cache_dir)


def build_network(params: dict[str, Any]) -> dict[str, Any]:
    """Create the Brian2 groups of one condition (no monitors, not yet run).

    Returns a dict with the groups (``neurons``, ``syn``, ``to_syn_pre``, ``to_syn_post``,
    ``to_post``, ``coupling``) and derived sizes. Selects the code-generation target.
    """
    import brian2 as b2

    net_p, proto, const = params["network"], params["protocol"], params["constants"]
    q = parse_quantity  # shorter
    run = run_parameters(params)
    dt, period, on_time, record_dt = run.dt, run.period, run.on_time, run.record_dt
    n_pre, n_post = int(net_p["n_pre"]), int(net_p["n_post"])
    n_syn = n_pre * n_post
    n_cycles, rest_cycles = run.n_cycles, run.rest_cycles
    period_steps = run.period_steps

    _set_target(params["target"], params["cache_dir"])
    b2.seed(params["seed"])
    rng = np.random.default_rng(params["seed"])
    b2.defaultclock.dt = dt

    # parameters ---------------------------------------------------------------------------
    neurons = b2.NeuronGroup(n_pre + n_post, neuron_equations(), method="euler", name="neurons")
    drive = proto["drive"] * (1.0 + proto["drive_jitter"] * rng.standard_normal(n_pre))
    neurons.b = np.concatenate([np.clip(drive, 0.0, None), np.zeros(n_post)])
    neurons.lambda_n = const["lambda_n"]
    neurons.tau_n = q(const["tau_n"], "second", "constants.tau_n")
    neurons.period_steps = period_steps
    neurons.on_steps = int(round(float(on_time / dt)))
    neurons.stim_steps = n_cycles * period_steps

    kinds = {name: spec["kind"] for name, spec in params["nonlinearities"].items()}
    syn = b2.NeuronGroup(n_syn, synapse_equations(kinds), method="euler", name="syn")
    for name, spec in params["nonlinearities"].items():
        setattr(syn, f"{name}_gain", spec["gain"])
        setattr(syn, f"{name}_thr", spec["threshold"])
    neurons.phi_gain = params["nonlinearities"]["phi"]["gain"]
    neurons.phi_thr = params["nonlinearities"]["phi"]["threshold"]
    for key in ("beta", "gamma_s", "gamma_l"):
        setattr(syn, key, const[key])
    for key in ("tau_s", "tau_ps", "tau_pl"):
        setattr(syn, key, q(const[key], "second", f"constants.{key}"))
    spacing = q(net_p["synapse_spacing"], "metre", "network.synapse_spacing")
    pre_index, post_index = np.divmod(np.arange(n_syn), n_post)  # synapse k = pre*n_post + post
    syn.grid_x = pre_index * spacing
    syn.grid_y = post_index * spacing

    # routing ------------------------------------------------------------------------------
    to_syn_pre = b2.Synapses(neurons, syn, "x_i_post = x_pre : 1 (summed)", name="to_syn_pre")
    to_syn_pre.connect(i=pre_index, j=np.arange(n_syn))
    to_syn_post = b2.Synapses(neurons, syn, "x_j_post = x_pre : 1 (summed)", name="to_syn_post")
    to_syn_post.connect(i=n_pre + post_index, j=np.arange(n_syn))
    to_post = b2.Synapses(syn, neurons, "I_syn_post = out_pre : 1 (summed)", name="to_post")
    to_post.connect(i=np.arange(n_syn), j=n_pre + post_index)
    # c and lambda_T are shared constants, not literals in the expression of T: the code that
    # sets T is then the same for every coupling (one compiled version, docs/design.md §2.2)
    coupling = b2.Synapses(syn, syn, """T : 1 (constant)
                           J_post = T*psi_ps_pre : 1 (summed)
                           coupling_strength : 1 (shared, constant)
                           coupling_length : metre (shared, constant)""", name="coupling")
    coupling.connect(condition="i != j")
    coupling.coupling_strength = float(const["coupling_strength"])
    coupling.coupling_length = q(const["coupling_length"], "metre", "constants.coupling_length")
    coupling.T = ("coupling_strength * exp(-sqrt((grid_x_pre - grid_x_post)**2"
                  " + (grid_y_pre - grid_y_post)**2) / coupling_length)")

    return {
        "neurons": neurons, "syn": syn, "to_syn_pre": to_syn_pre, "to_syn_post": to_syn_post,
        "to_post": to_post, "coupling": coupling, "n_pre": n_pre, "n_post": n_post,
        "n_cycles": n_cycles, "rest_cycles": rest_cycles, "period": period, "dt": dt,
        "record_dt": record_dt,
    }


def simulate(params: dict[str, Any], progress: bool = True) -> SimulationResult:
    """Simulate one condition.

    ``params`` are resolved condition parameters (``pipeline.config.resolve_condition``):
    physical quantities as unit strings, ``target`` the Brian2 code-generation target.
    Returns traces sampled every ``record_dt`` (s) and the readout (mean p^l) at every
    cycle boundary. Raises :class:`SimulationDiverged` naming the condition if the state
    runs away; checks that the process coupling has all n_syn (n_syn - 1) connections.
    """
    import brian2 as b2

    condition = params["condition"]
    objects = build_network(params)
    neurons, syn, coupling = objects["neurons"], objects["syn"], objects["coupling"]
    n_pre, n_post = objects["n_pre"], objects["n_post"]
    n_syn = n_pre * n_post
    n_cycles, rest_cycles = objects["n_cycles"], objects["rest_cycles"]
    period, dt, record_dt = objects["period"], objects["dt"], objects["record_dt"]

    # monitors -----------------------------------------------------------------------------
    mon_x = b2.StateMonitor(neurons, "x", record=True, dt=record_dt, name="mon_x")
    mon_syn = b2.StateMonitor(syn, ["s", "p_s", "p_l"], record=True, dt=record_dt, name="mon_syn")
    mon_readout = b2.StateMonitor(syn, "p_l", record=True, dt=period, name="mon_readout")

    # run ------------------------------------------------------------------------------------
    duration = (n_cycles + rest_cycles) * period
    net = b2.Network(*(objects[k] for k in ("neurons", "syn", "to_syn_pre", "to_syn_post",
                                            "to_post", "coupling")), mon_x, mon_syn, mon_readout)
    start = time.perf_counter()
    if params["target"] == "cpp_standalone":
        net.run(duration, namespace={})
        directory = Path(params["cache_dir"]) / "standalone" / condition
        b2.device.build(directory=str(directory), run=True, compile=True, clean=False)
    else:
        net.run(duration, report=progress_reporter(condition) if progress else None,
                report_period=2 * b2.second, namespace={})
    elapsed = time.perf_counter() - start

    # analysis -------------------------------------------------------------------------------
    if len(coupling) != n_syn * (n_syn - 1):  # guards against the Synapses-to-Synapses bug
        raise RuntimeError(
            f"condition {condition!r}: process coupling has {len(coupling)} connections, "
            f"expected {n_syn * (n_syn - 1)} (all pairs of distinct synapses)"
        )
    x = np.asarray(mon_x.x)
    states = {"s": np.asarray(mon_syn.s), "p_s": np.asarray(mon_syn.p_s),
              "p_l": np.asarray(mon_syn.p_l)}
    final_p_l = np.asarray(syn.p_l[:])
    boundary = np.asarray(mon_readout.p_l)[:, : n_cycles + 1]
    if boundary.shape[1] == n_cycles:  # last boundary = end of run when there is no rest
        boundary = np.concatenate([boundary, final_p_l[:, None]], axis=1)
    _check_divergence(params, {"x": x, **states, "p_l (boundary)": boundary})

    t_rec = np.asarray(mon_x.t / b2.second)
    period_s = float(period / b2.second)
    traces = _tidy_traces(t_rec, period_s, x, states, n_pre, n_post)
    readout = pd.DataFrame({
        "cycle": np.arange(n_cycles + 1),
        "time_s": np.arange(n_cycles + 1) * period_s,
        "p_l": boundary.mean(axis=0),
    })
    info = {
        "condition": condition,
        "target": params["target"],
        "wall_time_s": elapsed,
        "biological_time_s": float(duration / b2.second),
        "n_synapses": n_syn,
        "n_coupling_connections": int(len(coupling)),
        "dt_s": float(dt / b2.second),
    }
    if params["target"] == "cpp_standalone":
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("runtime")
    return SimulationResult(condition, traces, readout, info)


def _check_divergence(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    threshold = params["divergence_threshold"]
    for name, values in arrays.items():
        if not np.all(np.isfinite(values)) or np.max(np.abs(values), initial=0.0) > threshold:
            raise SimulationDiverged(
                f"condition {params['condition']!r}: variable {name} diverged (NaN, infinite or "
                f"|value| > {threshold:g}); nothing was written. Parameters: "
                f"constants={params['constants']}, protocol={params['protocol']}, "
                f"nonlinearities={params['nonlinearities']}. Lower the coupling or gains, or "
                f"increase the decay rates."
            )


def _tidy_traces(t: np.ndarray, period_s: float, x: np.ndarray, states: dict[str, np.ndarray],
                 n_pre: int, n_post: int) -> pd.DataFrame:
    cycle = np.floor(t / period_s + 1e-9).astype(int)
    frames = []
    names = [f"pre{i}" for i in range(n_pre)] + [f"post{j}" for j in range(n_post)]
    for k, name in enumerate(names):
        frames.append(pd.DataFrame({"time_s": t, "cycle": cycle, "element": name,
                                    "variable": "x", "value": x[k]}))
    syn_names = [f"syn{i}-{j}" for i in range(n_pre) for j in range(n_post)]
    for var, values in states.items():
        for k, name in enumerate(syn_names):
            frames.append(pd.DataFrame({"time_s": t, "cycle": cycle, "element": name,
                                        "variable": var, "value": values[k]}))
    return pd.concat(frames, ignore_index=True)


def coupling_matrix(params: dict[str, Any]) -> np.ndarray:
    """Expected T_ijkl as an (n_syn, n_syn) matrix in NumPy (zero diagonal), for checks."""
    net_p, const = params["network"], params["constants"]
    n_pre, n_post = int(net_p["n_pre"]), int(net_p["n_post"])
    spacing = float(parse_quantity(net_p["synapse_spacing"], "metre", "network.synapse_spacing"))
    length = float(parse_quantity(const["coupling_length"], "metre", "constants.coupling_length"))
    pre, post = np.divmod(np.arange(n_pre * n_post), n_post)
    pos = np.stack([pre, post], axis=1) * spacing
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    t = const["coupling_strength"] * np.exp(-d / length)
    np.fill_diagonal(t, 0.0)
    return t
