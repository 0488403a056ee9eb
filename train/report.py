"""One self-contained HTML report of a results folder (images embedded, no network).

Sections: LTP simulation and macro-model fits; retention schedules; accuracy (ours, with
the data, scale and device of every number) next to the paper's; memory and speed of the
runs and of the benchmarks; training curves.
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from train.aggregate import CHANCE_P, accuracy_pivot  # noqa: E402

#: Paper Table (spec section 7): official LRA, full scale, GPU. Test accuracy in %.
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
border-radius:3px;font-size:.85em}"""


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
            return floatfmt.format(v)
        return html.escape(str(v))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><tr>{head}</tr>{rows}</table>"


def _ltp_section(results: Path) -> str:
    parts = ["<h2>1. LTP simulation and macro-model fits</h2>"]
    conditions = sorted((results / "retention").glob("*.json"))
    if (results / "plots" / "conditions.png").is_file():
        parts.append(_img(results / "plots" / "conditions.png", "conditions compared"))
    rows = []
    for path in conditions:
        r = json.loads(path.read_text())
        mm = r["macro_model"]
        params = ", ".join(f"{k} = {v:.4g} ± {mm['stderr'].get(k, float('nan')):.2g}"
                           for k, v in mm["params"].items())
        d = r.get("derived") or {}
        ci = ((r.get("bootstrap") or {}).get("ci95") or {}).get("tau_ltp_s")
        tau = d.get("tau_ltp_s")
        tau_text = "" if tau is None else f"{tau:.4g}"
        if tau is not None and ci:
            tau_text += f" [{ci[0]:.4g}, {ci[1]:.4g}]"
        elif tau is not None and d.get("tau_ltp_stderr_s") is not None:
            tau_text += f" ± {d['tau_ltp_stderr_s']:.2g}"
        nan = float("nan")
        rows.append({"condition": r["condition"], "selected model": mm["name"],
                     "parameters (time in s)": params, "R²": mm["r2"],
                     "AICc": mm.get("aicc") if mm.get("aicc") is not None else mm["aic"],
                     "τc (s)": r["tau_cycle_s"], "τ_LTP (s)": tau_text,
                     "τ_LTP (cycles)": d.get("tau_ltp_cycles", nan),
                     "plateau": d.get("plateau", nan),
                     "cycles to 90 %": d.get("cycles_to_90", nan),
                     "RF(1,16)/RF(16,16)": d.get("shape_ratio_16") or nan,
                     "RF(1, 16)": r["schedules"].get("16", [None])[0]
                     if "16" in r["schedules"] else nan,
                     "warnings": "; ".join(r.get("warnings", [])) or "none"})
    if rows:
        parts.append(_table(pd.DataFrame(rows), "{:.4g}"))
        parts.append('<p class="note">τ_LTP: the fitted LTP time constant (or the time to 63 % '
                     "of the rise for forms without one), ± its standard error or [95 % "
                     "bootstrap interval over pairs]; plateau p(∞); RF(1,16)/RF(16,16): how much "
                     "more the first of 16 segments is retained than the last (1 = uniform). "
                     "Warnings as the distill stage issued them.</p>")
    for path in conditions:
        name = path.stem
        for plot in ("fit", "traces"):
            png = results / "plots" / name / f"{plot}.png"
            if png.is_file():
                parts.append(f"<h3>{html.escape(name)}: {plot}</h3>" + _img(png, f"{name} {plot}"))
    return "\n".join(parts)


def _schedule_section(results: Path) -> str:
    parts = ["<h2>2. Memory retention schedules RF(t, T)</h2>",
             '<p class="note">RF(t, T) = share of LTP growth during STP cycle t of T; it scales '
             "the memory handed from segment t to t+1 (spec §1). Not learned.</p>"]
    for path in sorted((results / "plots").glob("*/schedules.png")):
        parts.append(f"<h3>{html.escape(path.parent.name)}</h3>" + _img(path, "schedules"))
    return "\n".join(parts)


