"""The report section of the sensitivity analysis (docs/design.md §2.4): per condition, which
parameters move the schedule and which do not (threshold stated), what that means for a user's
swap, the rate model's prediction against the simulation, the table (rows that move it
highlighted) and the tornado plot.

Reads only the files it is given: ``results/sensitivity/{condition}.csv``, ``.json`` and
``.png`` of every analysed condition (grouped by file stem).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from report.parts import img, table

#: Table columns shown, with their headings.
COLUMNS = {"parameter": "parameter", "base_value": "base", "status": "status",
           "tau_ltp_minus_s": "τ_LTP − (s)", "tau_ltp_base_s": "τ_LTP 0 (s)",
           "tau_ltp_plus_s": "τ_LTP + (s)", "elasticity_tau": "e(τ_LTP)",
           "elasticity_plateau": "e(plateau)", "schedule_elasticity": "e(schedule)",
           "moves_schedule": "moves", "expected_elasticity_tau": "predicted e(τ_LTP)",
           "theory": "prediction"}


def _condition(stem: str, files: dict[str, Path]) -> str:
    parts = [f"<h3>{html.escape(stem)}</h3>"]
    summary = json.loads(files["json"].read_text()) if "json" in files else {}
    if summary.get("sentence"):
        parts.append(f"<p>{html.escape(summary['sentence'])}</p>")
    if summary.get("theory_sentence"):
        parts.append(f"<p>{html.escape(summary['theory_sentence'])}</p>")
    if "png" in files:
        parts.append(img(files["png"], f"{stem} tornado plot"))
    if "csv" in files:
        frame = pd.read_csv(files["csv"], keep_default_na=False, na_values=[""])
        shown = frame[[c for c in COLUMNS if c in frame]].rename(columns=COLUMNS)
        still = frame.loc[frame["moves_schedule"] == "no", "parameter"].tolist()
        moves = ["moves" if m == "yes" else "" for m in frame["moves_schedule"].astype(str)]
        parts.append("<details><summary>every parameter</summary>"
                     + table(shown, row_class=moves) + "</details>")
        if still:
            parts.append("<p class='note'>Do not move the schedule: "
                         + html.escape(", ".join(still)) + ".</p>")
    cost = summary.get("cost")
    if cost:
        parts.append(f"<p class='note'>{cost['points']} points ({cost['computed']} simulated "
                     f"in this run, {cost['reused']} reused); {cost['points_cpu_s']:.0f} s CPU "
                     f"in simulations and fits, {cost['job_cpu_s']:.0f} s CPU for the job.</p>")
    return "\n".join(parts)


def sensitivity_section(paths: list[Path]) -> str:
    """The section's body ('' when no sensitivity files are given); the page adds its
    heading (report/page.py)."""
    if not paths:
        return ""
    by_stem: dict[str, dict[str, Path]] = {}
    for path in map(Path, paths):
        by_stem.setdefault(path.stem, {})[path.suffix.lstrip(".")] = path
    parts = ["<p class='note'>Each parameter moved by ± the configured step, the point "
             "simulated and distilled. e(·) = elasticity, the % change of τ_LTP, of the plateau "
             "or of RF(1, T)/RF(T, T) (the schedule) per % change of the parameter (central "
             "difference; one-sided where one side is invalid). A parameter moves the schedule "
             "when |e(schedule)| reaches the threshold stated below; rows that do are "
             "highlighted. Why: docs/design.md §2.4.</p>"]
    for stem, files in by_stem.items():
        parts.append(_condition(stem, files))
    return "\n".join(parts)
