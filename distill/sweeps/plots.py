"""Plots of a sweep: LTP curves coloured by the parameter, fitted time constant and plateau
against it, the retention-schedule family, heat maps for two-parameter sweeps. Flagged
points (not or weakly saturated, no fit) are drawn differently and named in every plot. Where
the selected macro model changes between neighbouring points, a dotted line marks the switch
(a kink there is a change of curve family, not necessarily of biology).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from pipeline.io import atomic_write  # noqa: E402
from pipeline.plot_text import literal  # noqa: E402

from ..macro_models import FittedCurve  # noqa: E402
from .analysis import FITTED  # noqa: E402


def _column(table: pd.DataFrame, param: str) -> str:
    return next(c for c in table.columns if c.startswith(f"{param} ["))


#: What a swept parameter is, by its last config-path component: name and symbol on an axis.
PARAMETER_NAMES = {
    "O_G": "gliotransmitter receptor activation rate O_G",
    "Omega_G": "gliotransmitter receptor inactivation rate Ω_G",
    "alpha": "release-probability effect of gliotransmitter α",
    "rate": "presynaptic firing rate",
    "U_0_star": "basal release probability U₀*",
    "Omega_f": "facilitation rate Ω_f",
    "Omega_d": "depression recovery rate Ω_d",
    "G_T": "total vesicular gliotransmitter G_T",
    "C_T": "total astrocytic Ca²⁺ C_T",
    "tau_pl": "long-term process time constant τ_pl",
    "tau_ps": "short-term process time constant τ_ps",
    "tau_s": "synaptic time constant τ_s",
    "tau_n": "neuron time constant τ_n",
    "gamma_l": "long-term gain γ_l",
    "gamma_s": "short-term gain γ_s",
    "coupling_strength": "astrocytic coupling strength",
    "coupling_length": "astrocytic coupling length",
    "n_pre": "presynaptic neurons",
    "n_post": "postsynaptic neurons",
    "n_pairs": "synapse pairs",
    "drive": "input drive",
    "period": "STP cycle period",
    "n_cycles": "STP cycles",
    "gain": "gain",
}

#: Units as an axis shows them (the config's ASCII spelling on the left).
UNIT_TEXT = {"/uM/s": "µM⁻¹ s⁻¹", "uM": "µM", "um": "µm", "/s": "s⁻¹", "uM/s": "µM/s",
             "1": ""}


def axis_label(table: pd.DataFrame, param: str) -> str:
    """An axis label for a swept parameter from the name and unit tables, e.g.
    ``tripartite.synapse.O_G`` in /uM/s -> "gliotransmitter receptor activation rate O_G
    (µM⁻¹ s⁻¹)"; a parameter not in the table keeps its last path component."""
    column = _column(table, param)
    unit = column[len(param) + 2:-1]
    parts = param.split(".")
    name = PARAMETER_NAMES.get(parts[-1], parts[-1])
    if parts[-1] == "gain" and len(parts) >= 2:
        name = f"{parts[-2]} gain"
    unit = UNIT_TEXT.get(unit, unit)
    return f"{name} ({unit})" if unit else name


_MARK = {"ok": "o", "poor fit": "d", "weakly saturated": "s", "not saturated": "x",
         "no rise": "x", "no eligible model": "x", "failed": "x"}


# --- plots ----------------------------------------------------------------------------------

def _save(fig, path: str | Path) -> None:
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _norm(values: np.ndarray, log: bool) -> mcolors.Normalize:
    lo, hi = float(np.min(values)), float(np.max(values))
    if hi == lo:
        hi = lo + 1
    return mcolors.LogNorm(lo, hi) if log and lo > 0 else mcolors.Normalize(lo, hi)


def _is_log(values: np.ndarray) -> bool:
    v = np.sort(values)
    return bool(len(v) > 2 and v[0] > 0 and np.allclose(np.diff(np.log(v)),
                                                         np.log(v[1] / v[0]), rtol=1e-3))


def _flag_note(ax, table: pd.DataFrame) -> None:
    bad = table[table["status"] != "ok"]
    if len(bad):
        parts = [f"{status}: {', '.join(group['point'])}"
                 for status, group in bad.groupby("status", sort=False)]
        ax.text(0.01, 0.99, "flagged — " + "; ".join(parts), transform=ax.transAxes,
                fontsize=6, color="C3", va="top", wrap=True)


