"""Paired statistics with the seed as the unit, and the verdict rule of the claims study.

Units: every accuracy, effect, SD, interval, margin and minimum detectable effect (MDE) here
is in **accuracy points** (percent, 0-100): pass ``100 * test_acc``.

The seed is the unit. All seeds are scored on one shared test set; what differs between two
runs of a seed is the seed (initialisation, data order, dropout). The paired differences
``d_s = acc_A(s) - acc_B(s)`` are independent over seeds, and a one-sample t-test on them
tests the effect on this test set. (Resampling each seed's test examples as if independent
counts the one test set's noise once per seed: too narrow intervals. docs/statistics.md.)

Per contrast (``paired_stats``): n, effect = mean(d), sd = SD(d) (ddof 1), the 95 % t-interval,
``p_value`` (two-sided t-test of mean 0), ``p_one_sided`` (in the claimed direction A > B;
reported, not used by the rule) and ``p_tost`` (statsmodels ``ttost_paired`` against
±margin: the larger of the two one-sided p's). Zero spread (all d equal, to rounding) is
exact: interval [d, d]; p = 0 if d != 0 else 1; p_tost = 0 if |d| < margin else 1. Fewer than
2 seeds: no test (NaN; verdict inconclusive).

Family: Holm (statsmodels ``multipletests``) within one family of tests: the two-sided p's
are adjusted together, the TOST p's together; a test without a p (n < 2) is not counted.
Every neighbouring pair of an ordering is one test of its row's family. The primary
contrasts form one family, the secondary rows another (``Row.family``); a row alone in its
family is unadjusted.

The verdict rule (``verdict``), with alpha = ALPHA and the Holm-adjusted p's:

1. *reproduced*: p_adjusted < alpha and the effect has the claimed sign ("better": A > B;
   "differs": either sign);
2. *contradicted*: p_adjusted < alpha and the effect has the opposite sign ("better" only);
3. *equivalent*: p_tost_adjusted < alpha / 2 (no effect beyond ±margin);
4. *inconclusive*: otherwise, with how far the design is from deciding (MDE vs margin, the
   seeds the observed effect would need, the seeds that bring the MDE to the margin).

Each tail is tested at alpha / 2: under no effect "reproduced" and "contradicted" together
are wrong at most alpha of the time, and, before adjustment, all three verdicts read off the
one 95 % interval (above 0, below 0, inside ±margin). An effect significant and smaller
than the margin is reproduced (or contradicted), with that said. For a "better" claim
*equivalent* is a result against the paper (the claimed improvement is absent within the
margin); for a "differs" claim it says the choice makes no difference beyond the margin.

Ordering rows (A > B > C ...): each neighbouring pair is a "better" contrast in the row's
family. The row is contradicted if any pair is, else reproduced if every pair is, else
equivalent if every pair is, else inconclusive. Its numbers are those of the deciding pair
(named in ``pair``): the pair with the largest adjusted p of the deciding test when
reproduced / equivalent (the weakest link), else the first pair in the claimed order with
the row's verdict (for inconclusive: the first pair not reproduced).

Power (``mde``, ``seeds_needed``): the two-sided paired t-test at alpha / k, k the family's
number of tests (Holm's strictest threshold, so the power holds whatever Holm's order),
power POWER, with statsmodels ``TTestPower``; ``design`` gives the same for planning.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import DescrStatsW, ttost_paired
from statsmodels.tools.sm_exceptions import ConvergenceWarning

ALPHA = 0.05  # family-wise error rate of each verdict
POWER = 0.80  # power at which the minimum detectable effect is defined
MARGIN = 3.0  # equivalence margin, accuracy points
SEEDS_CAP = 10_000  # beyond this many seeds an effect counts as "not reachable"
TESTS = ("better", "differs")
VERDICTS = ("reproduced", "contradicted", "equivalent", "inconclusive")
_FLAT = 1e-12  # relative spread below which the differences count as all equal


@dataclass(frozen=True)
class PairedStats:
    """One paired contrast A - B over seeds (accuracy points); see the module docstring.

    Fields are floats for 1-D input and arrays (one per column) for 2-D input."""

    n: int
    effect: Any
    sd: Any
    ci_low: Any
    ci_high: Any
    p_value: Any
    p_one_sided: Any
    p_tost: Any
    margin: float


def _as_columns(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}: per-seed values must be 1-D (seeds) or 2-D (seeds x "
                         f"studies), got shape {arr.shape}")
    return arr.reshape(len(arr), 1) if arr.ndim == 1 else arr


def paired_stats(a: Any, b: Any, *, margin: float = MARGIN, alpha: float = ALPHA,
                 nan_policy: str = "raise") -> PairedStats:
    """Paired contrast of ``a - b`` (per-seed accuracies in points, paired by position).

    ``a``, ``b``: shape (seeds,) or (seeds, studies), one contrast per column. ``alpha``:
    the interval is the two-sided (1 - alpha) t-interval. ``nan_policy``: "raise" (a NaN
    accuracy is a failed run) or "omit" (drop the seeds with a NaN; 1-D input only)."""
    if margin <= 0:
        raise ValueError(f"margin must be > 0 accuracy points, got {margin}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    xa, xb = _as_columns(a, "a"), _as_columns(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"a and b must pair seed by seed: shapes {xa.shape} and {xb.shape}")
    bad = np.isnan(xa) | np.isnan(xb)
    if bad.any():
        if nan_policy != "omit" or xa.shape[1] != 1:
            where = sorted({int(i) for i in np.where(bad)[0]})
            raise ValueError(f"NaN accuracy at seed positions {where}; rerun those runs "
                             f"or pass nan_policy='omit' (1-D input)")
        xa, xb = xa[~bad[:, 0]], xb[~bad[:, 0]]
    d = xa - xb
    n, cols = d.shape
    nan = np.full(cols, np.nan)
    effect = d.mean(0) if n else nan.copy()
    sd, lo, hi, p2, p1, pt = (nan.copy() for _ in range(6))
    if n >= 2:
        sd = d.std(0, ddof=1)
        flat = np.ptp(d, 0) <= _FLAT * np.maximum(1.0, np.abs(d).max(0))
        if (~flat).any():
            ds = DescrStatsW(d[:, ~flat])
            lo[~flat], hi[~flat] = ds.tconfint_mean(alpha, alternative="two-sided")
            p2[~flat] = ds.ttest_mean(0.0, alternative="two-sided")[1]
            p1[~flat] = ds.ttest_mean(0.0, alternative="larger")[1]
            pt[~flat] = ttost_paired(xa[:, ~flat], xb[:, ~flat], -margin, margin)[0]
        # all differences equal: certain if non-zero, no evidence of a difference if zero
        e = effect[flat]
        sd[flat], lo[flat], hi[flat] = 0.0, e, e
        p2[flat] = np.where(e != 0, 0.0, 1.0)
        p1[flat] = np.where(e > 0, 0.0, 1.0)
        pt[flat] = np.where(np.abs(e) < margin, 0.0, 1.0)
    out = (effect, sd, lo, hi, p2, p1, pt)
    if np.ndim(a) == 1:
        out = tuple(float(x[0]) for x in out)
    return PairedStats(n, *out, margin=float(margin))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels ``multipletests``, method "holm"); NaN entries
    (no test) stay NaN and do not count in the family."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def _power(d: float, n: float, alpha: float) -> float:
    """Power of the two-sided paired t-test at standardized effect ``d`` (statsmodels)."""
    p = float(TTestPower().power(effect_size=d, nobs=n, alpha=alpha,
                                 alternative="two-sided"))
    if math.isnan(p):  # statsmodels' noncentral t is NaN at 1 dof for mid-size effects
        crit, nc = stats.t.isf(alpha / 2, n - 1), d * math.sqrt(n)
        p = float(stats.nct.sf(crit, n - 1, nc) + stats.nct.sf(crit, n - 1, -nc))
    return p


def mde_factor(n: int, *, alpha: float = ALPHA, power: float = POWER,
               family_size: int = 1) -> float:
    """The MDE in units of the paired SD: the standardized effect that a two-sided paired
    t-test over ``n`` seeds at alpha / family_size detects with ``power`` (NaN if n < 2)."""
    if n < 2:
        return float("nan")
    a = alpha / max(1, family_size)
    try:
        with warnings.catch_warnings():  # a failed root is caught below and solved again
            warnings.simplefilter("ignore", ConvergenceWarning)
            d = float(TTestPower().solve_power(effect_size=None, nobs=n, alpha=a, power=power,
                                               alternative="two-sided"))
    except (ValueError, RuntimeError):
        d = float("nan")
    if not (math.isfinite(d) and abs(_power(d, n, a) - power) < 1e-6):
        # solve_power's bracket ends at d = 10 (few seeds, small alpha): widen it
        hi = 1.0
        while _power(hi, n, a) < power:
            hi *= 2
        d = optimize.brentq(lambda x: _power(x, n, a) - power, 0.0, hi, xtol=1e-10)
    return d


def mde(sd: float, n: int, *, alpha: float = ALPHA, power: float = POWER,
        family_size: int = 1) -> float:
    """Minimum detectable effect in points: ``mde_factor(n) * sd`` (0 when sd is 0)."""
    return mde_factor(n, alpha=alpha, power=power, family_size=family_size) * sd


def seeds_needed(effect: float, sd: float, *, alpha: float = ALPHA, power: float = POWER,
                 family_size: int = 1, cap: int = SEEDS_CAP) -> float:
    """Fewest paired seeds (>= 2) at which a true ``effect`` (points) with paired SD ``sd``
    is detected with ``power`` by the two-sided test at alpha / family_size. ``inf`` when
    more than ``cap`` seeds would be needed (an effect of ~0), NaN when sd is unknown."""
    if not (math.isfinite(effect) and math.isfinite(sd)):
        return float("nan")
    if effect == 0:
        return math.inf
    if sd == 0:
        return 2.0
    d, a = abs(effect) / sd, alpha / max(1, family_size)
    if _power(d, cap, a) < power:
        return math.inf
    try:
        with warnings.catch_warnings():  # a failed root is caught below and searched again
            warnings.simplefilter("ignore", ConvergenceWarning)
            n = math.ceil(float(TTestPower().solve_power(effect_size=d, nobs=None, alpha=a,
                                                          power=power,
                                                          alternative="two-sided")))
    except (ValueError, RuntimeError):
        n = cap
    n = min(max(n, 2), cap) if math.isfinite(n) else cap
    while n < cap and _power(d, n, a) < power:  # solve_power's root, made an integer
        n += 1
    while n > 2 and _power(d, n - 1, a) >= power:
        n -= 1
    return float(n)


@dataclass(frozen=True)
class Design:
    """Planning numbers of a study (points): the MDE at ``seeds`` and the seeds that bring
    the MDE down to ``target_mde``, for paired SD ``sd`` and ``family_size`` Holm tests."""

    sd: float
    family_size: int
    alpha: float
    power: float
    seeds: int
    mde: float
    target_mde: float
    seeds_for_target: float


def design(sd: float, *, family_size: int, seeds: int, target_mde: float = MARGIN,
           alpha: float = ALPHA, power: float = POWER) -> Design:
    """Plan a study before running it: given the paired seed SD (points, e.g. from a pilot),
    the number of primary tests (the Holm family), alpha and power, the MDE with ``seeds``
    seeds and the seeds needed for an MDE of ``target_mde`` points."""
    if sd < 0 or family_size < 1 or seeds < 2 or target_mde <= 0:
        raise ValueError("design needs sd >= 0, family_size >= 1, seeds >= 2, target_mde > 0")
    return Design(sd, family_size, alpha, power, seeds,
                  mde(sd, seeds, alpha=alpha, power=power, family_size=family_size),
                  target_mde, seeds_needed(target_mde, sd, alpha=alpha, power=power,
                                           family_size=family_size))


def verdict(test: str, effect: Any, p_adjusted: Any, p_tost_adjusted: Any,
            alpha: float = ALPHA) -> Any:
    """The verdict rule (module docstring): a str for scalar input, an array of str for
    arrays (one per contrast). ``test``: "better" (claim: effect > 0) or "differs"."""
    if test not in TESTS:
        raise ValueError(f"test {test!r} is not one of {', '.join(TESTS)}")
    e, p, pt = (np.asarray(x, dtype=float) for x in (effect, p_adjusted, p_tost_adjusted))
    significant = p < alpha  # NaN (no test) is never significant nor equivalent
    if test == "differs":
        claimed, opposite = significant, np.zeros_like(significant)
    else:
        claimed, opposite = significant & (e > 0), significant & (e < 0)
    out = np.select([claimed, opposite, pt < alpha / 2],
                    ["reproduced", "contradicted", "equivalent"], "inconclusive")
    return str(out) if out.ndim == 0 else out


def ordering_verdict(verdicts: Sequence[str], p_adjusted: Sequence[float],
                     p_tost_adjusted: Sequence[float]) -> tuple[str, int]:
    """Verdict of an ordering row from its neighbouring pairs' verdicts and the index of the
    pair whose numbers the row shows (module docstring)."""
    v = list(verdicts)
    if "contradicted" in v:
        return "contradicted", v.index("contradicted")
    if all(x == "reproduced" for x in v):
        return "reproduced", int(np.nanargmax(np.asarray(p_adjusted, dtype=float)))
    if all(x == "equivalent" for x in v):
        return "equivalent", int(np.nanargmax(np.asarray(p_tost_adjusted, dtype=float)))
    return "inconclusive", next(i for i, x in enumerate(v) if x != "reproduced")


@dataclass(frozen=True)
class Row:
    """One claim row: ``arms`` in the claimed order (A > B > ... for "better"), ``values``
    arm -> pairing unit (seed) -> test accuracy in points. ``family``: its Holm family."""

    id: str
    test: str
    arms: Sequence[str]
    values: Mapping[str, Mapping[Hashable, float]]
    family: str = "primary"
    margin: float = MARGIN

    def __post_init__(self) -> None:
        where = f"claim {self.id!r}"
        if self.test not in TESTS:
            raise ValueError(f"{where}: test {self.test!r} is not one of {', '.join(TESTS)}")
        if len(self.arms) < 2 or (self.test == "differs" and len(self.arms) != 2):
            raise ValueError(f"{where}: {self.test!r} needs "
                             f"{'exactly' if self.test == 'differs' else 'at least'} 2 arms")
        for arm in self.arms:
            if arm not in self.values:
                raise ValueError(f"{where}: no accuracies for arm {arm!r}")
            acc = np.array(list(self.values[arm].values()), dtype=float)
            if np.isnan(acc).any():
                raise ValueError(f"{where}: arm {arm!r} has a NaN accuracy; rerun that run")
            if ((acc < 0) | (acc > 100)).any() or (len(acc) and acc.max() <= 1.0 < self.margin):
                raise ValueError(f"{where}: arm {arm!r} accuracies must be points in "
                                 f"[0, 100] (100 * test_acc)")

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The contrasts of the row: each neighbouring pair of arms (A, B), A claimed first."""
        return list(zip(self.arms[:-1], self.arms[1:], strict=True))

    def paired(self, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
        """Accuracies of arms a and b on the units both have, in sorted unit order."""
        units = sorted(set(self.values[a]) & set(self.values[b]), key=repr)
        return (np.array([self.values[a][u] for u in units], dtype=float),
                np.array([self.values[b][u] for u in units], dtype=float))


def _fmt_seeds(x: float) -> str:
    return "not reachable" if math.isinf(x) else "—" if math.isnan(x) else f"{x:.0f}"


def reading(test: str, c: dict[str, Any], a: str = "A", b: str = "B") -> str:
    """One sentence saying what a contrast's verdict means (``c``: a result of ``decide``
    with its ``verdict``; ``a``, ``b``: the arms, ``a`` claimed better)."""
    m, v = c["margin"], c["verdict"]
    if v in ("reproduced", "contradicted"):
        small = (f"; smaller than the ±{m:g}-point margin"
                 if max(abs(c["ci_low"]), abs(c["ci_high"])) < m else "")
        what = (f"{a} and {b} differ" if test == "differs" else
                f"{a} beats {b} as claimed" if v == "reproduced" else
                f"{b} beats {a}: against the claim")
        return f"{what} (Holm p {c['p_adjusted']:.2g}){small}"
    if v == "equivalent":
        return (f"{a} and {b} within ±{m:g} points"
                + (": the claimed improvement is absent (against the claim)"
                   if test == "better" else ": the choice makes no difference this large"))
    if not c["n"] >= 2:
        return f"{c['n']} paired seed(s): no test"
    return (f"underpowered: MDE {c['mde']:.1f} points with {c['n']} seeds (margin ±{m:g}); "
            f"{_fmt_seeds(c['seeds_for_margin'])} seeds would bring the MDE to the margin, "
            f"{_fmt_seeds(c['seeds_needed'])} would detect the observed effect")


#: Columns of a ``decide`` result (all in accuracy points except p's and counts).
COLUMNS = ["id", "family", "test", "pair", "n", "effect", "sd", "ci_low", "ci_high",
           "p_value", "p_claimed", "p_adjusted", "p_tost", "p_tost_adjusted", "family_size",
           "margin", "mde", "seeds_needed", "seeds_for_margin", "verdict", "reading", "pairs"]


def _contrast(row: Row, a: str, b: str, alpha: float) -> dict[str, Any]:
    s = paired_stats(*row.paired(a, b), margin=row.margin, alpha=alpha)
    return {"pair": f"{a} {'>' if row.test == 'better' else 'vs'} {b}", "arms": (a, b),
            "n": s.n, "effect": s.effect, "sd": s.sd, "ci_low": s.ci_low,
            "ci_high": s.ci_high, "p_value": s.p_value,
            "p_claimed": s.p_one_sided if row.test == "better" else s.p_value,
            "p_tost": s.p_tost, "margin": s.margin}


def decide(rows: Sequence[Row], *, alpha: float = ALPHA,
           power: float = POWER) -> list[dict[str, Any]]:
    """Statistics, Holm adjustment within each family, verdicts and power of every row.

    Returns one dict per row with the keys COLUMNS: ``pair`` names the contrast shown (for an
    ordering the deciding pair, and ``pairs`` lists every neighbouring pair's verdict),
    ``p_claimed`` the one-sided p in the claimed direction ("better") or the two-sided p
    ("differs"), ``family_size`` the tests in the row's Holm family."""
    contrasts = [(i, _contrast(row, a, b, alpha))
                 for i, row in enumerate(rows) for a, b in row.pairs]
    for family in sorted({row.family for row in rows}):
        members = [c for i, c in contrasts if rows[i].family == family]
        k = sum(not math.isnan(c["p_value"]) for c in members)
        for c, p, pt in zip(members, holm([c["p_value"] for c in members]),
                            holm([c["p_tost"] for c in members]), strict=True):
            c.update(p_adjusted=float(p), p_tost_adjusted=float(pt), family_size=k)
    out = []
    for i, row in enumerate(rows):
        mine = [c for j, c in contrasts if j == i]
        for c in mine:
            kw = {"alpha": alpha, "power": power, "family_size": max(1, c["family_size"])}
            c["mde"] = mde(c["sd"], c["n"], **kw)
            c["seeds_needed"] = seeds_needed(c["effect"], c["sd"], **kw)
            c["seeds_for_margin"] = seeds_needed(c["margin"], c["sd"], **kw)
            c["verdict"] = verdict(row.test, c["effect"], c["p_adjusted"],
                                   c["p_tost_adjusted"], alpha)
            c["reading"] = reading(row.test, c, *c["arms"])
        if len(mine) == 1:
            result = dict(mine[0], pairs="")
        else:
            v, shown = ordering_verdict([c["verdict"] for c in mine],
                                        [c["p_adjusted"] for c in mine],
                                        [c["p_tost_adjusted"] for c in mine])
            result = dict(mine[shown], verdict=v)
            result["pairs"] = "; ".join(
                f"{c['pair']}: {c['verdict']} ({c['effect']:+.1f} pts, Holm p "
                f"{c['p_adjusted']:.2g})" for c in mine)
            result["reading"] = (f"ordering {v} (each neighbouring pair; shown: "
                                 f"{result['pair']}): {result['reading']}")
        result.update(id=row.id, family=row.family, test=row.test)
        out.append({k: result[k] for k in COLUMNS})
    return out
