"""Figure of one tripartite simulation: input, Ca²⁺, gliotransmitter and Γ_S traces.

Laid out like the figures of the Brian2 neuron–glia examples (Stimberg et al. 2019, Figs. 3
and 4): presynaptic spikes, astrocytic Ca²⁺ with the release threshold C_Θ and the
gliotransmitter release events, extracellular gliotransmitter G_A, presynaptic receptors
Γ_S (recorded pairs, population mean and the cycle-boundary readout) and the resting
release probability U_0. Left column: the whole run; right column: the first cycles.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.io import atomic_write  # noqa: E402
from pipeline.plot_text import literal  # noqa: E402

PANELS = [
    ("presyn_spike", "input\nspikes"),
    ("C", "C (µM)"),
    ("G_A", "G$_A$ (µM)"),
    ("Gamma_S", "Γ$_S$"),
    ("U_0", "U$_0$"),
]


def c_theta_um(params: dict | None) -> float | None:
    """The Ca²⁺ release threshold C_Θ in µM from resolved parameters (None if unknown)."""
    if not params or "tripartite" not in params:
        return None
    from pipeline.units import ANY, parse_quantity

    text = params["tripartite"]["astrocyte"]["C_Theta"]
    return float(parse_quantity(text, ANY, "C_Theta") / parse_quantity("1 uM", ANY, "uM"))


def plot_tripartite_traces(traces: pd.DataFrame, readout: pd.DataFrame, out: str | Path,
                           title: str = "", zoom_cycles: int = 5, pair: str | None = None,
                           c_theta_um: float | None = 0.5) -> None:
    """Stacked panels for one recorded pair (default the first) plus the population mean."""
    pairs = sorted(e for e in traces["element"].unique() if e.startswith("pair"))
    pair = pair or (pairs[0] if pairs else None)
    period = float(readout["time_s"].iloc[1] - readout["time_s"].iloc[0])
    fig, axes = plt.subplots(len(PANELS), 2, figsize=(14, 9), sharex="col", layout="constrained",
                             gridspec_kw={"width_ratios": [3, 1],
                                          "height_ratios": [0.6, 1, 1, 1.4, 1]})
    own = traces[traces["element"] == pair]
    mean = traces[traces["element"] == "mean"]
    for col in range(2):
        t_max = float(traces["time_s"].max()) if col == 0 else zoom_cycles * period

        def window(df: pd.DataFrame, t_max: float = t_max) -> pd.DataFrame:
            return df[df["time_s"] <= t_max]

        for row, (var, ylabel) in enumerate(PANELS):
            ax = axes[row, col]
            data = window(own[own["variable"] == var])
            if var == "presyn_spike":
                ax.vlines(data["time_s"], 0, 1, color="k", lw=0.6)
                ax.set_yticks([])
            elif var == "C":
                ax.plot(data["time_s"], data["value"], color="C3", lw=0.8)
                if c_theta_um is not None:
                    ax.axhline(c_theta_um, ls=":", color="gray", label="C$_Θ$")
                events = window(own[own["variable"] == "glio_release"])
                ax.plot(events["time_s"], [c_theta_um or 0.0] * len(events), "v", color="C2",
                        ms=4, label="gliotransmitter release")
            elif var in ("Gamma_S", "U_0"):
                ax.plot(data["time_s"], data["value"], color="C0", lw=0.8, label=pair)
                m = window(mean[mean["variable"] == var])
                ax.plot(m["time_s"], m["value"], color="k", lw=1.2, label="mean of all pairs")
                if var == "Gamma_S" and col == 0 and "p_l" in readout:
                    ax.plot(readout["time_s"], readout["p_l"], "o", color="C1", ms=2.5,
                            label="readout p_l (cycle boundaries)")
                ax.set_ylim(-0.02, 1.02)
            else:
                ax.plot(data["time_s"], data["value"], color="C2", lw=0.8)
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(ylabel)
            elif row == 0:
                ax.set_title(f"first {zoom_cycles} cycles", fontsize=9)
    for row in range(len(PANELS)):  # legends outside the data: right of the zoom panel
        handles, labels = axes[row, 0].get_legend_handles_labels()
        if handles:
            axes[row, 1].legend(handles, labels, fontsize=8, frameon=False, loc="upper left",
                                bbox_to_anchor=(1.02, 1.0))
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.suptitle(literal(f"{title} — {pair}" if title else pair))
    atomic_write(out, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)
