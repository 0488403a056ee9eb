"""One self-contained HTML report (images embedded, no network) from named files only.

The report reads exactly the files it is given (the report rule passes the DAG's declared
inputs); it never looks around a results folder, so a stray file there (a demo retention
JSON, a removed condition's leftovers) can neither break nor enter it.

Sections: LTP simulation and macro-model fits (τ_LTP, warnings); retention schedules;
parameter sweeps; accuracy (ours, with the data, scale and device of every number) next to
the paper's; the claims scorecard; memory and speed of the runs, the benchmarks and every
timed workflow job; training curves. The page is a ``string.Template`` (``PAGE``).
"""

from __future__ import annotations

import base64
import html
import io
import logging
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from analysis.aggregate import CHANCE_P, accuracy_pivot  # noqa: E402
from analysis.benchmarks import read_benchmark_csv, rule_benchmarks  # noqa: E402
from analysis.runs import RunRecord, read_runs  # noqa: E402
from pipeline.io import atomic_write_text  # noqa: E402
from pipeline.plot_text import literal  # noqa: E402
from pipeline.retention import read_payload  # noqa: E402
from report.sensitivity import sensitivity_section  # noqa: E402

log = logging.getLogger(__name__)

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

CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}td,th{border:1px solid #bbb;
padding:.3em .6em;text-align:right}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}.note{color:#555;font-size:.9em}
.label{display:inline-block;background:#fff3cd;border:1px solid #e0c870;padding:.1em .5em;
border-radius:3px;font-size:.85em}nav a{margin-right:1em}"""

#: The page; ``$sections``: the HTML of :data:`SECTIONS`, one after the other.
PAGE = Template("""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>RMAAT report</title><style>$css</style></head>
<body>
<h1>RMAAT: from astrocyte LTP to long-context accuracy</h1>
<p class="note">Generated $generated. Everything below was measured in this run unless
labelled as the paper's.</p>
$sections
</body></html>
""")


@dataclass
class ReportInputs:
    """The files a report reads; each list may be empty (its section then says so or is left
    out). Plots are found by their folder and name (``plots/{condition}/fit.png``,
    ``sweeps/{sweep}/table.csv``), never by listing a folder."""

    retention: list[Path] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    sweep_tables: list[Path] = field(default_factory=list)
    sweep_plots: list[Path] = field(default_factory=list)
    accuracy: Path | None = None
    runs: Path | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    claims: Path | None = None
    metrics: list[Path] = field(default_factory=list)
    benchmarks: list[Path] = field(default_factory=list)
    sensitivity: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("retention", "plots", "sweep_tables", "sweep_plots", "metrics",
                     "benchmarks", "sensitivity"):
            setattr(self, name, [Path(p) for p in getattr(self, name)])
        for name in ("accuracy", "runs", "claims"):
            if getattr(self, name) is not None:
                setattr(self, name, Path(getattr(self, name)))
        missing = [str(p) for p in self.all_files() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"report input(s) missing: {', '.join(missing)}; run the "
                                    "workflow (snakemake) that writes them first")

    def all_files(self) -> list[Path]:
        """Every file named, in a fixed order."""
        single = [p for p in (self.accuracy, self.runs, self.claims) if p is not None]
        return [*self.retention, *self.plots, *self.sweep_tables, *self.sweep_plots, *single,
                *self.metrics, *self.benchmarks, *self.sensitivity]

    def plot(self, folder: str, name: str) -> Path | None:
        """The plot ``{folder}/{name}.png`` among the named plots (None if not given)."""
        for p in [*self.plots, *self.sweep_plots]:
            if p.parent.name == folder and p.name == f"{name}.png":
                return p
        return None


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fig_img(fig, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,' \
           f'{base64.b64encode(buf.getvalue()).decode()}">'


def _table(df: pd.DataFrame, floatfmt: str = "{:.3g}") -> str:
    def fmt(v):
        if isinstance(v, float):
            return "" if v != v else floatfmt.format(v)  # NaN: empty cell
        return html.escape(str(v))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{rows}</table>"


def ltp_section(inputs: ReportInputs) -> str:
    """LTP fits: one row per condition (model, parameters, τ_LTP, warnings) and its plots."""
    parts = ["<h2>LTP simulation and macro-model fits</h2>"]
    if not inputs.retention:
        return "\n".join(parts + ["<p>No conditions in this configuration.</p>"])
    conditions_png = inputs.plot("plots", "conditions")
    if conditions_png:
        parts.append(_img(conditions_png, "conditions compared"))
    rows, names = [], []
    nan = float("nan")
    for path in inputs.retention:
        r = read_payload(path)  # the retention contract's checks; names a bad file
        names.append(r["condition"])
        mm = r["macro_model"]
        params = ", ".join(f"{k} = {v:.4g} ± {mm.get('stderr', {}).get(k, nan):.2g}"
                           for k, v in mm["params"].items())
        d = r.get("derived") or {}
        ci = ((r.get("bootstrap") or {}).get("ci95") or {}).get("tau_ltp_s")
        tau = d.get("tau_ltp_s")
        tau_text = "" if tau is None else f"{tau:.4g}"
        if tau is not None and ci:
            tau_text += f" [{ci[0]:.4g}, {ci[1]:.4g}]"
        elif tau is not None and d.get("tau_ltp_stderr_s") is not None:
            tau_text += f" ± {d['tau_ltp_stderr_s']:.2g}"
        rows.append({"condition": r["condition"], "selected model": mm["name"],
                     "parameters (time in s)": params, "R²": mm["r2"],
                     "AICc": mm.get("aicc") if mm.get("aicc") is not None else mm.get("aic"),
                     "τc (s)": r.get("tau_cycle_s", nan), "τ_LTP (s)": tau_text,
                     "τ_LTP (cycles)": d.get("tau_ltp_cycles", nan),
                     "plateau": d.get("plateau", nan),
                     "cycles to 90 %": d.get("cycles_to_90", nan),
                     "RF(1,16)/RF(16,16)": d.get("shape_ratio_16") or nan,
                     "RF(1, 16)": r["schedules"]["16"][0] if "16" in r["schedules"] else nan,
                     "warnings": "; ".join(r.get("warnings", [])) or "none"})
    parts.append(_table(pd.DataFrame(rows), "{:.4g}"))
    parts.append('<p class="note">τ_LTP: the fitted LTP time constant (or the time to 63 % '
                 "of the rise for forms without one), ± its standard error or [95 % "
                 "bootstrap interval over pairs]; plateau p(∞); RF(1,16)/RF(16,16): how much "
                 "more the first of 16 segments is retained than the last (1 = uniform). "
                 "Warnings as the distill stage issued them.</p>")
    for name in names:
        for plot in ("fit", "traces"):
            png = inputs.plot(name, plot)
            if png:
                parts.append(f"<h3>{html.escape(name)}: {plot}</h3>" + _img(png, f"{name} {plot}"))
    return "\n".join(parts)


def schedule_section(inputs: ReportInputs) -> str:
    """The retention schedule plot of every condition."""
    pngs = [p for p in inputs.plots if p.name == "schedules.png"]
    if not pngs:
        return ""
    parts = ["<h2>Memory retention schedules RF(t, T)</h2>",
             '<p class="note">RF(t, T) = share of LTP growth during STP cycle t of T; it scales '
             "the memory handed from segment t to t+1. Not learned.</p>"]
    for path in pngs:
        parts.append(f"<h3>{html.escape(path.parent.name)}</h3>" + _img(path, "schedules"))
    return "\n".join(parts)


#: Sweep table columns shown, with their headings (value columns come first, as written).
SWEEP_COLUMNS = {"point": "point", "status": "status", "model": "selected model", "r2": "R²",
                 "t63_s": "t63 (s)", "tau_s": "τ_LTP (s)", "plateau": "plateau"}


def sweeps_section(inputs: ReportInputs) -> str:
    """Each sweep: its points (swept values, fit, RF(1, T), warnings) and its plots."""
    if not inputs.sweep_tables:
        return ""
    parts = ["<h2>Parameter sweeps</h2>",
             "<p class='note'>One row per point: the swept values, the selected macro model and "
             "its fit, RF(1, T) for the sweep's numbers of segments, and why a point was not "
             "fitted (status other than ok).</p>"]
    for path in inputs.sweep_tables:
        table = pd.read_csv(path)
        sweep = path.parent.name
        values = [c for c in table.columns if c.endswith("]")]
        rf = [c for c in table.columns if c.startswith("RF1_T")]
        shown = table[["point", *values, *[c for c in SWEEP_COLUMNS if c in table
                                            and c != "point"], *rf]].copy()
        shown["warnings"] = (table["reason"].fillna("").astype(str) + " "
                             + table["warnings"].fillna("").astype(str)).str.strip()
        shown = shown.rename(columns={**SWEEP_COLUMNS,
                                      **{c: f"RF(1, {c[5:]})" for c in rf}})
        counts = ", ".join(f"{n} {s}" for s, n in table["status"].value_counts().items())
        parts.append(f"<h3>{html.escape(sweep)} ({len(table)} points: {html.escape(counts)})"
                     "</h3>")
        parts.append(_table(shown, "{:.4g}"))
        for plot in ("fit_vs_parameter", "ltp_curves", "schedules", "heatmap"):
            png = inputs.plot(sweep, plot)
            if png:
                parts.append(_img(png, f"{sweep} {plot}"))
    return "\n".join(parts)


def accuracy_section(inputs: ReportInputs) -> str:
    """Test accuracy per task and variant (single-seed cells marked), and the paper's."""
    parts = ["<h2>Accuracy</h2>"]
    if inputs.accuracy is None or inputs.runs is None:
        return "\n".join(parts + ["<p>No training runs in this configuration.</p>"])
    runs = pd.read_csv(inputs.runs)
    acc = pd.read_csv(inputs.accuracy)
    devices = ", ".join(sorted(set(runs["device"].astype(str))))
    parts.append(f'<p><span class="label">this run: {html.escape(devices)}; reduced scale; '
                 "see the data note of every task</span></p>")
    pivot = accuracy_pivot(acc, show_seeds=True).reset_index()
    pivot = pivot.rename(columns={"task_title": "task (test accuracy %)"})
    parts.append(_table(pivot))
    parts.append("<p class='note'>Mean ± standard deviation over n seeds; a cell from one seed "
                 "shows its single value (no spread can be given). (chance): not above the "
                 "majority class (one-sided binomial test of the pooled test predictions, "
                 f"p ≥ {CHANCE_P}).</p>")
    notes = acc.groupby("task_title")["data_note"].first()
    parts.append("<ul>" + "".join(f"<li><b>{html.escape(t)}</b>: {html.escape(str(n))}</li>"
                                  for t, n in notes.items()) + "</ul>")
    for task, why in inputs.skipped.items():
        parts.append(f"<p class='note'>{html.escape(task)}: skipped, {html.escape(why)}</p>")
    parts.append("<h3>The paper's numbers (official LRA, full scale, GPU; not comparable "
                 "to the reduced-scale numbers above)</h3>")
    paper = pd.DataFrame(PAPER_ACCURACY).T
    paper.insert(0, "model", paper.index)
    parts.append(_table(paper.reset_index(drop=True), "{:.1f}"))
    return "\n".join(parts)


def claims_section(inputs: ReportInputs) -> str:
    """The claims scorecard (claims.csv), when the configuration has claims."""
    if inputs.claims is None:
        return ""
    table = pd.read_csv(inputs.claims).fillna("")
    cols = ["claim", "paper", "tasks", "ours", "n", "effect", "ci_low", "ci_high", "p_value",
            "verdict", "test", "note"]
    return "\n".join([
        "<h2>The paper's claims at this scale</h2>",
        "<p class='note'>One row per claim (results/claims.md). Accuracy effects are "
        "differences of test accuracy (first variant minus second, as fractions); speed and "
        "memory are ratios. Reproduced only with the paper's sign and significance "
        "(p &lt; 0.05); recurrent models classify from their memory only. The tasks are "
        "those of the accuracy table (its notes say which data is not LRA).</p>",
        _table(table[[c for c in cols if c in table]], "{:.3g}")])


def memory_section(inputs: ReportInputs) -> str:
    """Memory and speed: training runs, benchmark CSVs, and every timed workflow job."""
    parts = ["<h2>Memory and speed</h2>"]
    if inputs.runs is not None:
        runs = pd.read_csv(inputs.runs)
        cols = ["task", "variant", "seed", "driver", "peak_memory_mb", "tokens_per_s",
                "train_wall_s", "parameters", "device"]
        parts.append("<h3>Training runs</h3>")
        measure = ", ".join(sorted(set(runs["memory_measure"].astype(str))))
        parts.append(f"<p class='note'>Peak memory: {html.escape(measure)}.</p>")
        parts.append(_table(runs[cols], "{:.4g}"))
    csvs = [p for p in inputs.benchmarks if p.suffix == ".csv"]
    for csv in csvs:
        parts.append(f"<h3>Benchmark: {html.escape(csv.name)}</h3>")
        parts.append(_table(read_benchmark_csv(csv), "{:.4g}"))
    tsvs = [p for p in inputs.benchmarks if p.suffix == ".tsv"]
    if tsvs:
        table = rule_benchmarks(tsvs)
        parts.append("<h3>Workflow jobs (Snakemake benchmark files)</h3>")
        summary = table.groupby("rule", sort=False).agg(
            jobs=("job", "size"), total_wall_s=("wall (s)", "sum"),
            max_wall_s=("wall (s)", "max"), max_rss_mb=("peak RSS (MB)", "max")).reset_index()
        parts.append(_table(summary.rename(columns={
            "total_wall_s": "wall, all jobs (s)", "max_wall_s": "slowest job (s)",
            "max_rss_mb": "largest peak RSS (MB)"}), "{:.4g}"))
        parts.append("<details><summary>every job</summary>" + _table(table, "{:.4g}")
                     + "</details>")
        parts.append("<p class='note'>Wall time and peak resident memory of the job's "
                     "processes as Snakemake measured them (results/benchmarks/rules/).</p>")
    parts.append(f"<p class='note'>{html.escape(PAPER_MEMORY)}</p>")
    return "\n".join(parts)


def curves_section(inputs: ReportInputs) -> str:
    """Validation accuracy per epoch of every run, one panel per task."""
    if not inputs.metrics:
        return ""
    by_task: dict[str, list[RunRecord]] = {}
    for m in read_runs(inputs.metrics):
        by_task.setdefault(m.task_title, []).append(m)
    fig, axes = plt.subplots(1, len(by_task), figsize=(5.5 * len(by_task), 3.8), squeeze=False)
    for ax, (task, runs) in zip(axes[0], by_task.items(), strict=True):
        for m in runs:
            epochs = [e["epoch"] for e in m.epochs]
            ax.plot(epochs, [100 * e["val_acc"] for e in m.epochs], marker="o",
                    label=f"{literal(m.variant)} seed {m.seed}")
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
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2,
                  frameon=False)
    fig.tight_layout()
    return "<h2>Training curves</h2>" + _fig_img(fig, "validation accuracy per epoch")


#: The sections in page order: each builder takes the inputs and returns its HTML ("" when
#: it has nothing to show). Moving, adding or removing a section is an edit of this list.
def sensitivity(inputs: ReportInputs) -> str:
    """Which biological parameters move the schedule (report/sensitivity.py)."""
    return sensitivity_section(inputs.sensitivity)


SECTIONS: tuple[Callable[[ReportInputs], str], ...] = (
    ltp_section, schedule_section, sweeps_section, sensitivity, accuracy_section,
    claims_section, memory_section, curves_section)


def render_report(inputs: ReportInputs) -> str:
    """The report page (HTML text) of ``inputs``."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    generated = html.escape(f"{now} on {platform.node()} ({platform.machine()})")
    return PAGE.substitute(css=CSS, generated=generated,
                           sections="\n".join(section(inputs) for section in SECTIONS))


def write_report(inputs: ReportInputs, out: str | Path) -> Path:
    """Write the HTML report of ``inputs`` to ``out`` (atomically); returns ``out``."""
    page = render_report(inputs)
    out = Path(out)
    atomic_write_text(out, page)
    log.info("wrote %s (%d input files)", out, len(inputs.all_files()))
    return out
