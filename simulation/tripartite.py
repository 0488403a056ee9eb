"""Spiking tripartite synapse, closed-loop gliotransmission (second LTP route, docs/design.md §2.3).

After the Brian2 neuron–glia examples of

    M. Stimberg, D. F. M. Goodman, R. Brette, M. De Pittà (2019). Modeling neuron–glia
    interactions with the Brian 2 simulator. In: Computational Glioscience, Springer,
    pp. 471–505 (bioRxiv 198366); examples 3 (``io_synapse``, Fig. 3) and 4 (``synrel``,
    Fig. 4B), with the G-ChI astrocyte of De Pittà et al. (2009, 2011).

N independent synapse–astrocyte pairs. Per pair: presynaptic Poisson spikes at ``rate``
during the first ``on_time`` of every STP cycle of length ``period`` → Tsodyks–Markram
release (u_S, x_S) → extracellular glutamate Y_S → astrocytic receptors Γ_A, IP₃ (I) and
Ca²⁺ (C, Li–Rinzel CICR with h) → gliotransmitter release at every upward crossing of C_Θ
(G_A, x_A) → presynaptic receptors Γ_S, which raise the resting release probability::

    dΓ_S/dt = O_G G_A (1 − Γ_S) − Ω_G Γ_S,     U_0 = (1 − Γ_S) U_0* + α Γ_S

With α = 1 (release-increasing gliotransmission) and Ω_G ≪ 1/τc, Γ_S integrates
gliotransmitter events over many cycles and saturates: an LTP-like trace. The readout is the
mean Γ_S over all pairs at every cycle boundary (``readout: gamma_s``), or the mean effective
release probability U_0 (``readout: release_probability``), written to the column ``p_l`` of
the same readout CSV as the rate model so that ``distill`` fits it unchanged.

Brian2 layout: presynaptic "neurons", synapses and astrocytes are three ``NeuronGroup``\\ s of
N elements (Synapses between two Synapses objects silently get no connections on the Cython
target, docs/design.md §2.2); one-to-one ``Synapses`` carry spikes (``spikes``), glutamate
(``glu``, summed Y_S) and gliotransmitter (``glio``, summed G_A). Every parameter is a shared
constant of its group, not a literal in the code, so one compiled C++ standalone project
serves every parameter set of the same structure (values are passed with ``run_args``, see
:mod:`simulation.standalone`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from pipeline.parameters import run_parameters, tripartite_quantities
from pipeline.units import parse_quantity
from simulation.progress import progress_reporter
from simulation.result import SimulationResult

# --- model equations --------------------------------------------------------------------------

#: Presynaptic Poisson "neurons": rate × (inside the on-part of a stimulated cycle).
PRESYNAPTIC_EQS = """
drive_on = int(timestep(t, dt) < stim_steps) * int((timestep(t, dt) % period_steps) < on_steps) : 1
rate : Hz (shared, constant)                 # Poisson rate while the input is on
period_steps : integer (shared, constant)    # STP cycle period tau_c, in steps
on_steps : integer (shared, constant)        # input-on time per cycle, in steps
stim_steps : integer (shared, constant)      # stimulated cycles x period, in steps
"""
PRESYNAPTIC_THRESHOLD = "rand() < rate*drive_on*dt"

#: Synaptic compartment (Tsodyks–Markram release, presynaptic receptors), example 3.
SYNAPSE_EQS = """
dY_S/dt = -Omega_c*Y_S : mmolar                                  # extracellular glutamate
dGamma_S/dt = O_G*G_A*(1 - Gamma_S) - Omega_G*Gamma_S : 1        # activated presyn. receptors
du_S/dt = -Omega_f*u_S : 1                                       # release usage (facilitation)
dx_S/dt = Omega_d*(1 - x_S) : 1                                  # available resources
U_0 = (1 - Gamma_S)*U_0_star + alpha*Gamma_S : 1                 # resting release probability
G_A : mmolar                                                     # gliotransmitter (from astro)
r_S : 1                                                          # last released fraction
rho_c : 1 (shared, constant)
Y_T : mmolar (shared, constant)
Omega_c : 1/second (shared, constant)
U_0_star : 1 (shared, constant)
Omega_f : 1/second (shared, constant)
Omega_d : 1/second (shared, constant)
O_G : 1/mmolar/second (shared, constant)
Omega_G : 1/second (shared, constant)
alpha : 1 (shared, constant)
"""
#: On every presynaptic spike (``spikes`` synapses, acting on the synaptic compartment).
RELEASE = """
u_S_post += U_0_post*(1 - u_S_post)
r_S_post = u_S_post*x_S_post
x_S_post -= r_S_post
Y_S_post += rho_c_post*Y_T_post*r_S_post
"""

#: G-ChI astrocyte with Li–Rinzel CICR and gliotransmitter resources, example 4.
ASTROCYTE_EQS = """
dGamma_A/dt = O_N*Y_S*(1 - Gamma_A) - Omega_N*(1 + zeta*C/(C + K_KC))*Gamma_A : 1
dI/dt = J_beta + J_delta - J_3K - J_5P + J_ex : mmolar
J_beta = O_beta*Gamma_A : mmolar/second
J_delta = O_delta/(1 + I/kappa_delta)*C**2/(C**2 + K_delta**2) : mmolar/second
J_3K = O_3K*C**4/(C**4 + K_D**4)*I/(I + K_3K) : mmolar/second
J_5P = Omega_5P*I : mmolar/second
J_ex = -F_ex/2*(1 + tanh((abs(I - I_bias) - I_Theta)/omega_I))*sign(I - I_bias) : mmolar/second
dC/dt = (Omega_C*m_inf**3*h**3 + Omega_L)*(C_T - (1 + rho_A)*C) - O_P*C**2/(C**2 + K_P**2) : mmolar
dh/dt = (h_inf - h)/tau_h : 1
m_inf = I/(I + d_1)*C/(C + d_5) : 1
h_inf = Q_2/(Q_2 + C) : 1
tau_h = 1/(O_2*(Q_2 + C)) : second
Q_2 = d_2*(I + d_1)/(I + d_3) : mmolar
dx_A/dt = Omega_A*(1 - x_A) : 1                                 # gliotransmitter resources
dG_A/dt = -Omega_e*G_A : mmolar                                 # extracellular gliotransmitter
Y_S : mmolar                                                    # glutamate (from the synapse)
O_P : mmolar/second (shared, constant)
K_P : mmolar (shared, constant)
C_T : mmolar (shared, constant)
rho_A : 1 (shared, constant)
Omega_C : 1/second (shared, constant)
Omega_L : 1/second (shared, constant)
d_1 : mmolar (shared, constant)
d_2 : mmolar (shared, constant)
O_2 : 1/mmolar/second (shared, constant)
d_3 : mmolar (shared, constant)
d_5 : mmolar (shared, constant)
O_beta : mmolar/second (shared, constant)
O_N : 1/mmolar/second (shared, constant)
Omega_N : 1/second (shared, constant)
K_KC : mmolar (shared, constant)
zeta : 1 (shared, constant)
O_delta : mmolar/second (shared, constant)
kappa_delta : mmolar (shared, constant)
K_delta : mmolar (shared, constant)
Omega_5P : 1/second (shared, constant)
K_D : mmolar (shared, constant)
K_3K : mmolar (shared, constant)
O_3K : mmolar/second (shared, constant)
F_ex : mmolar/second (shared, constant)
I_Theta : mmolar (shared, constant)
omega_I : mmolar (shared, constant)
I_bias : mmolar (shared, constant)
C_Theta : mmolar (shared, constant)
Omega_A : 1/second (shared, constant)
U_A : 1 (shared, constant)
G_T : mmolar (shared, constant)
rho_e : 1 (shared, constant)
Omega_e : 1/second (shared, constant)
"""
#: Gliotransmitter release, once per upward crossing of C_Theta (threshold + refractoriness).
GLIO_RELEASE = """
G_A += rho_e*G_T*U_A*x_A
x_A -= U_A*x_A
"""

#: Group of each parameter section (parameter names are the groups' shared constants).
SECTION_GROUP = {"protocol": "presyn", "synapse": "synapse", "astrocyte": "astro"}
#: Variables recorded for the first ``n_recorded`` pairs (group, variable, unit name).
RECORDED = (("synapse", "Gamma_S", "1"), ("synapse", "U_0", "1"), ("synapse", "Y_S", "umolar"),
            ("astro", "C", "umolar"), ("astro", "I", "umolar"), ("astro", "G_A", "umolar"),
            ("astro", "x_A", "1"))


# --- parameters -------------------------------------------------------------------------------

def structure(params: dict[str, Any]) -> dict[str, Any]:
    """What fixes the generated code (everything else is a run-time value).

    Sizes, time step, recording interval, simulated duration (in steps) and the seed. Two
    parameter sets with the same structure share one compiled standalone project.
    """
    block = params["tripartite"]
    run = run_parameters(params)
    proto = block["protocol"]
    n_steps = (proto["n_cycles"] + proto["rest_cycles"]) * run.period_steps
    return {"model": "tripartite", "n_pairs": block["n_pairs"], "n_recorded": block["n_recorded"],
            "dt": block["dt"], "record_dt": block["record_dt"], "n_steps": n_steps,
            "seed": params["seed"]}


def run_values(params: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """Every run-time value as ``{(group name, variable): Brian2 quantity or int}``."""
    block = params["tripartite"]
    q = tripartite_quantities(block, "tripartite")
    dt = run_parameters(params).dt
    proto = q["protocol"]

    def steps(x) -> int:
        return int(round(float(x / dt)))

    values: dict[tuple[str, str], Any] = {
        ("presyn", "rate"): proto["rate"],
        ("presyn", "period_steps"): steps(proto["period"]),
        ("presyn", "on_steps"): steps(proto["on_time"]),
        ("presyn", "stim_steps"): block["protocol"]["n_cycles"] * steps(proto["period"]),
    }
    for section in ("synapse", "astrocyte"):
        for name, value in q[section].items():
            values[(SECTION_GROUP[section], name)] = value
    return values


def _second():
    from brian2 import second

    return second


def _umolar():
    from brian2 import umolar

    return umolar


# --- network ----------------------------------------------------------------------------------

def build_network(params: dict[str, Any]) -> dict[str, Any]:
    """Create the groups, connections and monitors of N pairs (no parameter values set).

    The Brian2 device and target must already be selected. Returns a dict of Brian2 objects
    by name plus ``duration``.
    """
    import brian2 as b2

    block = params["tripartite"]
    n, n_rec = int(block["n_pairs"]), int(block["n_recorded"])
    run = run_parameters(params)
    dt, record_dt = run.dt, run.record_dt
    b2.seed(params["seed"])
    b2.defaultclock.dt = dt

    # groups ----------------------------------------------------------------------------------
    presyn = b2.NeuronGroup(n, PRESYNAPTIC_EQS, threshold=PRESYNAPTIC_THRESHOLD, name="presyn")
    synapse = b2.NeuronGroup(n, SYNAPSE_EQS, method="exact", name="synapse")
    astro = b2.NeuronGroup(n, ASTROCYTE_EQS, threshold="C > C_Theta", refractory="C > C_Theta",
                           reset=GLIO_RELEASE, method="rk4", name="astro")
    synapse.x_S = 1.0      # all resources available at rest
    astro.h = 0.9          # IP3 receptors mostly de-inactivated (examples 3 and 4)
    astro.x_A = 1.0        # all gliotransmitter resources available

    # connections (one-to-one) ------------------------------------------------------------------
    spikes = b2.Synapses(presyn, synapse, on_pre=RELEASE, name="spikes")
    spikes.connect(j="i")
    glu = b2.Synapses(synapse, astro, "Y_S_post = Y_S_pre : mmolar (summed)", name="glu")
    glu.connect(j="i")
    glio = b2.Synapses(astro, synapse, "G_A_post = G_A_pre : mmolar (summed)", name="glio")
    glio.connect(j="i")
    # population mean of Gamma_S (the readout), summed at the end of each step so that it
    # sees the same state as the monitors; memory does not grow with n_pairs
    population = b2.NeuronGroup(1, "Gamma_mean : 1", name="population")
    mean = b2.Synapses(synapse, population, f"Gamma_mean_post = Gamma_S_pre/{float(n)!r} : 1 "
                       "(summed)", name="mean")
    mean.connect(j="0")
    mean.summed_updaters["Gamma_mean_post"].when = "end"
    mean.summed_updaters["Gamma_mean_post"].order = -1

    # monitors ----------------------------------------------------------------------------------
    recorded = list(range(n_rec))
    mon_gamma = b2.StateMonitor(population, "Gamma_mean", record=True, dt=record_dt,
                                name="mon_gamma")
    # every pair's Gamma_S (for the readout's spread across pairs, read at cycle boundaries)
    mon_pairs = b2.StateMonitor(synapse, "Gamma_S", record=True, dt=record_dt, name="mon_pairs")
    mon_syn = b2.StateMonitor(synapse, ["Gamma_S", "U_0", "Y_S"], record=recorded,
                              dt=record_dt, name="mon_syn")
    mon_astro = b2.StateMonitor(astro, ["C", "I", "G_A", "x_A"], record=recorded, dt=record_dt,
                                name="mon_astro")
    mon_glio = b2.SpikeMonitor(astro, name="mon_glio")        # gliotransmitter release events
    mon_pre = b2.SpikeMonitor(presyn, name="mon_pre")

    proto = block["protocol"]
    duration = (proto["n_cycles"] + proto["rest_cycles"]) * run.period
    objects = {"presyn": presyn, "synapse": synapse, "astro": astro, "spikes": spikes,
               "glu": glu, "glio": glio, "population": population, "mean": mean,
               "mon_gamma": mon_gamma, "mon_pairs": mon_pairs, "mon_syn": mon_syn,
               "mon_astro": mon_astro, "mon_glio": mon_glio, "mon_pre": mon_pre}
    return {**objects, "network": b2.Network(*objects.values()), "duration": duration}


def recorded_arrays(objects: dict[str, Any]) -> dict[str, tuple[Any, int | None]]:
    """Arrays read after a run: ``{name: (Brian2 variable, columns of a 2-D array or None)}``."""
    n_rec = len(objects["mon_syn"].record)
    arrays: dict[str, tuple[Any, int | None]] = {
        "t": (objects["mon_gamma"].variables["t"], None),
        "Gamma_mean": (objects["mon_gamma"].variables["Gamma_mean"], 1),
        "pairs_Gamma_S": (objects["mon_pairs"].variables["Gamma_S"],
                          len(objects["synapse"])),
        "final_Gamma_S": (objects["synapse"].variables["Gamma_S"], None),
        "glio_i": (objects["mon_glio"].variables["i"], None),
        "glio_t": (objects["mon_glio"].variables["t"], None),
        "pre_i": (objects["mon_pre"].variables["i"], None),
        "pre_t": (objects["mon_pre"].variables["t"], None),
    }
    for name in ("spikes", "glu", "glio", "mean"):
        arrays[f"N_{name}"] = (objects[name].variables["N"], None)
    for group, var, _ in RECORDED:
        mon = objects["mon_syn" if group == "synapse" else "mon_astro"]
        arrays[var] = (mon.variables[var], n_rec)
    return arrays


def simulate(params: dict[str, Any], progress: bool = True) -> SimulationResult:
    """Simulate one tripartite condition (resolved parameters with ``model: tripartite``).

    Runs on ``params["tripartite"]["target"]``; ``cpp_standalone`` builds the project of this
    structure once (shared, see :mod:`simulation.standalone`) and passes the parameters at
    run time; without a compiler the target falls back to numpy. Returns tidy traces of the
    first ``n_recorded`` pairs and of the mean, the cycle-boundary readout and run info
    (``compile_s``/``run_s`` separately).
    """
    import sys

    from simulation import standalone

    block = params["tripartite"]
    target = standalone.available_target(block["target"])
    start = time.perf_counter()
    if target == "cpp_standalone":
        arrays, timing = standalone.run_standalone(params, sys.modules[__name__],
                                                   params["condition"])
    else:
        arrays = _run_runtime(params, target, progress)
        timing = {"compile_s": None, "run_s": time.perf_counter() - start, "project": None}
    result = _collect(params, arrays)
    result.info.update(target=target, requested_target=block["target"],
                       wall_time_s=time.perf_counter() - start, **timing)
    return result


def _run_runtime(params: dict[str, Any], target: str, progress: bool) -> dict[str, np.ndarray]:
    import brian2 as b2

    from simulation.standalone import back_to_runtime, runtime_arrays

    back_to_runtime()
    b2.prefs.codegen.target = target
    if target == "cython":
        b2.prefs.codegen.runtime.cython.cache_dir = str(params["cache_dir"])
    b2.start_scope()
    objects = build_network(params)
    for (group, name), value in run_values(params).items():
        setattr(objects[group], name, value)
    report = progress_reporter(params["condition"]) if progress else None
    objects["network"].run(objects["duration"], report=report, report_period=2 * b2.second,
                           namespace={})
    return runtime_arrays(recorded_arrays(objects))


# --- analysis -----------------------------------------------------------------------------------

def _collect(params: dict[str, Any], arrays: dict[str, np.ndarray]) -> SimulationResult:
    """Readout, tidy traces and info from the recorded arrays of a run (SI units)."""
    block = params["tripartite"]
    proto = block["protocol"]
    n, n_cycles, n_rec = int(block["n_pairs"]), int(proto["n_cycles"]), int(block["n_recorded"])
    for name in ("spikes", "glu", "glio"):  # guards against silently missing connections
        count = int(arrays[f"N_{name}"].reshape(-1)[0])
        if count != n:
            raise RuntimeError(f"condition {params['condition']!r}: connection {name!r} has "
                               f"{count} synapses, expected {n} (one per pair)")
    sec = _second()
    run = run_parameters(params)
    period_s = float(run.period / sec)
    record_dt_s = float(run.record_dt / sec)
    if int(arrays["N_mean"].reshape(-1)[0]) != n:
        raise RuntimeError(f"condition {params['condition']!r}: the population mean sums "
                           f"{int(arrays['N_mean'].reshape(-1)[0])} pairs, expected {n}")
    t = arrays["t"]
    mean_trace = arrays["Gamma_mean"][:, 0]                           # mean Γ_S every record_dt
    final = arrays["final_Gamma_S"]                                   # every pair at the end
    every = int(round(period_s / record_dt_s))
    mean_all = np.append(mean_trace, final.mean())
    mean_gamma = mean_all[: n_cycles * every + 1 : every]             # at k·τc, k = 0..n_cycles
    checked = np.concatenate([mean_all, final, arrays["Gamma_S"].reshape(-1)])
    if not (np.all(np.isfinite(checked)) and checked.min() >= -1e-9
            and checked.max() <= 1 + 1e-9):
        raise RuntimeError(f"condition {params['condition']!r}: Gamma_S left [0, 1] "
                           f"(min {checked.min():.3g}, max {checked.max():.3g})")
    q = tripartite_quantities(block, "tripartite")
    u0_star, alpha = float(q["synapse"]["U_0_star"]), float(q["synapse"]["alpha"])
    pairs_all = np.vstack([arrays["pairs_Gamma_S"], final[None, :]])  # (records + 1, pairs)
    pairs = pairs_all[: n_cycles * every + 1 : every]                 # every pair at k·τc
    if block["readout"] == "release_probability":
        value = (1 - mean_gamma) * u0_star + alpha * mean_gamma
        pairs = (1 - pairs) * u0_star + alpha * pairs
    else:
        value = mean_gamma
    readout = pd.DataFrame({"cycle": np.arange(n_cycles + 1),
                            "time_s": np.arange(n_cycles + 1) * period_s, "p_l": value})
    # every pair's value (distill weights the fit by their spread and bootstraps over them)
    readout = pd.concat([readout, pd.DataFrame(pairs, columns=[f"pair_{k}" for k in range(n)])],
                        axis=1)

    cycle = np.floor(t / period_s + 1e-9).astype(int)
    frames = [pd.DataFrame({"time_s": t, "cycle": cycle, "element": "mean", "variable": var,
                            "value": values})
              for var, values in (("Gamma_S", mean_trace),
                                  ("U_0", (1 - mean_trace) * u0_star + alpha * mean_trace))]
    umolar = float(parse_quantity("1 uM", _umolar(), "umolar"))
    for _, var, unit in RECORDED:
        data = arrays[var].T
        scale = umolar if unit == "umolar" else 1.0
        for k in range(n_rec):
            frames.append(pd.DataFrame({"time_s": t, "cycle": cycle, "element": f"pair{k}",
                                        "variable": var, "value": data[k] / scale}))
    for k in range(n_rec):  # events: one row per event, value 1
        for var, prefix in (("glio_release", "glio"), ("presyn_spike", "pre")):
            times = arrays[f"{prefix}_t"][arrays[f"{prefix}_i"] == k]
            frames.append(pd.DataFrame({
                "time_s": times, "cycle": np.floor(times / period_s + 1e-9).astype(int),
                "element": f"pair{k}", "variable": var, "value": 1.0}))
    traces = pd.concat(frames, ignore_index=True)
    info = {
        "condition": params["condition"],
        "model": "tripartite",
        "readout": block["readout"],
        "biological_time_s": (n_cycles + int(proto["rest_cycles"])) * period_s,
        "n_pairs": n,
        "n_connections": {k: int(arrays[f"N_{k}"].reshape(-1)[0]) for k in ("spikes", "glu",
                                                                             "glio")},
        "presynaptic_spikes": int(arrays["pre_t"].size),
        "gliotransmitter_releases": int(arrays["glio_t"].size),
        "final_mean_gamma_s": float(final.mean()),
        "dt_s": float(run.dt / sec),
    }
    return SimulationResult(params["condition"], traces, readout, info)
