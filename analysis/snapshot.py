"""The results snapshot: words from numbers, written by a command, never typed by hand.

``python -m analysis snapshot`` reads a finished run's files (``results/claims.csv``,
``results/tables/accuracy.csv``, ``results/dose_response.csv`` and ``.json``, the sensitivity
summaries, the Snakemake log of the run) and writes

- ``docs/results.md``: date, commit, config hash and run time, then the answer (the primary
  contrasts and the dose-response in sentences generated from the numbers), the claims table,
  the dose-response table, the accuracy table and what the run cannot show;
- ``docs/results.json``: the numbers those sentences were made from;
- the block of ``README.md`` between ``<!-- results:begin -->`` and ``<!-- results:end -->``:
  the verdict of each claim and the plain paragraph on what the biology does to the model.

:func:`readme_block` renders the README block from ``docs/results.json`` alone, so a test can
check that the README says what the snapshot's numbers say.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.runlog import run_time
from pipeline.io import atomic_write_json, atomic_write_text

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _points(effect: float, lo: float, hi: float) -> str:
    if math.isnan(lo):
        return f"{effect:+.1f} points"
    return f"{effect:+.1f} points [{lo:+.1f}, {hi:+.1f}]"


def provenance(config: str | Path, root: str | Path = ".") -> dict[str, Any]:
    """Date, git commit (and whether the tree had changes) and the config's SHA-256."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git("rev-parse", "--short", "HEAD") or "unknown",
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "cpus": os.cpu_count(),
            "config": str(config),
            "config_sha256": hashlib.sha256(Path(config).read_bytes()).hexdigest()[:16]}


def _claim_rows(claims: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for _, r in claims.iterrows():
        rows.append({k: (None if isinstance(v, float) and math.isnan(v) else v)
                     for k, v in r.items()})
    return rows


def collect(claims_csv: str | Path, accuracy_csv: str | Path | None = None,
            dose_csv: str | Path | None = None, dose_json: str | Path | None = None,
            sensitivity: list[str | Path] | None = None) -> dict[str, Any]:
    """The numbers of a run that the snapshot states (plain JSON)."""
    claims = pd.read_csv(claims_csv, keep_default_na=False, na_values=[""])
    for col in ("primary",):
        claims[col] = claims[col].astype(str).str.lower() == "true"
    out: dict[str, Any] = {"claims": _claim_rows(claims)}
    if accuracy_csv:
        acc = pd.read_csv(accuracy_csv)
        out["accuracy"] = [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                            for k, v in r.items()} for _, r in acc.iterrows()]
    if dose_csv and dose_json:
        dose = pd.read_csv(dose_csv, keep_default_na=False, na_values=[""])
        out["dose"] = {"table": [{k: (None if isinstance(v, float) and not math.isfinite(v)
                                      else v) for k, v in r.items()}
                                 for _, r in dose.iterrows()],
                       **json.loads(Path(dose_json).read_text())}
    out["sensitivity"] = []
    for path in sensitivity or []:
        summary = json.loads(Path(path).read_text())
        out["sensitivity"].append({"condition": Path(path).stem,
                                   "sentence": summary.get("sentence") or summary.get(
                                       "summary") or ""})
    return out


def _row_sentence(r: dict[str, Any]) -> str:
    effect, lo, hi = (_num(r.get(k)) for k in ("effect", "ci_low", "ci_high"))
    if r.get("unit") == "ratio":
        size = f"{effect:.2f}x" if not math.isnan(effect) else "not measured"
    else:
        size = _points(effect, lo, hi)
        if r.get("mde") is not None and not math.isnan(_num(r.get("mde"))):
            size += f", n = {r['n']} seeds, MDE {_num(r['mde']):.1f}"
    return _sentence(f"**{r['claim']}** ({r['tasks']}): *{r['verdict']}*, {size}. "
                     f"{r.get('reading') or ''}")


