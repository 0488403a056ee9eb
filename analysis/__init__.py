"""Stage 5: analysis of the runs' outputs: accuracy tables and the claims scorecard.

Reads files only (the runs' ``metrics.json``, benchmark CSVs); imports neither torch nor
the training code, so it runs anywhere the results are:

    python -m analysis aggregate --metrics results/runs/*/*/*/metrics.json --out-dir results/tables
    python -m analysis claims --metrics ... --claims claims.json --out-dir results

``analysis.aggregate``: per-run table and accuracy mean ± std over seeds;
``analysis.claims``: each claim of the paper, a paired test and a verdict;
``analysis.stats``: the paired statistics over seeds and the verdict rule behind the claims.
"""
