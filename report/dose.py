"""The dose-response section (biology -> model): test accuracy against the fitted τ_LTP of the
schedule the runs read, from ``results/dose_response.csv`` and ``.json``.

The CSV has one row per swept biological value (``kind`` dose) plus the references (``flat``:
the flat 1/T schedule, ``no_rf``: no retention factor); accuracies in points with the 95 %
t-interval over seeds. The JSON holds the trend test (slope in points per doubling of τ_LTP,
its CI and p) and a generated reading. The figure: accuracy against τ_LTP in segments on a log
axis with CI bars; flat and no-RF as horizontal lines with their CI bands.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from pipeline.plot_text import literal
from report.parts import (
    esc,
    fig_img,
    interval,
    is_number,
    p_text,
    plain_log_ticks,
    points,
    table,
)

#: Columns the dose-response CSV must have.
COLUMNS = ("kind", "parameter", "value", "condition", "tau_ltp_segments", "rf_ratio", "task",
           "seeds", "acc_mean", "ci_low", "ci_high", "sd")
#: How each reference row is drawn: (label, colour, line style).
REFERENCES = {"flat": ("flat 1/T schedule", "#5f5f5f", "--"),
              "no_rf": ("no retention factor", "#b34400", ":")}
DOSE_COLOUR = "#005a8f"


def read_dose_files(paths: list[Path]) -> tuple[pd.DataFrame, dict]:
    """The dose-response table and summary among ``paths`` (one .csv, one .json). Raises
    ValueError naming the file for a missing file kind, column or key."""
    by_suffix = {Path(p).suffix: Path(p) for p in paths}
    for suffix in (".csv", ".json"):
        if suffix not in by_suffix:
            raise ValueError(f"dose-response: no {suffix} among {', '.join(map(str, paths))}; "
                             "pass results/dose_response.csv and .json")
    csv = by_suffix[".csv"]
    frame = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise ValueError(f"{csv}: dose-response table: missing column(s) {', '.join(missing)}")
    try:
        summary = json.loads(by_suffix[".json"].read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{by_suffix['.json']}: not valid JSON ({err})") from None
    if not isinstance(summary, dict):
        raise ValueError(f"{by_suffix['.json']}: expected a JSON object")
    frame["tau_ltp_segments"] = pd.to_numeric(frame["tau_ltp_segments"], errors="coerce")
    return frame, summary


def _panel(ax, rows: pd.DataFrame, task: str) -> None:
    doses = rows[rows["kind"] == "dose"].sort_values("tau_ltp_segments")
    for kind, (label, colour, style) in REFERENCES.items():
        ref = rows[rows["kind"] == kind]
        if ref.empty or not is_number(ref["acc_mean"].iloc[0]):
            continue
        r = ref.iloc[0]
        ci = interval(r["ci_low"], r["ci_high"], _unsigned)
        ax.axhline(r["acc_mean"], color=colour, ls=style, lw=1.5,
                   label=f"{label}: {r['acc_mean']:.1f} {ci}".strip())
        if is_number(r["ci_low"]) and is_number(r["ci_high"]):
            ax.axhspan(r["ci_low"], r["ci_high"], color=colour, alpha=0.12, lw=0)
    x, y = doses["tau_ltp_segments"], doses["acc_mean"]
    low = (y - doses["ci_low"]).clip(lower=0).fillna(0)
    high = (doses["ci_high"] - y).clip(lower=0).fillna(0)
    ax.errorbar(x, y, yerr=[low, high], fmt="o-", color=DOSE_COLOUR, capsize=3, lw=1.5,
                label=f"swept {literal(doses['parameter'].iloc[0]) if len(doses) else ''}")
    for _, d in doses.iterrows():
        ax.annotate(literal(d["value"]), (d["tau_ltp_segments"], d["acc_mean"]),
                    textcoords="offset points", xytext=(4, 6), fontsize=8, color=DOSE_COLOUR)
    if len(doses) and (doses["tau_ltp_segments"] > 0).all():
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
    ax.set_xlabel("fitted τ_LTP of the schedule (segments = STP cycles), log axis")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(literal(task), loc="left", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2,
              frameon=False)


def dose_figure(frame: pd.DataFrame) -> str:
    """One panel per task: accuracy against τ_LTP with the references."""
    tasks = list(dict.fromkeys(frame["task"].astype(str)))
    width = 8.0 if len(tasks) == 1 else min(5.5 * len(tasks), 12.5)
    fig, axes = plt.subplots(1, len(tasks), figsize=(width, 4.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        _panel(ax, frame[frame["task"].astype(str) == task], task)
    fig.tight_layout()
    return fig_img(fig, "dose-response: test accuracy against tau_LTP")


def trend_sentence(summary: dict) -> str:
    """The trend test in words ("" when the summary has none)."""
    trend = summary.get("trend") or {}
    if not is_number(trend.get("slope")):
        return ""
    ci = interval(trend.get("ci_low"), trend.get("ci_high"))
    seeds = f", {trend['n_seeds']} seeds" if trend.get("n_seeds") is not None else ""
    return (f"Trend ({trend.get('test', 'test')}): {points(trend['slope'])} points per "
            f"doubling of τ_LTP {ci} (95 % CI), p = {p_text(trend.get('p_value'))}{seeds}.")


def dose_table(frame: pd.DataFrame) -> str:
    """The rows as a table (accuracy in points with its CI)."""
    shown = pd.DataFrame({
        "kind": frame["kind"], "task": frame["task"], "value": frame["value"].fillna(""),
        "condition": frame["condition"].fillna(""),
        "τ_LTP (segments)": [("∞" if v == float("inf") else f"{v:.3g}") if is_number(v)
                             or v == float("inf") else "" for v in frame["tau_ltp_segments"]],
        "RF(1,T)/RF(T,T)": frame["rf_ratio"], "seeds": frame["seeds"],
        "accuracy (%) [95 % CI]": [f"{points(m, signed=False)} {interval(lo, hi, _unsigned)}"
                                   for m, lo, hi in zip(frame["acc_mean"], frame["ci_low"],
                                                        frame["ci_high"], strict=True)],
        "SD (points)": frame["sd"]})
    return table(shown)


def _unsigned(value: object) -> str:
    return points(value, signed=False)


def dose_section(paths: list[Path]) -> str:
    """The section's body ("" when no dose-response files are given)."""
    if not paths:
        return ""
    frame, summary = read_dose_files(paths)
    parameter = summary.get("parameter") or next(
        (p for p in frame["parameter"].dropna().astype(str) if p), "a biological parameter")
    parts = [f"<p class='note'>One biological value changed at a time ({esc(parameter)}): "
             "each value is simulated and distilled into a retention schedule, and the model "
             "is trained on it. Its accuracy (mean and 95 % CI over seeds) is plotted against "
             "the fitted τ_LTP of that schedule in segments; the flat 1/T schedule and no "
             "retention factor are the references (lines with their CI bands).</p>"]
    if summary.get("reading"):
        parts.append(f"<p><b>{esc(summary['reading'])}</b></p>")
    trend = trend_sentence(summary)
    if trend:
        parts.append(f"<p>{esc(trend)}</p>")
    parts.append(dose_figure(frame))
    parts.append("<details><summary>every value</summary>" + dose_table(frame) + "</details>")
    return "\n".join(parts)