def model_switches(table: pd.DataFrame, param: str) -> list[tuple[float, str, str]]:
    """(parameter value between the two points, model before, model after) wherever the
    selected model changes between neighbouring fitted points (sorted by the parameter)."""
    col = _column(table, param)
    fitted = table[table["status"].isin(FITTED)].sort_values(col)
    x = fitted[col].to_numpy(dtype=float)
    models = fitted["model"].astype(str).to_list()
    log = _is_log(table[col].to_numpy(dtype=float))
    out = []
    for i in range(1, len(models)):
        if models[i] != models[i - 1]:
            mid = float(np.sqrt(x[i] * x[i - 1])) if log and x[i - 1] > 0 else (x[i] + x[i - 1]) / 2
            out.append((mid, models[i - 1], models[i]))
    return out


def _mark_switches(ax, table: pd.DataFrame, param: str, label: bool = True) -> None:
    for k, (x, before, after) in enumerate(model_switches(table, param)):
        ax.axvline(x, color="k", ls=":", lw=1.2,
                   label="selected model changes" if label and k == 0 else None)
        if label:
            ax.text(x, 0.02, f" {before} → {after}", rotation=90, fontsize=6, va="bottom",
                    transform=ax.get_xaxis_transform())


def plot_ltp_curves(table: pd.DataFrame, readouts: dict[str, pd.DataFrame], fits: dict,
                    param: str, path: str | Path, title: str = "") -> None:
    """Readouts (dots) and fitted curves (lines) coloured by the swept parameter; flagged
    points dashed (weakly saturated) or grey crosses without a fit (not saturated, ...)."""
    x = table[_column(table, param)].to_numpy()
    log = _is_log(x)
    norm, cmap = _norm(x, log), plt.get_cmap("viridis")
    fig, ax = plt.subplots(figsize=(8, 5))
    for _, row in table.iterrows():
        ro = readouts[row["point"]]
        colour = cmap(norm(row[_column(table, param)])) if row["status"] in FITTED else "0.6"
        ax.plot(ro["time_s"], ro["p_l"], _MARK[row["status"]], ms=2.5, color=colour)
        ret = fits[row["point"]]["retention"]
        if ret is not None and row["status"] in FITTED:
            curve = FittedCurve.from_dict(ret["macro_model"]["name"], ret["macro_model"]["params"])
            t = np.linspace(0, float(ro["time_s"].iloc[-1]), 300)
            ax.plot(t, curve(t), "--" if row["status"] != "ok" else "-", color=colour, lw=1)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label=axis_label(table, param))
    ax.set(xlabel="time (s)", ylabel="readout p_l", title=literal(title or "LTP curves"))
    ax.plot([], [], "x", color="0.6", label="not saturated / no fit (grey, x)")
    ax.plot([], [], "s--", color="0.3", label="weakly saturated (dashed)")
    ax.legend(fontsize=7, loc="lower right")
    _flag_note(ax, table)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_fit_vs_parameter(table: pd.DataFrame, param: str, path: str | Path,
                          title: str = "") -> None:
    """t63 (and τ where sat_exp), plateau and R² against the parameter; flagged points marked."""
    x = table[_column(table, param)].to_numpy()
    fig, axes = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    ok = table["status"].isin(FITTED).to_numpy()
    for ax, col, label in ((axes[0], "t63_s", "time to 63 % of rise (s)"),
                           (axes[1], "plateau", "plateau p(∞)"), (axes[2], "r2", "R²")):
        y = table[col].to_numpy(dtype=float)
        ax.plot(x[ok], y[ok], "o-", color="C0", label=label)
        if col == "t63_s":
            tau = table["tau_s"].to_numpy(dtype=float)
            if np.isfinite(tau).any():
                ax.plot(x, tau, "^", color="C1", label="τ_LTP (fitted τ)")
        weak = (table["status"] == "weakly saturated").to_numpy()
        ax.plot(x[weak], y[weak], "s", mfc="none", color="C3", ms=9, label="weakly saturated")
        for xv in x[~ok]:
            ax.axvline(xv, color="C3", alpha=0.3, lw=3)
        if (~ok).any():
            ax.plot([], [], color="C3", alpha=0.3, lw=3, label="not saturated / no fit")
        _mark_switches(ax, table, param, label=ax is axes[0])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[2].axhline(0.98, ls=":", color="gray")
    if _is_log(x):
        axes[-1].set_xscale("log")
    axes[-1].set_xlabel(axis_label(table, param))
    axes[0].set_title(literal(title or "fitted macro model vs parameter"))
    _save(fig, path)


