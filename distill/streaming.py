"""The T-free retention factor s(t) for rf_mode 'streaming' (written into the retention JSON).

RF(t, T) needs the number of segments T in advance. Its limit T -> inf does not::

    s(t) = [p(t·τc) − p((t−1)·τc)] / [p(∞) − p(0)],   t = 1, 2, ...

the share of the *whole* LTP rise of the fitted curve p gained during STP cycle t
(dimensionless; τc the cycle period in s). It is positive, non-increasing (the same
conditions as RF, checked by :func:`distill.retention.increments_problem`), sums to 1 over
all t, and RF(t, T) = s(t) / Σ_{u≤T} s(u). The file lists s(1..K) and the ratio
q = s(K) / s(K−1); the model continues s(t) = s(K)·q^(t−K) for t > K (exact for a saturating
exponential, whose s is geometric).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import RetentionError
from .retention import Curve, cycle_increments, increments_problem

DEFINITION = ("s(t) = [p(t tau_c) - p((t-1) tau_c)] / [p(inf) - p(0)], t = 1..K; "
              "s(t) = s(K) * tail_ratio^(t-K) for t > K")


def streaming_entry(curve: Curve, tau_cycle_s: float, n_cycles: int) -> dict[str, Any]:
    """The retention JSON's ``streaming`` object: s(1..n_cycles) and the tail ratio q.

    ``curve`` maps time in s to p^l; with an ``increment`` method (a fitted macro model) the
    total rise p(∞) − p(0) is taken from it without cancellation. Raises
    :class:`~distill.errors.RetentionError` if the curve has no finite rise or its cycle
    increments are not positive and non-increasing.
    """
    d = cycle_increments(curve, tau_cycle_s, n_cycles)
    reason = increments_problem(d)
    if reason is not None:
        raise RetentionError(f"no streaming retention factor: {reason}")
    increment = getattr(curve, "increment", None)
    total = float(increment(0.0, np.inf) if increment is not None
                  else curve(np.array([np.inf]))[0] - curve(np.array([0.0]))[0])
    if not (np.isfinite(total) and total >= float(d.sum()) * (1 - 1e-9) and total > 0):
        raise RetentionError(f"no streaming retention factor: the curve's total rise "
                             f"p(inf) - p(0) = {total!r} is not finite and >= its rise over "
                             f"{n_cycles} cycles")
    s = np.minimum.accumulate(d) / total  # remove rounding rises, as for RF
    q = float(min(1.0, s[-1] / s[-2])) if n_cycles > 1 else 1.0
    return {"definition": DEFINITION, "factors": s.tolist(), "tail_ratio": q,
            "sum_listed": float(s.sum())}
