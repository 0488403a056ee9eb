"""One self-contained HTML report (images embedded, no network) from named files only.

The report reads exactly the files it is given (the report rule passes the DAG's declared
inputs); it never looks around a results folder, so a stray file there (a demo retention
JSON, a removed condition's leftovers) can neither break nor enter it.

The page leads with the answer: a summary (the verdict of every claim, the headline effect
with its interval, what this run can and cannot show) and a table of contents; then the
sections of :data:`SECTIONS`, in order: the claims (forest plot and table), the dose-response
(biology -> model), accuracy, memory and speed, training curves, the retention factors the
models applied, and the biology behind the schedules (LTP fits, schedules, sweeps,
sensitivity). The page is a ``string.Template`` (``PAGE``); wide tables scroll inside their
own box.
"""

from __future__ import annotations

import html
import logging
import platform
from datetime import UTC, datetime
from pathlib import Path
from string import Template

import pandas as pd

from pipeline.io import atomic_write_text
from report.biology import ltp_section, schedule_section, sweeps_section, tau_facts
from report.claims import claims_table_html, details_table_html, legend_html, read_claims
from report.dose import dose_section, read_dose_files
from report.factors import factors_section
from report.forest import forest_plot
from report.inputs import ReportInputs
from report.parts import Section, esc
from report.sensitivity import sensitivity_section
from report.summary import summary_html
from report.training import (
    PAPER_ACCURACY,
    PAPER_MEMORY,
    accuracy_section,
    curves_section,
    memory_section,
)

__all__ = ["PAPER_ACCURACY", "PAPER_MEMORY", "SECTIONS", "ReportInputs", "accuracy_section",
           "claims_section", "curves_section", "dose_response_section", "ltp_section",
           "memory_section", "render_report", "schedule_section", "sensitivity",
           "sweeps_section", "write_report"]

log = logging.getLogger(__name__)

CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.2em auto;padding:0 1em;
color:#222;line-height:1.4}h1{font-size:1.5em;margin:.2em 0}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}h3{margin:.9em 0 .4em}
.scroll{overflow-x:auto;max-width:100%;margin:.8em 0}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #bbb;padding:.3em .6em;
text-align:right;vertical-align:top}th{background:#f0f0f0}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;box-sizing:border-box;border:1px solid #eee;margin:.5em 0}
.note{color:#555;font-size:.9em}
.label{display:inline-block;background:#fff3cd;border:1px solid #e0c870;padding:.1em .5em;
border-radius:3px;font-size:.85em}
.verdict{display:inline-block;color:#fff;padding:0 .45em;border-radius:3px;font-weight:600;
font-size:.85em;min-width:6.5em;text-align:center}
.summary{background:#f6f8fb;border:1px solid #d5dce6;border-radius:5px;padding:.2em 1em .6em}
.summary h2{margin:.3em 0;border:0;font-size:1.25em}.summary h3{font-size:1em;margin:.6em 0 .2em}
ul.glance{list-style:none;padding-left:0;margin:.3em 0;columns:2 30em;column-gap:2em}
ul.glance li{margin:.15em 0;break-inside:avoid}
.effect{color:#444;white-space:nowrap}
.primary-tag{font-size:.75em;border:1px solid #888;border-radius:3px;padding:0 .3em}
ul.headline{margin:.3em 0;padding-left:1.2em}
.limits{display:flex;flex-wrap:wrap;gap:0 2em}.limits>div{flex:1 1 24em;min-width:0}
.limits ul{margin:.2em 0;padding-left:1.2em}
nav.toc{margin:.8em 0;font-size:.95em}nav.toc ol{display:grid;gap:.1em 2em;margin:.3em 0;
grid-template-columns:repeat(auto-fill,minmax(22em,1fr));padding-left:0;list-style:inside decimal}
table.claims{width:100%}table.claims td,table.claims th{text-align:left}
table.claims td.num{text-align:right;white-space:nowrap}
table.claims td:last-child{min-width:16em}tr.primary td:first-child{font-weight:600}
tr.group th{text-align:left;background:#e6ecf4}tr.moves td{background:#fff3cd}
details{margin:.5em 0}summary{cursor:pointer;color:#235}"""

#: The page; ``$summary``: the summary; ``$toc``: the contents; ``$sections``: the HTML of
#: :data:`SECTIONS`, one after the other.
PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RMAAT report</title><style>$css</style></head>
<body>
<h1>RMAAT: from astrocyte LTP to long-context accuracy</h1>
<p class="note">Generated $generated. Everything below was measured in this run unless
labelled as the paper's.</p>
$summary
$toc
$sections
</body></html>
""")


def claims_body(inputs: ReportInputs) -> str:
    """The claims: the forest plot, then the table (the reader's columns), how to read it,
    and the numbers behind each row (closed)."""
    if inputs.claims is None:
        return ""
    table = read_claims(inputs.claims)
    return "\n".join([
        "<p class='note'>One row per claim (results/claims.md), primary claims first. "
        "Recurrent models classify from their memory only; the tasks are those of the "
        "<a href='#accuracy'>accuracy table</a> (its notes say which data is not LRA).</p>",
        forest_plot(table), claims_table_html(table), legend_html(table),
        details_table_html(table)])


def sensitivity_body(inputs: ReportInputs) -> str:
    """Which biological parameters move the schedule (report/sensitivity.py)."""
    return sensitivity_section(inputs.sensitivity)


def dose_body(inputs: ReportInputs) -> str:
    """Accuracy against τ_LTP (report/dose.py)."""
    return dose_section(inputs.dose_response)


claims_section = Section("claims", "The paper's claims at this scale", claims_body)
dose_response_section = Section("dose-response", "Dose-response: biology → accuracy",
                                dose_body)
sensitivity = Section("sensitivity", "Which biological parameters move the retention "
                      "schedule", sensitivity_body)

#: The sections in page order (after the summary and the contents). Moving, adding or
#: removing a section is an edit of this tuple; each names its anchor and title.
SECTIONS: tuple[Section, ...] = (
    claims_section, dose_response_section, accuracy_section, memory_section, curves_section,
    factors_section, ltp_section, schedule_section, sweeps_section, sensitivity)


def summary(inputs: ReportInputs) -> str:
    """The summary at the top (report/summary.py), from the claims, the tables, the
    dose-response summary and the retention files."""
    claims = read_claims(inputs.claims) if inputs.claims is not None else None
    runs = pd.read_csv(inputs.runs) if inputs.runs is not None else None
    accuracy = pd.read_csv(inputs.accuracy) if inputs.accuracy is not None else None
    dose = read_dose_files(inputs.dose_response)[1] if inputs.dose_response else None
    return summary_html(claims, runs, accuracy, dose, tau_facts(inputs))


def contents(built: list[tuple[Section, str]]) -> str:
    """The table of contents: a link to the anchor of every section on the page."""
    links = "".join(f'<li><a href="#{esc(s.anchor)}">{esc(s.title)}</a></li>'
                    for s, _ in built)
    return f'<nav class="toc" aria-label="contents"><b>Contents</b><ol>{links}</ol></nav>'


def render_report(inputs: ReportInputs) -> str:
    """The report page (HTML text) of ``inputs``."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    generated = html.escape(f"{now} on {platform.node()} ({platform.machine()})")
    built = [(s, text) for s in SECTIONS if (text := s(inputs))]
    return PAGE.substitute(css=CSS, generated=generated, summary=summary(inputs),
                           toc=contents(built),
                           sections="\n".join(text for _, text in built))


def write_report(inputs: ReportInputs, out: str | Path) -> Path:
    """Write the HTML report of ``inputs`` to ``out`` (atomically); returns ``out``."""
    page = render_report(inputs)
    out = Path(out)
    atomic_write_text(out, page)
    log.info("wrote %s (%d input files, %.1f MB)", out, len(inputs.all_files()),
             len(page.encode()) / 1e6)
    return out