def plot_schedules(table: pd.DataFrame, fits: dict, param: str, segments: list[int],
                   path: str | Path, title: str = "") -> None:
    """RF(t, T) for every T of ``segments`` coloured by the parameter (the schedule family),
    and RF(1, T) against the parameter."""
    x = table[_column(table, param)].to_numpy()
    log = _is_log(x)
    norm, cmap = _norm(x, log), plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, len(segments) + 1, figsize=(4 * (len(segments) + 1), 4))
    for ax, T in zip(axes[:-1], segments, strict=True):
        for _, row in table.iterrows():
            ret = fits[row["point"]]["retention"]
            if ret is None or row["status"] not in FITTED:
                continue
            rf = ret["schedules"].get(str(T))
            if rf:
                ax.plot(np.arange(1, T + 1), rf, "--" if row["status"] != "ok" else "-",
                        color=cmap(norm(row[_column(table, param)])), lw=1)
        ax.axhline(1 / T, ls=":", color="gray", lw=0.8)
        ax.set(xlabel="segment t", ylabel=f"RF(t, {T})", title=f"T = {T}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[-2],
                 label=axis_label(table, param))
    ax = axes[-1]
    ok = table["status"].isin(FITTED).to_numpy()
    for T in segments:
        if f"RF1_T{T}" in table:
            ax.plot(x[ok], table[f"RF1_T{T}"].to_numpy(dtype=float)[ok], "o-", ms=3,
                    label=f"T = {T}")
    for xv in x[~ok]:
        ax.axvline(xv, color="C3", alpha=0.3, lw=3)
    _mark_switches(ax, table, param)
    if log:
        ax.set_xscale("log")
    ax.set(xlabel=axis_label(table, param), ylabel="RF(1, T)",
           title="first-segment share (red: no fit)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle(literal(title or "retention schedules across the sweep"))
    _save(fig, path)


def plot_heatmap(table: pd.DataFrame, params: list[str], segments: list[int],
                 path: str | Path, title: str = "") -> None:
    """Two-parameter sweeps: t63, plateau and RF(1, T_max) on the grid; flagged cells marked."""
    p1, p2 = params
    c1, c2 = _column(table, p1), _column(table, p2)
    x1 = sorted(table[c1].unique())
    x2 = sorted(table[c2].unique())
    T = max(segments)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, col, label in ((axes[0], "t63_s", "time to 63 % of rise (s)"),
                           (axes[1], "plateau", "plateau p(∞)"),
                           (axes[2], f"RF1_T{T}", f"RF(1, {T})")):
        grid = np.full((len(x1), len(x2)), np.nan)
        status = np.full((len(x1), len(x2)), "", dtype=object)
        for _, row in table.iterrows():
            i, j = x1.index(row[c1]), x2.index(row[c2])
            status[i, j] = row["status"]
            if row["status"] in FITTED and col in row:
                grid[i, j] = float(row[col])
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        for i in range(len(x1)):
            for j in range(len(x2)):
                if status[i, j] != "ok":
                    short = {"weakly saturated": "weak", "not saturated": "NS",
                             "poor fit": "R²"}.get(
                        status[i, j], "x")
                    ax.text(j, i, short, ha="center", va="center", color="red", fontsize=7)
        ax.set_xticks(range(len(x2)), [f"{v:.3g}" for v in x2], rotation=60, fontsize=7)
        ax.set_yticks(range(len(x1)), [f"{v:.3g}" for v in x1], fontsize=7)
        ax.set(xlabel=axis_label(table, p2), ylabel=axis_label(table, p1), title=label)
        fig.colorbar(im, ax=ax)
    fig.suptitle(literal(title or "two-parameter sweep") + "  (NS: not saturated, weak: weakly "
                 "saturated, R²: poor fit, x: no fit)")
    _save(fig, path)
