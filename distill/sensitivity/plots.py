"""The tornado plot of one condition: the schedule elasticity of every parameter, sorted, next
to the elasticities of τ_LTP and of the plateau."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.io import atomic_write  # noqa: E402


def _bars(ax, y: np.ndarray, values: np.ndarray, one_sided: np.ndarray, height: float,
          offset: float, colors: tuple[str, str], label: str | None) -> None:
    color = np.where(values >= 0, colors[0], colors[1])
    for k in range(len(y)):
        if not np.isfinite(values[k]):
            continue
        ax.barh(y[k] + offset, values[k], height=height, color=color[k],
                hatch="//" if one_sided[k] else None, edgecolor="k", linewidth=0.3,
                label=label if k == 0 else None)


def plot_tornado(table: pd.DataFrame, out: str | Path, title: str, T: int,
                 threshold: float) -> None:
    """Write the tornado plot of a sensitivity table (rows with a measured schedule
    elasticity, largest |value| on top; hatched bars are one-sided) to ``out`` (PNG)."""
    e = table["schedule_elasticity"].astype(float)
    shown = table[e.notna()].assign(_abs=e[e.notna()].abs()).sort_values("_abs")
    missing = table[e.isna()]
    n = max(len(shown), 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 1.6 + 0.27 * n), sharey=True,
                                      gridspec_kw={"width_ratios": [1.2, 1]})
    y = np.arange(len(shown))
    one_sided = (shown["status"] == "one-sided").to_numpy()
    _bars(left, y, shown["schedule_elasticity"].to_numpy(float), one_sided, 0.7, 0.0,
          ("tab:red", "tab:blue"), None)
    left.axvspan(-threshold, threshold, color="0.85", zorder=0,
                 label=f"|e| < {threshold:g}: does not move the schedule")
    left.set_xlabel(f"elasticity of RF(1, {T}) / RF({T}, {T})  (% per % of the parameter)")
    left.set_title(f"schedule (T = {T})")
    left.legend(loc="lower right", fontsize=8)
    _bars(right, y, shown["elasticity_tau"].where(shown["elasticity_tau"].notna(),
          shown[["elasticity_tau_minus", "elasticity_tau_plus"]].mean(axis=1)).to_numpy(float),
          one_sided, 0.38, 0.2, ("tab:green", "tab:green"), "τ_LTP")
    _bars(right, y, shown["elasticity_plateau"].where(
          shown["elasticity_plateau"].notna(),
          shown[["elasticity_plateau_minus", "elasticity_plateau_plus"]].mean(axis=1)
          ).to_numpy(float), one_sided, 0.38, -0.2, ("tab:gray", "tab:gray"), "plateau")
    right.set_xlabel("elasticity")
    right.set_title("τ_LTP and plateau")
    right.legend(loc="lower right", fontsize=8)
    for ax in (left, right):
        ax.axvline(0, color="k", lw=0.6)
        ax.grid(axis="x", alpha=0.3)
    left.set_yticks(y)
    left.set_yticklabels([f"{r.label} ({r.parameter})" for r in shown.itertuples()],
                         fontsize=8)
    fig.suptitle(title)
    if len(missing):
        names = ", ".join(f"{r.parameter} ({r.status})" for r in missing.itertuples())
        fig.text(0.01, 0.005, f"not measured: {names}", fontsize=7, wrap=True, va="bottom")
    fig.tight_layout(rect=(0, 0.04 if len(missing) else 0, 1, 1))
    atomic_write(out, lambda p: fig.savefig(p, dpi=100))
    plt.close(fig)