def _accuracy_section(results: Path) -> str:
    parts = ["<h2>3. Accuracy</h2>"]
    runs_csv = results / "tables" / "runs.csv"
    if not runs_csv.is_file():
        return "\n".join(parts + ["<p>No training runs in this configuration.</p>"])
    runs = pd.read_csv(runs_csv)
    acc = pd.read_csv(results / "tables" / "accuracy.csv")
    devices = ", ".join(sorted(set(runs["device"].astype(str))))
    parts.append(f'<p><span class="label">this run: {html.escape(devices)}; reduced scale; '
                 "see the data note of every task</span></p>")
    pivot = accuracy_pivot(acc, show_seeds=True).reset_index()
    pivot = pivot.rename(columns={"task_title": "task (test accuracy %, mean ± std over seeds)"})
    parts.append(_table(pivot))
    parts.append(f"<p class='note'>n = seeds. (chance): not above the majority class "
                 f"(one-sided binomial test of the pooled test predictions, p ≥ {CHANCE_P}).</p>")
    notes = acc.groupby("task_title")["data_note"].first()
    parts.append("<ul>" + "".join(f"<li><b>{html.escape(t)}</b>: {html.escape(str(n))}</li>"
                                  for t, n in notes.items()) + "</ul>")
    skipped = results / "tables" / "skipped.json"
    if skipped.is_file():
        for task, why in json.loads(skipped.read_text()).items():
            parts.append(f"<p class='note'>{html.escape(task)}: {html.escape(why)}</p>")
    parts.append("<h3>The paper's numbers (official LRA, full scale, GPU; not comparable "
                 "to the reduced-scale numbers above)</h3>")
    paper = pd.DataFrame(PAPER_ACCURACY).T
    paper.insert(0, "model", paper.index)
    parts.append(_table(paper.reset_index(drop=True), "{:.1f}"))
    return "\n".join(parts)


def _claims_section(results: Path) -> str:
    """The claims scorecard (results/claims.csv), when the configuration has claims."""
    csv = results / "claims.csv"
    if not csv.is_file():
        return ""
    table = pd.read_csv(csv).fillna("")
    cols = ["claim", "paper", "ours", "n", "effect", "ci_low", "ci_high", "p_value",
            "verdict", "test", "note"]
    return "\n".join([
        "<h2>3b. The paper's claims at this scale</h2>",
        "<p class='note'>One row per claim (results/claims.md). Accuracy effects are "
        "differences of test accuracy (first variant minus second, as fractions); speed and "
        "memory are ratios. Reproduced only with the paper's sign and significance "
        "(p &lt; 0.05); recurrent models classify from their memory only.</p>",
        _table(table[cols], "{:.3g}")])


def _memory_section(results: Path) -> str:
    parts = ["<h2>4. Memory and speed</h2>"]
    runs_csv = results / "tables" / "runs.csv"
    if runs_csv.is_file():
        runs = pd.read_csv(runs_csv)
        cols = ["task", "variant", "seed", "driver", "peak_memory_mb", "tokens_per_s",
                "train_wall_s", "parameters", "device"]
        parts.append("<h3>Training runs</h3>")
        measure = ", ".join(sorted(set(runs["memory_measure"].astype(str))))
        parts.append(f"<p class='note'>Peak memory: {html.escape(measure)}.</p>")
        parts.append(_table(runs[cols], "{:.4g}"))
    for csv in sorted((results / "benchmarks").glob("*.csv")):
        parts.append(f"<h3>Benchmark: {html.escape(csv.name)}</h3>")
        parts.append(_table(pd.read_csv(csv), "{:.4g}"))
        png = csv.with_suffix(".png")
        if png.is_file():
            parts.append(_img(png, csv.stem))
    parts.append(f"<p class='note'>{html.escape(PAPER_MEMORY)}</p>")
    return "\n".join(parts)


def _curves_section(results: Path) -> str:
    metrics = sorted((results / "runs").glob("*/*/*/metrics.json"))
    if not metrics:
        return ""
    by_task: dict[str, list[dict]] = {}
    for path in metrics:
        m = json.loads(path.read_text())
        by_task.setdefault(m["task_title"], []).append(m)
    fig, axes = plt.subplots(1, len(by_task), figsize=(5 * len(by_task), 3.5), squeeze=False)
    for ax, (task, runs) in zip(axes[0], by_task.items(), strict=True):
        for m in runs:
            epochs = [e["epoch"] for e in m["epochs"]]
            ax.plot(epochs, [100 * e["val_acc"] for e in m["epochs"]], marker="o",
                    label=f"{m['variant']} s{m['seed']}")
        ax.axhline(100 * runs[0]["majority_acc"], color="k", ls=":", label="majority class")
        ax.set_title(task)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation accuracy (%)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return "<h2>5. Training curves</h2>" + _fig_img(fig, "validation accuracy per epoch")


def write_report(results_dir: str | Path, out: str | Path) -> Path:
    """Write the HTML report of ``results_dir`` to ``out`` (atomically); returns ``out``."""
    results = Path(results_dir)
    if not results.is_dir():
        raise FileNotFoundError(f"results folder {results} does not exist; run snakemake first")
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join([
        "<h1>RMAAT: from astrocyte LTP to long-context accuracy</h1>",
        f"<p class='note'>Generated {now} on {html.escape(platform.node())} "
        f"({html.escape(platform.machine())}). Everything below was measured in this run "
        "unless labelled as the paper's.</p>",
        _ltp_section(results), _schedule_section(results), _accuracy_section(results),
        _claims_section(results), _memory_section(results), _curves_section(results),
    ])
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>RMAAT report</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page)
    tmp.replace(out)
    return out
