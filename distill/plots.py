"""Figures of the distill stage (Agg, no display; PNGs written atomically).

* :func:`plot_fit` — the readout with every fitted candidate (selected one highlighted, R² and
  AICc in the legend), τ_LTP and the other derived quantities, every warning (red box), and the
  residuals underneath.
* :func:`plot_schedules` — RF(t, T) against segment t for a few T, and RF(1, T), RF(T, T)
  against T.
* :func:`plot_comparison` — several conditions: one panel per condition with its fitted curve
  (and readout) on its own time axis and y label (p^l or Γ_S), RF(t, T) for one T and RF(1, T)
  against T; conditions with warnings are marked "(!)" in the legends and their warnings listed.

Figures are built with :class:`matplotlib.figure.Figure` (Agg canvas), never pyplot, so nothing
depends on a display or on global pyplot state.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from pipeline.io import atomic_write
from pipeline.plot_text import literal

from .derived import fmt
from .errors import RetentionError
from .io import Readout, schedules_from_json
from .macro_models import FittedCurve
from .pipeline import DistillResult

DEFAULT_T = (4, 8, 16, 32)
DPI = 120


def _save(fig: Figure, path: str | os.PathLike[str]) -> None:
    FigureCanvasAgg(fig)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI))


def _cycle_axis(ax: Axes, tau_cycle_s: float) -> None:
    """Secondary top axis in cycles (t / τc)."""
    sec = ax.secondary_xaxis(
        "top", functions=(lambda t: t / tau_cycle_s, lambda c: c * tau_cycle_s)
    )
    sec.set_xlabel("STP cycle")
    sec.xaxis.set_major_locator(MaxNLocator(integer=True))


def _integer_axes(ax: Axes, log_x: bool = False) -> None:
    """Ticks of a count axis (segments, numbers of segments) on whole numbers only."""
    if log_x:
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:.0f}"))  # 4, 8, 16, not 2^2, 2^3
        ax.xaxis.set_minor_formatter("")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


#: What the readout column ``p_l`` holds, by simulation readout: (axis label, symbol).
QUANTITIES = {
    "p_l": ("mean long-term process $p^l$ (dimensionless)", "$p^l$"),
    "gamma_s": (r"mean gliotransmitter-bound receptor fraction $\Gamma_S$", r"$\Gamma_S$"),
    "release_probability": ("mean effective release probability $U_0$", "$U_0$"),
}


def plot_fit(result: DistillResult, path: str | os.PathLike[str],
             quantity: str = "p_l") -> None:
    """Readout, every fitted candidate and residuals for one condition → PNG at ``path``.

    quantity: what the readout holds, a key of :data:`QUANTITIES` (axis labels only).
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}; got {quantity!r}")
    y_label, symbol = QUANTITIES[quantity]
    ro = result.readout
    t_end = max(ro.duration_s, result.horizon_s)
    grid = np.linspace(0.0, t_end, 600)
    fig = Figure(figsize=(8, 7), layout="constrained")
    ax, axr = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
    ax.plot(ro.time_s, ro.p_l, "o", ms=3.5, color="0.25", label="readout (simulation)", zorder=3)
    for i, c in enumerate(result.candidates):
        color = f"C{i}"
        if c.status != "ok":
            ax.plot([], [], " ", label=f"{c.name}: fit failed")
            continue
        chosen = c is result.selected
        tag = " — selected" if chosen else ("" if c.eligible else " (ineligible)")
        aicc = c.aicc if c.aicc is not None else c.aic
        label = f"{c.name}{tag}: R²={c.r2:.4f}, AICc={aicc:.1f}"
        ax.plot(grid, c.curve(grid), color=color, lw=2.8 if chosen else 1.3,
                ls="-" if c.eligible else "--", label=label, zorder=4 if chosen else 2)
        axr.plot(ro.time_s, c.residuals, "-" if chosen else ":", marker="." if chosen else None,
                 color=color, lw=1.6 if chosen else 1.0)
    if result.extrapolated_beyond_s is not None:
        for a in (ax, axr):
            a.axvspan(ro.duration_s, t_end, color="0.92", zorder=0)
        ax.text(ro.duration_s, 0.5, " extrapolated fit", va="center", fontsize=8,
                transform=ax.get_xaxis_transform())
    axr.axhline(0.0, color="0.4", lw=0.8)
    ax.set_ylabel(y_label)
    axr.set_ylabel(f"residual {symbol} − fit")
    axr.set_xlabel("time (s)")
    ax.set_title(f"{literal(result.condition)}: LTP readout and macro-model fits "
                 f"(τc = {ro.tau_cycle_s:g} s)")
    ax.legend(fontsize=8, loc="lower right")
    d = result.derived
    text = (f"τ_LTP = {fmt(d['tau_ltp_s'])} s = {fmt(d['tau_ltp_cycles'])} cycles\n"
            f"plateau {fmt(d['plateau'])}; 90 % after {fmt(d['cycles_to_90'])} cycles")
    if d["shape_ratio_16"] is not None:
        text += f"\nRF(1,16)/RF(16,16) = {fmt(d['shape_ratio_16'])}"
    ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=8,
            bbox=dict(boxstyle="round", fc="white", ec="0.6"))
    if result.warnings:
        ax.text(0.02, 0.70, "warnings:\n" + "\n".join(_wrap(literal(w)) for w in result.warnings),
                transform=ax.transAxes, va="top", fontsize=7, color="C3",
                bbox=dict(boxstyle="round", fc="#fff0f0", ec="C3"))
    _cycle_axis(ax, ro.tau_cycle_s)
    _save(fig, path)


