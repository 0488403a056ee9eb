"""Figures of a simulated condition: neuron, synapse and astrocytic-process traces."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.io import atomic_write  # noqa: E402
from pipeline.plot_text import literal  # noqa: E402

PANELS = [
    ("x", "neuron rate x (a.u.)", "Neurons (pre: solid, post: dashed)"),
    ("s", "synaptic state s (a.u.)", "Synapses"),
    ("p_s", "short-term process p$^s$ (a.u.)", "Short-term astrocytic processes"),
    ("p_l", "long-term process p$^l$ (a.u.)", "Long-term astrocytic processes"),
]


def title_values(params: dict) -> str:
    """What a condition's plots say about it: its values, not its free-text description
    (which may no longer match after a value changes). E.g. "τ_pl = 8 s, τ_ps = 500 ms,
    16 cycles of 2 s"."""
    constants = params.get("constants") or {}
    protocol = params.get("protocol") or {}
    parts = [f"τ_{k[4:]} = {constants[k]}" for k in ("tau_pl", "tau_ps") if k in constants]
    if params.get("model") == "tripartite":
        readout = (params.get("tripartite") or {}).get("readout")
        parts = ["tripartite synapse"] + ([f"readout {readout}"] if readout else [])
    if "n_cycles" in protocol:
        period = protocol.get("period")
        parts.append(f"{protocol['n_cycles']} cycles" + (f" of {period}" if period else ""))
    return ", ".join(parts)


def plot_traces(traces: pd.DataFrame, readout: pd.DataFrame, out: str | Path,
                title: str = "", zoom_cycles: int = 3) -> None:
    """Four stacked panels (x, s, p^s, p^l against time in s) plus a zoom on the first cycles.

    The p^l panel overlays the readout (mean p^l at cycle boundaries) as black dots.
    """
    fig, axes = plt.subplots(len(PANELS), 2, figsize=(14, 10), sharex="col",
                             gridspec_kw={"width_ratios": [3, 1]}, layout="constrained")
    period = float(readout["time_s"].iloc[1] - readout["time_s"].iloc[0])
    for row, (var, ylabel, panel_title) in enumerate(PANELS):
        data = traces[traces["variable"] == var]
        for col in range(2):
            ax = axes[row, col]
            sel = data if col == 0 else data[data["time_s"] <= zoom_cycles * period]
            for element, group in sel.groupby("element", sort=False):
                style = "--" if element.startswith("post") else "-"
                ax.plot(group["time_s"], group["value"], style, lw=0.8,
                        label=element if col == 0 else None)
            if var == "p_l" and col == 0:
                ax.plot(readout["time_s"], readout["p_l"], "ko", ms=2.5,
                        label="readout: mean p$^l$ at cycle ends")
            ax.grid(alpha=0.3)
            if col == 0:
                ax.set_ylabel(ylabel)
                ax.set_title(panel_title, fontsize=10, loc="left")
                # outside the data: right of the zoom panel, in readable type
                handles, labels = ax.get_legend_handles_labels()
                axes[row, 1].legend(handles, labels, fontsize=8, frameon=False,
                                    loc="upper left", bbox_to_anchor=(1.02, 1.0),
                                    ncol=2 if len(labels) > 8 else 1)
            else:
                ax.set_title(f"first {zoom_cycles} cycles", fontsize=9)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    fig.suptitle(literal(title))
    atomic_write(out, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)
