"""The retention factors the models used: RF(t, T), t = 1..T, that each variant's trained
model applied (``rf_factors_final`` of its runs' metrics.json, read through
``analysis.runs``), next to one another, so the learned factor's final shape sits beside the
biological schedule and the flat 1/T.

One line per variant and (task, T): the mean over seeds against the segment t, the min–max
over seeds as a band where seeds differ, the factors at the start of training dashed where
training changed them (a learned schedule). One panel per (task, T). Below, a table of the
mean line's RF(1, T), RF(T, T), their ratio, the sum over t and the largest change from the
start, and a caption written from those numbers. Factors are dimensionless. Runs without RF
(rf_mode none, non-recurrent presets, files written before runs recorded their factors) are
left out; without any run that has factors the section is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from analysis.runs import RunRecord, read_runs
from pipeline.plot_text import literal
from report.inputs import ReportInputs
from report.parts import Section, esc, fig_img, table

#: Two factors closer than this are the same number (seeds "differ", training "changed" a
#: factor, a sum "is 1" only beyond it): float64 round-off of factors near 1/T.
SAME = 1e-9


@dataclass(frozen=True)
class FactorLine:
    """The factors of one variant on one task with T segments: ``final`` / ``initial``
    [seeds, T] (``initial`` None when a run did not record it); ``schedule`` where they come
    from (rf_schedule, rf_mode when not scalar, rf_lr when learned)."""

    task: str
    T: int
    variant: str
    schedule: str
    seeds: tuple[int, ...]
    final: np.ndarray
    initial: np.ndarray | None

    @property
    def label(self) -> str:
        """The legend's and the caption's name: the variant as written, and its schedule."""
        return f"{self.variant} ({self.schedule})"

    @property
    def mean(self) -> np.ndarray:
        """RF(t, T) at the end of training, mean over seeds [T]."""
        return self.final.mean(axis=0)

    @property
    def seeds_differ(self) -> bool:
        """Whether the seeds ended with different factors (then a band is drawn)."""
        return bool(np.ptp(self.final, axis=0).max() > SAME)

    @property
    def moved(self) -> float:
        """Largest |final − initial| over seeds and t (NaN when the start is not recorded)."""
        if self.initial is None:
            return float("nan")
        return float(np.abs(self.final - self.initial).max())

    @property
    def sums(self) -> np.ndarray:
        """Σ_t RF(t, T) at the end of training, one per seed."""
        return self.final.sum(axis=1)


def _schedule(run: RunRecord) -> str:
    model = run.model
    words = [str(model.get("rf_schedule", "?"))]
    if model.get("rf_mode") not in (None, "scalar"):
        words.append(f"{model['rf_mode']} mode")
    if model.get("rf_schedule") == "learned" and "rf_lr" in run.spec:
        words.append(f"rf_lr {run.spec['rf_lr']:g}")
    return ", ".join(words)


def factor_lines(runs: list[RunRecord]) -> list[FactorLine]:
    """The runs that recorded factors, grouped by (task, T, variant, schedule), in the order
    they first appear; runs without factors are left out."""
    groups: dict[tuple[str, int, str, str], list[RunRecord]] = {}
    for run in runs:
        if run.rf_factors_final is None:
            continue
        key = (run.task_title, len(run.rf_factors_final), run.variant, _schedule(run))
        groups.setdefault(key, []).append(run)
    lines = []
    for (task, n, variant, schedule), group in groups.items():
        group = sorted(group, key=lambda r: r.seed)
        initial = None
        if all(r.rf_factors_initial is not None and len(r.rf_factors_initial) == n
               for r in group):
            initial = np.array([r.rf_factors_initial for r in group], dtype=float)
        lines.append(FactorLine(task, n, variant, schedule, tuple(r.seed for r in group),
                                np.array([r.rf_factors_final for r in group], dtype=float),
                                initial))
    return lines


def factors_figure(lines: list[FactorLine]) -> str:
    """One panel per (task, T): every variant's mean factors against t, seed bands, and the
    starting factors dashed where training changed them."""
    panels: dict[tuple[str, int], list[FactorLine]] = {}
    for line in lines:
        panels.setdefault((line.task, line.T), []).append(line)
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    labels = list(dict.fromkeys(line.label for line in lines))
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    entries = len(labels) + sum(1 for line in lines if line.moved > SAME)
    legend_in = 0.25 + 0.17 * -(-entries // 2)
    height = 3.4 * rows + legend_in
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.6 * cols, 6.5), height),
                             squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    handles: dict[str, object] = {}
    for ax, ((task, n), group) in zip(axes.flat, panels.items(), strict=False):
        t = np.arange(1, n + 1)
        for line in group:
            colour = colours[line.label]
            drawn = ax.plot(t, line.mean, marker="o", ms=3, color=colour, lw=1.5)
            handles.setdefault(f"{literal(line.label)}, mean over seeds", drawn[0])
            if line.seeds_differ:
                band = ax.fill_between(t, line.final.min(axis=0), line.final.max(axis=0),
                                       color=colour, alpha=0.18, lw=0)
                handles.setdefault(f"{literal(line.label)}, min–max over seeds", band)
            if line.moved > SAME:
                start = ax.plot(t, line.initial.mean(axis=0), ls="--", color=colour, lw=1.2)
                handles.setdefault(f"{literal(line.label)} at the start of training",
                                   start[0])
        ax.set_title(f"{literal(task)}, T = {n}", fontsize=10)
        ax.set_xlabel("segment t")
        ax.set_ylabel("RF(t, T)")
        if n <= 16:
            ax.set_xticks(t)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.5, n + 0.5)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=2, fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, legend_in / height, 1, 1))
    return fig_img(fig, "retention factors RF(t, T) per segment, final and initial")


def factors_table(lines: list[FactorLine]) -> pd.DataFrame:
    """One row per line: the mean factors' RF(1, T), RF(T, T), their ratio, the sum over t
    (mean over seeds) and the largest change from the start of training."""
    return pd.DataFrame({
        "variant": [line.variant for line in lines],
        "schedule": [line.schedule for line in lines],
        "task": [line.task for line in lines], "T": [line.T for line in lines],
        "seeds": [len(line.seeds) for line in lines],
        "RF(1, T)": [float(line.mean[0]) for line in lines],
        "RF(T, T)": [float(line.mean[-1]) for line in lines],
        "RF(1, T) / RF(T, T)": [float(line.mean[0] / line.mean[-1]) for line in lines],
        "Σ_t RF(t, T)": [float(line.sums.mean()) for line in lines],
        "largest change from start": [line.moved for line in lines]})


def _range(values: np.ndarray) -> str:
    low, high = float(values.min()), float(values.max())
    return f"{low:.4g}" if high - low <= SAME else f"{low:.4g}–{high:.4g}"


def caption(lines: list[FactorLine]) -> str:
    """What the table's numbers say, in words: which variants' factors sum to 1, what the
    others sum to, and which changed in training and by how much."""
    by_label: dict[str, list[FactorLine]] = {}
    for line in lines:
        by_label.setdefault(line.label, []).append(line)
    one, other, moved = [], [], []
    for label, group in by_label.items():
        sums = np.concatenate([line.sums for line in group])
        if np.abs(sums - 1).max() <= 1e-6:
            one.append(label)
        else:
            other.append(f"{label} to {_range(sums)}")
        change = max(line.moved for line in group)
        if change > SAME:
            moved.append(f"{label} by up to {change:.3g}")
    words = []
    if one:
        words.append(f"The factors of {', '.join(one)} sum to 1 over the T segments.")
    if other:
        words.append(f"Summed over t, those of {'; '.join(other)} (range over seeds and "
                     "panels).")
    if moved:
        words.append(f"Training changed the factors of {'; '.join(moved)} (largest "
                     "|final − initial| over t and seeds); the others are fixed.")
    else:
        words.append("No variant's factors changed in training.")
    if any("gated mode" in line.schedule for line in lines):
        words.append("In gated mode the model applies RF(t, T) / RF(1, T) of these factors.")
    return " ".join(words)


def factors_body(inputs: ReportInputs) -> str:
    """The section's HTML ("" when no run recorded factors)."""
    lines = factor_lines(read_runs(inputs.metrics)) if inputs.metrics else []
    if not lines:
        return ""
    return "\n".join([
        "<p class='note'>RF(t, T): the retention factor the trained model applies at "
        "segment t of T (each run's rf_factors_final), mean over seeds; shaded: min–max over "
        "seeds where they differ; dashed: the factors at the start of training where training "
        "changed them. Runs without a retention factor are not shown.</p>",
        factors_figure(lines), table(factors_table(lines), "{:.4g}"),
        f"<p class='note'>Table: the mean line's numbers. {esc(caption(lines))}</p>"])


factors_section = Section("factors", "Retention factors the models used", factors_body)