def _wrap(text: str, width: int = 70) -> str:
    """Wrap a warning for a plot, dropping the redundant "condition 'x': " prefix."""
    import textwrap

    if text.startswith("condition ") and ": " in text:
        text = text.split(": ", 1)[1]
    return "\n".join(textwrap.wrap(text, width)) or text


def _schedule_axes(ax: Axes, schedules: dict[int, np.ndarray], Ts: Sequence[int],
                   label_prefix: str = "", color: str | None = None) -> None:
    for j, T in enumerate(Ts):
        rf = schedules[T]
        ax.plot(np.arange(1, T + 1), rf, marker="o", ms=3, lw=1.2, color=color,
                alpha=1.0 if color is None else 0.35 + 0.65 * (j + 1) / len(Ts),
                label=f"{label_prefix}T = {T}")


def plot_schedules(
    schedules: dict[int, np.ndarray], condition: str, path: str | os.PathLike[str],
    Ts: Sequence[int] = DEFAULT_T,
) -> None:
    """RF(t, T) for the T in ``Ts`` (those ≤ the largest T available) and RF(1, T), RF(T, T)
    against T → PNG at ``path``."""
    Ts = [T for T in Ts if T in schedules] or [max(schedules)]
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, width_ratios=(3, 2))
    _schedule_axes(ax, schedules, Ts)
    ax.set_xlabel("segment t (= STP cycle)")
    ax.set_ylabel("retention factor RF(t, T)")
    ax.set_yscale("log")
    ax.set_title(f"{literal(condition)}: retention schedules")
    ax.legend(fontsize=8)
    _integer_axes(ax)
    allT = np.array(sorted(schedules))
    ax2.plot(allT, [schedules[T][0] for T in allT], "o-", ms=3, label="RF(1, T) (first)")
    ax2.plot(allT, [schedules[T][-1] for T in allT], "s-", ms=3, label="RF(T, T) (last)")
    ax2.plot(allT, 1.0 / allT, "k:", lw=1, label="1/T (uniform)")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("number of segments T")
    ax2.set_ylabel("retention factor")
    ax2.set_title(f"{literal(condition)}: first and last segment vs T")
    ax2.legend(fontsize=8)
    _integer_axes(ax2, log_x=True)
    _save(fig, path)


