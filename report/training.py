"""The training sections of the report: test accuracy (ours, with the data, scale and device of
every number, next to the paper's), memory and speed (runs, benchmarks, every timed workflow
job) and the training curves. Runs are read through ``analysis.runs``, benchmark files
through ``analysis.benchmarks``. Accuracy is in % everywhere (differences: points)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from analysis.aggregate import CHANCE_P, accuracy_pivot
from analysis.benchmarks import read_benchmark_csv, rule_benchmarks
from analysis.runs import RunRecord, read_runs
from pipeline.plot_text import literal
from report.inputs import ReportInputs
from report.parts import Section, esc, fig_img, table

#: The paper's table: official LRA, full scale, GPU. Test accuracy in %.
PAPER_ACCURACY = {
    "transformer": {"listops": 36.4, "text": 64.3, "retrieval": 57.5, "image": 42.4,
                    "pathfinder": 71.4},
    "linear_transformer": {"listops": 16.1, "text": 65.9, "retrieval": 53.1, "image": 42.3,
                           "pathfinder": 75.3},
    "rmt": {"listops": 37.4, "text": 65.0, "retrieval": 79.3, "image": 54.6, "pathfinder": 81.5},
    "rlt": {"listops": 18.4, "text": 64.8, "retrieval": 78.4, "image": 55.0, "pathfinder": 74.9},
    "rmaat": {"listops": 38.9, "text": 65.9, "retrieval": 83.2, "image": 64.8, "pathfinder": 87.1},
}
PAPER_MEMORY = ("Paper (GPU, official LRA): peak memory RMAAT 3.4–5.3 GB, RMT 12.7–24 GB, "
                "RLT 12.1–22.6 GB, Transformer 4.7–7.8 GB; AMRB vs BPTT on Retrieval 3.4 vs "
                "15.0 GB (4.41×); speed vs RMT 1.5–1.73× (0.95× on Pathfinder).")
#: Variants per accuracy table: a wider pivot is split into tables of this many variants
#: (each with the task and majority-class columns), so no table runs off the page.
VARIANTS_PER_TABLE = 6


def accuracy_body(inputs: ReportInputs) -> str:
    """Test accuracy per task and variant (single-seed cells marked), and the paper's."""
    if inputs.accuracy is None or inputs.runs is None:
        return "<p>No training runs in this configuration.</p>"
    runs = pd.read_csv(inputs.runs)
    acc = pd.read_csv(inputs.accuracy)
    devices = ", ".join(sorted(set(runs["device"].astype(str))))
    parts = [f'<p><span class="label">this run: {esc(devices)}; reduced scale; see the data '
             "note of every task</span></p>"]
    pivot = accuracy_pivot(acc, show_seeds=True)
    variants = [c for c in pivot.columns if c != "majority class"]
    for start in range(0, len(variants), VARIANTS_PER_TABLE):
        part = pivot[["majority class", *variants[start:start + VARIANTS_PER_TABLE]]]
        part = part.reset_index().rename(columns={"task_title": "task (test accuracy %)"})
        parts.append(table(part))
    parts.append("<p class='note'>Mean ± standard deviation over n seeds, in %; a cell from "
                 "one seed shows its single value (no spread can be given). (chance): not "
                 "above the majority class (one-sided binomial test of the pooled test "
                 f"predictions, p ≥ {CHANCE_P}).</p>")
    notes = acc.groupby("task_title", sort=False)["data_note"].first()
    parts.append("<ul>" + "".join(f"<li><b>{esc(t)}</b>: {esc(n)}</li>"
                                  for t, n in notes.items()) + "</ul>")
    for task, why in inputs.skipped.items():
        parts.append(f"<p class='note'>{esc(task)}: skipped, {esc(why)}</p>")
    parts.append("<h3>The paper's numbers (official LRA, full scale, GPU; not comparable "
                 "to the reduced-scale numbers above)</h3>")
    paper = pd.DataFrame(PAPER_ACCURACY).T
    paper.insert(0, "model (test accuracy %)", paper.index)
    parts.append(table(paper.reset_index(drop=True), "{:.1f}"))
    return "\n".join(parts)


