"""Figures of a simulated condition: neuron, synapse and astrocytic-process traces."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from simulation.result import atomic_write  # noqa: E402

PANELS = [
    ("x", "neuron rate x (a.u.)", "Neurons (pre: solid, post: dashed)"),
    ("s", "synaptic state s (a.u.)", "Synapses"),
    ("p_s", "short-term process p$^s$ (a.u.)", "Short-term astrocytic processes"),
    ("p_l", "long-term process p$^l$ (a.u.)", "Long-term astrocytic processes"),
]


def plot_traces(traces: pd.DataFrame, readout: pd.DataFrame, out: str | Path,
                title: str = "", zoom_cycles: int = 3) -> None:
    """Four stacked panels (x, s, p^s, p^l against time in s) plus a zoom on the first cycles.

    The p^l panel overlays the readout (mean p^l at cycle boundaries) as black dots.
    """
    fig, axes = plt.subplots(len(PANELS), 2, figsize=(12, 10), sharex="col",
                             gridspec_kw={"width_ratios": [3, 1]})
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
                ax.legend(fontsize=6, ncol=6, frameon=False,
                          loc="lower right" if var == "p_l" else "upper left")
            else:
                ax.set_title(f"first {zoom_cycles} cycles", fontsize=9)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(out, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)