def _sentence(text: str) -> str:
    """``text`` stripped and ending in a full stop."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def headline(data: dict[str, Any]) -> str:
    """The plain paragraph: what the primary contrasts and the dose-response say."""
    primary = [r for r in data["claims"] if r.get("primary")]
    parts = [_row_sentence(r) for r in primary]
    dose = data.get("dose")
    if dose:
        finite = [row for row in dose["table"] if row["kind"] == "dose"
                  and row.get("tau_ltp_segments") is not None]
        if finite:
            taus = [float(row["tau_ltp_segments"]) for row in finite]
            parts.append(f"Swept over {dose['parameter']} (fitted tau_LTP "
                         f"{min(taus):.2g}-{max(taus):.2g} segments, task {dose['task']}): "
                         + _sentence(dose["reading"]))
    return " ".join(parts)


def cannot_show(data: dict[str, Any]) -> str:
    """What the run cannot show, from its numbers (MDEs, data notes)."""
    # decided rows (reproduced, contradicted, equivalent) are not limited by their power
    rows = [r for r in data["claims"]
            if r.get("mde") is not None and r.get("verdict") == "inconclusive"]
    parts = []
    if rows:
        rows = sorted(rows, key=lambda r: _num(r["mde"]))
        each = ", ".join(f"{r['id']} {_num(r['mde']):.1f}" for r in rows)
        parts.append(f"in the *inconclusive* rows, effects below the minimum detectable "
                     f"effect (points: {each}) could go unseen; such a row is underpowered, "
                     f"not evidence of no effect")
    notes = sorted({str(r.get("data_note")) for r in data.get("accuracy") or []
                    if r.get("data_note")})
    if notes:
        parts.append("the tasks are " + "; ".join(notes))
    return ("What this run cannot show: " + "; ".join(parts) + ".") if parts else ""


def readme_block(data: dict[str, Any]) -> str:
    """The README's generated block (between the markers), from the snapshot's numbers."""
    verdicts = [f"- {r['claim']}: *{r['verdict']}*" + (" (primary)" if r.get("primary") else "")
                for r in data["claims"]]
    meta = data["provenance"]
    took = ""
    if data.get("run_time"):
        took = (f"; {_duration(data['run_time']['wall_s'])} for "
                f"{data['run_time']['steps']} steps on {meta.get('cpus') or '?'} CPU cores")
    lines = [BEGIN,
             f"From the default run of {meta['date']} (commit {meta['commit']}{took}; "
             f"[docs/results.md](docs/results.md) has the tables):", "",
             headline(data), "", cannot_show(data), "", *verdicts, END]
    return "\n".join(line for line in lines) + "\n"


def _duration(seconds: float) -> str:
    """``1,855 s (30 min 55 s)``."""
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{int(round(seconds)):,} s ({minutes} min {rest} s)"


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> list[str]:
    out = ["| " + " | ".join(title for _, title in columns) + " |",
           "|" + "---|" * len(columns)]
    for r in rows:
        cells = []
        for key, _ in columns:
            v = r.get(key)
            cells.append("—" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v))
        out.append("| " + " | ".join(cells) + " |")
    return out


def results_markdown(data: dict[str, Any]) -> str:
    """docs/results.md: provenance, the answer, then the tables."""
    meta = data["provenance"]
    when = (f"{_duration(data['run_time']['wall_s'])} wall for {data['run_time']['steps']} "
            f"steps on {meta.get('cpus') or '?'} CPU cores (Snakemake log "
            f"{data['run_time']['log']})" if data.get("run_time") else
            "run time not found (no finished Snakemake log)")
    lines = ["# Results of the default run (generated)", "",
             f"Written by `python -m analysis snapshot` on {meta['date']} from commit "
             f"{meta['commit']}{' (with uncommitted changes)' if meta['dirty'] else ''}, "
             f"config `{meta['config']}` (SHA-256 {meta['config_sha256']}); {when}. Do not edit "
             f"by hand: rerun the command after a run.", "",
             "## The answer", "", headline(data), "", cannot_show(data), "",
             "## Claims", "",
             *_table([{**r, "effect [95 % CI]": (
                 _points(_num(r["effect"]), _num(r.get("ci_low")), _num(r.get("ci_high")))
                 if r.get("unit") == "points" else
                 (f"{_num(r['effect']):.2f}x" if r.get("effect") is not None else "—")),
                 "Holm p": (f"{_num(r['p_adjusted']):.2g}" if r.get("p_adjusted") is not None
                            else "—"),
                 "MDE": (f"{_num(r['mde']):.1f}" if r.get("mde") is not None else "—")}
                 for r in data["claims"]],
                 [("claim", "claim"), ("paper", "paper"), ("tasks", "tasks"), ("ours", "ours"),
                  ("n", "n"), ("effect [95 % CI]", "effect [95 % CI]"), ("Holm p", "Holm p"),
                  ("MDE", "MDE (points)"), ("verdict", "verdict")]), "",
             "Effects in accuracy points (ratios for speed and memory); the rule is in "
             "[statistics.md](statistics.md).", ""]
    dose = data.get("dose")
    if dose:
        lines += ["## Biology -> model (dose-response)", "", dose["reading"], "",
                  *_table(dose["table"], [("kind", "kind"), ("value", dose["parameter"]),
                                          ("tau_ltp_segments", "tau_LTP (segments)"),
                                          ("rf_ratio", "RF(1,T)/RF(T,T)"), ("seeds", "seeds"),
                                          ("acc_mean", "accuracy"), ("ci_low", "95 % CI low"),
                                          ("ci_high", "95 % CI high")]), ""]
    if data.get("tradeoff"):
        from analysis.tradeoff import markdown

        lines += ["## What more seeds would buy", "",
                  "The primary contrasts' minimum detectable effect (80 % power after Holm) "
                  "at this run's paired SDs, and the run time more seeds per arm would take "
                  "(projected from this run's training cost; `python -m analysis tradeoff`):",
                  "", markdown(pd.DataFrame(data["tradeoff"])).rstrip("\n"), ""]
    if data.get("sensitivity"):
        lines += ["## Which biology moves the schedule", "",
                  *[f"- {s['condition']}: {s['sentence']}" for s in data["sensitivity"]], ""]
    if data.get("accuracy"):
        lines += ["## Test accuracy (points, mean ± std over seeds)", "",
                  *_table([{**r, "acc": f"{100 * _num(r['test_acc_mean']):.1f} ± "
                                        f"{100 * _num(r['test_acc_std']):.1f}",
                            "majority": f"{100 * _num(r['majority_acc']):.1f}"}
                           for r in data["accuracy"]],
                          [("task", "task"), ("variant", "variant"), ("seeds", "seeds"),
                           ("acc", "accuracy"), ("majority", "majority class")]), ""]
    return "\n".join(lines) + "\n"


def replace_block(readme: str, block: str) -> str:
    """``readme`` with its generated block replaced by ``block`` (markers included)."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no {BEGIN} ... {END} block to replace")
    return readme[:start] + block.rstrip("\n") + readme[end + len(END):]