def memory_body(inputs: ReportInputs) -> str:
    """Memory and speed: training runs, benchmark CSVs, and every timed workflow job."""
    parts = []
    if inputs.runs is not None:
        runs = pd.read_csv(inputs.runs)
        cols = ["task", "variant", "seed", "driver", "peak_memory_mb", "tokens_per_s",
                "train_wall_s", "parameters", "device"]
        parts.append("<h3>Training runs</h3>")
        measure = ", ".join(sorted(set(runs["memory_measure"].astype(str))))
        parts.append(f"<p class='note'>Peak memory: {esc(measure)}.</p>")
        parts.append(table(runs[cols], "{:.4g}"))
    for csv in (p for p in inputs.benchmarks if p.suffix == ".csv"):
        parts.append(f"<h3>Benchmark: {esc(csv.name)}</h3>")
        parts.append(table(read_benchmark_csv(csv), "{:.4g}"))
    tsvs = [p for p in inputs.benchmarks if p.suffix == ".tsv"]
    if tsvs:
        jobs = rule_benchmarks(tsvs)
        parts.append("<h3>Workflow jobs (Snakemake benchmark files)</h3>")
        summary = jobs.groupby("rule", sort=False).agg(
            jobs=("job", "size"), total_wall_s=("wall (s)", "sum"),
            max_wall_s=("wall (s)", "max"), max_rss_mb=("peak RSS (MB)", "max")).reset_index()
        parts.append(table(summary.rename(columns={
            "total_wall_s": "wall, all jobs (s)", "max_wall_s": "slowest job (s)",
            "max_rss_mb": "largest peak RSS (MB)"}), "{:.4g}"))
        parts.append("<details><summary>every job</summary>" + table(jobs, "{:.4g}")
                     + "</details>")
        parts.append("<p class='note'>Wall time and peak resident memory of the job's "
                     "processes as Snakemake measured them (results/benchmarks/rules/).</p>")
    parts.append(f"<p class='note'>{esc(PAPER_MEMORY)}</p>")
    return "\n".join(parts)


def curves_body(inputs: ReportInputs) -> str:
    """Validation accuracy per epoch of every run, one panel per task."""
    if not inputs.metrics:
        return ""
    by_task: dict[str, list[RunRecord]] = {}
    for m in read_runs(inputs.metrics):
        by_task.setdefault(m.task_title, []).append(m)
    cols = min(len(by_task), 3)  # at most three panels a row: readable in the page's column
    rows = -(-len(by_task) // cols)
    labels = list(dict.fromkeys(f"{literal(m.variant)} seed {m.seed}"
                                for runs in by_task.values() for m in runs))
    legend_in = 0.25 + 0.17 * -(-(len(labels) + 1) // 4)  # one legend under every panel
    height = 3.4 * rows + legend_in
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, height), squeeze=False)
    for ax in axes.flat[len(by_task):]:
        ax.set_visible(False)
    colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    for ax, (task, runs) in zip(axes.flat, by_task.items(), strict=False):
        for m in runs:
            label = f"{literal(m.variant)} seed {m.seed}"
            ax.plot([e["epoch"] for e in m.epochs], [100 * e["val_acc"] for e in m.epochs],
                    marker="o", color=colours[label], label=label)
        ax.axhline(100 * runs[0].majority_acc, color="k", ls=":", label="majority class")
        ax.set_title(literal(task))
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (%)")
        shown = sorted({e["epoch"] for m in runs for e in m.epochs})
        if len(shown) <= 12:  # a tick on each epoch run, whole numbers only
            ax.set_xticks(shown)
            ax.set_xlim(shown[0] - 0.5, shown[-1] + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=4,
               fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, legend_in / height, 1, 1))
    return fig_img(fig, "validation accuracy per epoch")


accuracy_section = Section("accuracy", "Accuracy", accuracy_body)
memory_section = Section("memory", "Memory and speed", memory_body)
curves_section = Section("curves", "Training curves", curves_body)