def plot_comparison(
    payloads: Sequence[dict[str, Any]],
    path: str | os.PathLike[str],
    readouts: Sequence[Readout] | None = None,
    T: int | None = None,
) -> int:
    """Conditions side by side from retention JSON payloads (and optionally their readouts):
    fitted curves, RF(t, T) for one T (default: the largest T ≤ 16 common to all) and RF(1, T)
    against T → PNG at ``path``. Returns the T used."""
    scheds = [schedules_from_json(p) for p in payloads]
    common = sorted(set.intersection(*(set(s) for s in scheds)))
    if not common:
        raise RetentionError("the retention files share no schedule length T")
    if T is None:
        T = max([x for x in common if x <= 16] or common[:1])
    elif T not in common:
        raise RetentionError(f"T = {T} is not in every retention file (common: {common[0]}..."
                         f"{common[-1]})")
    n = len(payloads)
    fig = Figure(figsize=(15, max(4.8, 2.3 * n)), layout="constrained")
    grid = fig.add_gridspec(n, 3)
    curve_axes = [fig.add_subplot(grid[i, 0]) for i in range(n)]
    ax2, ax3 = fig.add_subplot(grid[:, 1]), fig.add_subplot(grid[:, 2])
    notes: list[str] = []
    for i, p in enumerate(payloads):
        color, name = f"C{i}", literal(p["condition"])
        flagged = bool(p.get("warnings"))
        tag = f"{name} (!)" if flagged else name
        if flagged:
            notes += [f"{name}: {_wrap(literal(w), 60)}" for w in p["warnings"]]
        mm = p["macro_model"]
        curve = FittedCurve.from_dict(mm["name"], mm["params"])
        t_end = max(float(p.get("horizon_s", 0.0)), float(p.get("duration_s", 0.0)))
        ax = curve_axes[i]
        if readouts is not None:
            ro = readouts[i]
            ax.plot(ro.time_s, ro.p_l, "o", ms=2.5, color=color, alpha=0.5, label="readout")
            t_end = max(t_end, ro.duration_s)
        t_end = t_end or 64 * float(p["tau_cycle_s"])
        grid_t = np.linspace(0.0, t_end, 400)
        derived = p.get("derived") or {}
        tau = derived.get("tau_ltp_s")
        tau_text = "" if tau is None else f", τ_LTP={tau:.3g} s"
        ax.plot(grid_t, curve(grid_t), color=color, lw=2,
                label=f"{tag}: {mm['name']} (R²={mm['r2']:.4f}{tau_text})")
        if p.get("extrapolated_beyond_s") is not None:
            ax.axvspan(float(p["extrapolated_beyond_s"]), t_end, color="0.92", zorder=0)
        label, _ = QUANTITIES.get(p.get("quantity", "p_l"), QUANTITIES["p_l"])
        ax.set_ylabel(label.replace("mean ", "").replace(" (dimensionless)", ""), fontsize=8)
        ax.set_xlabel(f"time (s), τc = {p['tau_cycle_s']:g} s", fontsize=8)
        ax.legend(fontsize=7, loc="lower right")
        rf = scheds[i][T]
        ax2.plot(np.arange(1, T + 1), rf, "o-", ms=3, color=color, label=tag)
        allT = np.array(sorted(scheds[i]))
        ax3.plot(allT, [scheds[i][x][0] for x in allT], "-", color=color, label=tag)
    curve_axes[0].set_title("fitted LTP macro models" + (" and readouts" if readouts is not None
                                                          else ""))
    ax2.set_xlabel("segment t (= STP cycle)")
    ax2.set_ylabel(f"RF(t, T = {T})")
    ax2.set_title(f"retention schedules, T = {T}")
    ax2.legend(fontsize=8)
    _integer_axes(ax2)
    allT = np.arange(1, max(max(s) for s in scheds) + 1)
    ax3.plot(allT, 1.0 / allT, "k:", lw=1, label="1/T (uniform)")
    ax3.set_xscale("log", base=2)
    ax3.set_yscale("log")
    ax3.set_xlabel("number of segments T")
    ax3.set_ylabel("RF(1, T) (first segment)")
    ax3.set_title("first-segment retention vs T")
    _integer_axes(ax3, log_x=True)
    if notes:  # every warning, listed in the legend of the last panel
        for note in notes:
            ax3.plot([], [], " ", label="(!) " + note)
    ax3.legend(fontsize=6 if notes else 8, loc="upper right")
    fig.suptitle("conditions compared: " + ", ".join(literal(p["condition"]) for p in payloads))
    _save(fig, path)
    return T
