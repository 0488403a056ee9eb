"""The pipeline's HTML report: one self-contained page from the files it is given.

    python -m report --out results/report.html --retention results/retention/a.json \
        --accuracy results/tables/accuracy.csv --runs results/tables/runs.csv ...

The last step of the workflow (the `report` rule): it reads the outputs of every stage
(retention JSONs, plots, sweep tables, training tables and metrics, claims, dose-response,
benchmarks) and imports no stage except `analysis` (the readers of run outputs and the
accuracy table's layout) and `pipeline`. See `report/page.py`; `python -m report.check PAGE`
renders a page in headless Chromium and fails on horizontal overflow or a broken image.
"""

from .page import ReportInputs, render_report, write_report

__all__ = ["ReportInputs", "render_report", "write_report"]