def write_snapshot(claims_csv: str | Path, config: str | Path, out_md: str | Path,
                   readme: str | Path | None = None, tradeoff_dir: str | Path | None = None,
                   **inputs: Any) -> dict[str, Path]:
    """Write docs/results.md and .json and rewrite the README's block; returns the paths.
    ``tradeoff_dir``: the training jobs' benchmark folder, for the MDE-against-run-time
    table (left out when None or missing)."""
    data = collect(claims_csv, **inputs)
    data["provenance"] = provenance(config)
    data["run_time"] = run_time()
    if tradeoff_dir is not None and data["run_time"] and Path(tradeoff_dir).is_dir():
        from analysis.tradeoff import DEFAULT_SEEDS, tradeoff_from_files

        data["tradeoff"] = tradeoff_from_files(claims_csv, tradeoff_dir, data["run_time"],
                                               DEFAULT_SEEDS).to_dict("records")
    out_md = Path(out_md)
    out_json = out_md.with_suffix(".json")
    atomic_write_json(out_json, data)
    atomic_write_text(out_md, results_markdown(data))
    files = {"md": out_md, "json": out_json}
    if readme is not None:
        text = Path(readme).read_text()
        atomic_write_text(readme, replace_block(text, readme_block(data)))
        files["readme"] = Path(readme)
    return files
