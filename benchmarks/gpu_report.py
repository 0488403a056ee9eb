"""Rows, derived ratios and the written files of ``gpu_check`` (pure; no torch).

One row per check or measurement; the columns (:data:`COLUMNS`) are described in
docs/gpu.md. The markdown file holds the environment, the checks, a memory table, a
step-time table and the ratios next to the paper's figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import write_csv
from pipeline.io import atomic_write_text

COLUMNS = ("section", "name", "kind", "system", "sizes", "batch", "segments", "segment_len",
           "value", "unit", "outcome", "note", "device")
KINDS = ("info", "check", "measurement", "ratio")
#: outcome of a check: pass / fail / error; of a measurement or ratio: ok / oom / skipped /
#: error; of an info row: empty.
OUTCOMES = ("pass", "fail", "error", "ok", "oom", "skipped", "")
AMRB = "rmaat+amrb"
#: (other system, what the paper reports for other / rmaat+amrb at 16 x 512 tokens)
PAPER_MEMORY = {"rmaat+bptt": "4.41x (15.0 / 3.4 GB, Retrieval)"}
PAPER_SPEED = {"rmt+bptt": "1.73x (Retrieval, 16 x 512 tokens)"}
CSV_NAME, MD_NAME = "gpu_check.csv", "gpu_check.md"


def make_row(section: str, name: str, kind: str, outcome: str, *, system: str = "",
             sizes: str = "", batch: int | str = "", segments: int | str = "",
             segment_len: int | str = "", value: float | str = "", unit: str = "",
             note: str = "", device: str = "") -> dict[str, Any]:
    """A row with every column of :data:`COLUMNS`, in order; ValueError for an unknown kind
    or outcome."""
    if kind not in KINDS or outcome not in OUTCOMES:
        raise ValueError(f"row {name!r}: kind {kind!r} must be one of {KINDS} and outcome "
                         f"{outcome!r} one of {OUTCOMES}")
    if isinstance(value, float):
        value = value if math.isfinite(value) else str(value)
    return dict(zip(COLUMNS, (section, name, kind, system, sizes, batch, segments,
                              segment_len, value, unit, outcome, note, device), strict=True))


def sizes_label(batch: int, segments: int, segment_len: int, d_model: int, n_layers: int,
                n_heads: int, mem_tokens: int) -> str:
    """``B=32 T=16x512 D=128 L=4 H=4 M=16``: batch, segments x tokens, width, layers, heads,
    memory tokens."""
    return (f"B={batch} T={segments}x{segment_len} D={d_model} L={n_layers} H={n_heads} "
            f"M={mem_tokens}")


def _value(row: dict[str, Any]) -> float | None:
    return float(row["value"]) if row["outcome"] == "ok" and row["value"] != "" else None


def ratio_rows(rows: Sequence[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    """Ratios of every other system to rmaat + AMRB at each size where both were measured:
    peak memory (other / AMRB; absolute CUDA peak where measured, else the step's growth) and
    step time (other / AMRB: the speed-up of rmaat + AMRB). The paper's figure is in the note
    where it reports one."""
    out = []
    for name, metric, paper in (("memory_ratio", "peak_memory", PAPER_MEMORY),
                                ("memory_growth_ratio", "peak_memory_growth", PAPER_MEMORY),
                                ("speedup_of_rmaat_amrb", "step_time", PAPER_SPEED)):
        got = {(r["system"], r["segments"], r["segment_len"]): r for r in rows
               if r["section"] == "points" and r["name"] == metric}
        for (system, seg, seg_len), r in got.items():
            base = got.get((AMRB, seg, seg_len))
            if system == AMRB or base is None:
                continue
            a, b = _value(r), _value(base)
            if a is None or b is None or b <= 0:
                continue
            note = f"{system} / {AMRB}, {metric.replace('_', ' ')}"
            if system in paper and (seg, seg_len) in ((16, 512),):
                note += f"; paper: {paper[system]}"
            out.append(make_row("ratios", name, "ratio", "ok", system=system, sizes=r["sizes"],
                                batch=r["batch"], segments=seg, segment_len=seg_len,
                                value=round(a / b, 4), unit="x", note=note, device=device))
    return out


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "-"
    if row["outcome"] == "ok":
        v = float(row["value"])
        return f"{v:.4g} {row['unit']}" if row["unit"] != "MiB" else f"{v:,.0f} MiB"
    return row["outcome"]


def _pivot(rows: Sequence[dict[str, Any]], metric: str) -> list[str]:
    """Markdown table of ``metric`` (points section): one line per system, one column per
    (segments, segment length)."""
    got = [r for r in rows if r["section"] == "points" and r["name"] == metric]
    if not got:
        return []
    cols = sorted({(r["segment_len"], r["segments"]) for r in got})
    by = {(r["system"], r["segment_len"], r["segments"]): r for r in got}
    lines = ["| system | " + " | ".join(f"{t} x {n}" for n, t in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    for system in dict.fromkeys(r["system"] for r in got):
        lines.append(f"| {system} | " + " | ".join(_cell(by.get((system, n, t)))
                                                  for n, t in cols) + " |")
    return lines


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The report: environment, checks, memory and step-time tables, ratios, what was
    skipped or failed."""
    info = {r["name"]: r["note"] for r in rows if r["kind"] == "info"}
    lines = ["# GPU check", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    checks = [r for r in rows if r["kind"] == "check"]
    lines += ["", "## Checks", "", "| check | system | sizes | value | result | note |",
              "|---|---|---|---:|---|---|"]
    lines += [f"| {r['name']} | {r['system']} | {r['sizes']} | "
              f"{r['value'] if r['value'] == '' else format(float(r['value']), '.3g')} | "
              f"{r['outcome']} | {r['note']} |" for r in checks]
    for title, metric in (("Peak memory of one training step (CUDA: max_memory_allocated; "
                           "CPU: not measured)", "peak_memory"),
                          ("Peak memory growth of one step (above what was allocated before "
                           "it; CPU: resident-set growth)", "peak_memory_growth"),
                          ("Step time (median; forward, loss, backward, AdamW step)",
                           "step_time")):
        table = _pivot(rows, metric)
        if table:
            lines += ["", f"## {title}", "", "Columns: segments x tokens per segment.", "",
                      *table]
    ratios = [r for r in rows if r["kind"] == "ratio"]
    if ratios:
        lines += ["", "## Ratios to rmaat + AMRB", "", "| ratio | system | T | value | note |",
                  "|---|---|---|---:|---|"]
        lines += [f"| {r['name']} | {r['system']} | {r['segments']} x {r['segment_len']} | "
                  f"{float(r['value']):.3g}x | {r['note']} |" for r in ratios]
    speed = [r for r in rows if r["section"] == "speed_claim" and r["kind"] != "info"]
    if speed:
        lines += ["", "## Speed claim (benchmarks.bench_speed_claim, interleaved rounds)", ""]
        lines += [f"- {r['name']} {r['system']} {r['sizes']}: "
                  f"{_cell(r) if r['outcome'] == 'ok' else r['outcome']}. {r['note']}"
                  for r in speed]
    other = [r for r in rows if r["outcome"] in ("skipped", "error", "oom", "fail")]
    if other:
        lines += ["", "## Skipped, out of memory, failed", ""]
        lines += [f"- {r['section']} / {r['name']} {r['system']} {r['sizes']}: {r['outcome']}"
                  f" ({r['note']})" for r in other]
    return "\n".join(lines) + "\n"


def write_report(rows: Sequence[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """Write ``gpu_check.csv`` and ``gpu_check.md`` into ``out`` (atomically); their paths."""
    csv_path, md_path = out / CSV_NAME, out / MD_NAME
    write_csv(csv_path, list(rows))
    atomic_write_text(md_path, markdown(rows))
    return csv_path, md_path
