"""The claims as a forest plot: one row per claim, its effect and 95 % CI in accuracy points,
the equivalence margin ±margin as a shaded band, the zero line, the verdict as the marker's
colour and its word at the right. Ratio rows (speed, memory) are not points: they get a small
panel of their own on a log axis with the line at 1×.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle
from matplotlib.transforms import blended_transform_factory

from pipeline.plot_text import literal
from report.parts import VERDICT_COLOURS, fig_img, is_number, plain_log_ticks

#: Width of the figure (inches) and the height of one claim's row.
WIDTH, ROW = 9.0, 0.42
BAND = "#dfe8f2"


def _label(row: pd.Series) -> str:
    text = textwrap.shorten(str(row["claim"]), 44, placeholder="…")
    return literal(text + (" ★" if row["primary"] else ""))


def _panel(ax, rows: pd.DataFrame, log: bool) -> None:
    """Draw ``rows`` top to bottom on ``ax`` (points, or ratios on a log axis)."""
    y = np.arange(len(rows))[::-1]
    reference = 1.0 if log else 0.0
    if not log:
        for yi, (_, row) in zip(y, rows.iterrows(), strict=True):
            if is_number(row["margin"]):
                m = float(row["margin"])
                ax.add_patch(Rectangle((-m, yi - 0.45), 2 * m, 0.9, color=BAND, lw=0,
                                       zorder=0))
    ax.axvline(reference, color="black", lw=1, zorder=1)
    text_at = blended_transform_factory(ax.transAxes, ax.transData)
    for yi, (_, row) in zip(y, rows.iterrows(), strict=True):
        colour = VERDICT_COLOURS.get(row["verdict"], VERDICT_COLOURS["inconclusive"])
        if is_number(row["ci_low"]) and is_number(row["ci_high"]):
            ax.plot([row["ci_low"], row["ci_high"]], [yi, yi], color=colour, lw=2, zorder=2)
        if is_number(row["effect"]):
            ax.plot(row["effect"], yi, "o", ms=7, color=colour, zorder=3)
        ax.text(1.01, yi, row["verdict"], transform=text_at, va="center", color=colour,
                fontsize=9, fontweight="bold")
    ax.set_yticks(y, [_label(r) for _, r in rows.iterrows()])
    for tick, (_, row) in zip(ax.get_yticklabels(), rows.iterrows(), strict=True):
        if row["primary"]:
            tick.set_fontweight("bold")
    ax.set_ylim(-0.6, len(rows) - 0.4)
    if log:
        ax.set_xscale("log")
        values = [float(v) for c in ("effect", "ci_low", "ci_high") for v in rows[c]
                  if is_number(v) and float(v) > 0] + [1.0]
        ax.set_xlim(min(values) / 1.15, max(values) * 1.15)
        plain_log_ticks(ax.xaxis, "×")
        ax.set_xlabel("ratio (first over second; 1× = no difference)")
    else:
        ax.set_xlabel("effect, accuracy points (first variant − second)")
    ax.grid(axis="x", alpha=0.3)


def _limits(rows: pd.DataFrame) -> tuple[float, float]:
    """x limits of the points panel: every effect, interval end and margin, and zero."""
    values = [0.0]
    for col in ("effect", "ci_low", "ci_high"):
        values += [float(v) for v in rows[col] if is_number(v)]
    values += [s * float(m) for m in rows["margin"] if is_number(m) for s in (-1, 1)]
    lo, hi = min(values), max(values)
    pad = 0.08 * (hi - lo or 1.0)
    return lo - pad, hi + pad


def forest_plot(table: pd.DataFrame) -> str:
    """The ``<img>`` of the forest plot of ``table`` (read_claims' layout); "" when no row
    has an effect to draw."""
    shown = table[table["effect"].map(is_number)]
    pts, ratios = shown[shown["unit"] != "ratio"], shown[shown["unit"] == "ratio"]
    panels = [(rows, log) for rows, log in ((pts, False), (ratios, True)) if len(rows)]
    if not panels:
        return ""
    heights = [len(rows) + 1.6 for rows, _ in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(WIDTH, ROW * sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (rows, log) in zip(axes[:, 0], panels, strict=True):
        _panel(ax, rows, log)
        if not log:
            ax.set_xlim(*_limits(rows))
    marks = "; ".join(m for m, shown_here in (
        ("★ primary", shown["primary"].any()),
        ("shaded: the equivalence margin ±margin", pts["margin"].map(is_number).any()))
        if shown_here)
    axes[0, 0].set_title("Effect and 95 % CI per claim" + (f" ({marks})" if marks else ""),
                         fontsize=10, loc="left")
    fig.tight_layout()
    return fig_img(fig, "forest plot of the claims: effect and 95 % CI per claim")
