"""Parameter-sweep analysis of the distill stage: each sweep point is distilled on its own
without failing (``fit-point``), then a sweep's points are gathered into a table and plots
(``aggregate``).

    python -m distill.sweeps fit-point --readout points/p000/readout.csv \\
        --params points/p000/params.json --max-segments 64 --out points/p000/fit.json
    python -m distill.sweeps aggregate --sweep-dir results/sweeps/NAME --segments 4 8 16

Modules: ``analysis`` (a point's fit JSON, statuses, the table), ``plots`` (the figures),
``__main__`` (the command line the workflow's sweep rules call). The simulation side of a
sweep (expansion, per-point parameters) is ``pipeline.sweeps``.
"""

from .analysis import FITTED, STATUSES, fit_point, load_point, sweep_table, write_point, write_table

__all__ = ["FITTED", "STATUSES", "fit_point", "load_point", "sweep_table", "write_point",
           "write_table"]
