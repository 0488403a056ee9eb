"""Which biological parameters move the retention schedule (docs/design.md §2.4).

Each parameter of a condition is moved up and down by a relative step; every point is
simulated and distilled like a sweep point (:mod:`distill.sensitivity.points`, with a
per-point cache), and the table (:mod:`~distill.sensitivity.table`) records the elasticities
of τ_LTP, of the plateau and of the schedule RF(·, T), the rate model's prediction
(:mod:`~distill.sensitivity.theory`) and a summary (:mod:`~distill.sensitivity.summary`);
command line: ``python -m distill.sensitivity``. The plan of points comes from
:mod:`pipeline.sensitivity`.
"""
