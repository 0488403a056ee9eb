"""analysis.stats: each statistic against SciPy or a hand computation, and the verdict rule's
calibration on simulated studies (no effect, an effect at the MDE, an effect at the margin).

The simulations are deterministic (fixed generator seeds); each rate is compared with its
target within 4 binomial standard errors of the number of simulated studies.
"""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from scipy import stats

from analysis.stats import (
    ALPHA,
    MARGIN,
    Row,
    decide,
    design,
    holm,
    mde,
    mde_factor,
    ordering_verdict,
    paired_stats,
    seeds_needed,
    verdict,
)

STUDIES = 2_000
SEEDS = 20
A = [71.0, 64.5, 80.0, 77.25, 69.0, 73.5]  # per-seed accuracies, points
B = [68.0, 66.0, 74.5, 70.0, 69.5, 70.25]


@pytest.fixture(autouse=True)
def _frozen_gc():
    """statsmodels' Holm calls gc.collect() each time (~0.2 s with the test session's
    objects); with those frozen out of the collector 2,000 calls take a fraction of a second."""
    gc.freeze()
    yield
    gc.unfreeze()


def _se(p: float, n: int = STUDIES) -> float:
    return math.sqrt(p * (1 - p) / n)


def _nct_power(effect: float, sd: float, n: int, alpha: float) -> float:
    """Power of the two-sided one-sample t-test from SciPy's noncentral t."""
    crit, nc = stats.t.isf(alpha / 2, n - 1), effect / (sd / math.sqrt(n))
    return float(stats.nct.sf(crit, n - 1, nc) + stats.nct.sf(crit, n - 1, -nc))


# --- statistics against references -------------------------------------------------------

def test_interval_and_p_values_match_scipy():
    s = paired_stats(A, B)
    d = np.subtract(A, B)
    n, se = len(d), d.std(ddof=1) / math.sqrt(len(d))
    assert s.n == n and s.effect == pytest.approx(d.mean()) and s.sd == pytest.approx(d.std(
        ddof=1))
    lo, hi = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=se)
    assert (s.ci_low, s.ci_high) == pytest.approx((lo, hi))
    assert s.p_value == pytest.approx(stats.ttest_1samp(d, 0).pvalue)
    assert s.p_one_sided == pytest.approx(stats.ttest_1samp(d, 0, alternative="greater").pvalue)


def test_tost_is_two_one_sided_t_tests_by_hand():
    d = np.subtract(A, B)
    n, se = len(d), d.std(ddof=1) / math.sqrt(len(d))
    for margin in (1.0, 3.0, 8.0):
        p_low = stats.t.sf((d.mean() + margin) / se, n - 1)  # H0: mean <= -margin
        p_high = stats.t.cdf((d.mean() - margin) / se, n - 1)  # H0: mean >= +margin
        assert paired_stats(A, B, margin=margin).p_tost == pytest.approx(max(p_low, p_high))


def test_columns_are_independent_studies():
    rng = np.random.default_rng(3)
    a, b = rng.normal(70, 4, (8, 5)), rng.normal(69, 4, (8, 5))
    many = paired_stats(a, b)
    for j in range(5):
        one = paired_stats(a[:, j], b[:, j])
        for key in ("effect", "sd", "ci_low", "ci_high", "p_value", "p_one_sided", "p_tost"):
            assert getattr(many, key)[j] == pytest.approx(getattr(one, key)), key


def test_holm_by_hand():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.06, 0.04)
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = holm([0.01, float("nan"), 0.04])  # a row without a test is not in the family
    assert math.isnan(out[1]) and out[[0, 2]] == pytest.approx([0.02, 0.04])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1


@pytest.mark.parametrize(("n", "family"), [(3, 1), (20, 1), (20, 3), (12, 5), (2, 14)])
def test_mde_has_80_percent_power_by_noncentral_t(n, family):
    sd = 6.0
    effect = mde(sd, n, family_size=family)
    assert _nct_power(effect, sd, n, ALPHA / family) == pytest.approx(0.80, abs=1e-6)
    assert mde_factor(n, family_size=family) == pytest.approx(effect / sd)
    assert math.isnan(mde(sd, 1)) and mde(0.0, 5) == 0.0


@pytest.mark.parametrize(("effect", "sd", "family"), [(3.0, 8.0, 1), (-3.0, 8.0, 4),
                                                      (10.0, 4.0, 2), (0.7, 2.0, 1)])
def test_seeds_needed_is_the_first_n_with_80_percent_power(effect, sd, family):
    n = int(seeds_needed(effect, sd, family_size=family))
    assert _nct_power(abs(effect), sd, n, ALPHA / family) >= 0.80
    assert n == 2 or _nct_power(abs(effect), sd, n - 1, ALPHA / family) < 0.80


def test_seeds_needed_edge_cases():
    assert seeds_needed(0.0, 5.0) == math.inf  # no effect: no number of seeds finds it
    assert seeds_needed(1e-4, 5.0) == math.inf  # beyond the cap
    assert seeds_needed(2.0, 0.0) == 2  # no spread: two seeds decide
    assert math.isnan(seeds_needed(2.0, float("nan")))


def test_design_plans_seeds_for_a_target_mde():
    plan = design(8.0, family_size=2, seeds=20, target_mde=3.0)
    assert plan.mde == pytest.approx(mde(8.0, 20, family_size=2))
    n = int(plan.seeds_for_target)
    assert mde(8.0, n, family_size=2) <= 3.0 < mde(8.0, n - 1, family_size=2)
    # more tests in the family ask for more seeds; a smaller SD for fewer
    assert design(8.0, family_size=6, seeds=20).seeds_for_target > n
    assert design(4.0, family_size=2, seeds=20).seeds_for_target < n
    with pytest.raises(ValueError, match="seeds >= 2"):
        design(8.0, family_size=2, seeds=1)


# --- edge cases ---------------------------------------------------------------------------

def test_zero_spread_is_exact_not_nan():
    same = paired_stats([70, 71, 72], [68, 69, 70])  # every difference +2
    assert (same.sd, same.ci_low, same.ci_high) == (0.0, 2.0, 2.0)
    assert (same.p_value, same.p_one_sided, same.p_tost) == (0.0, 0.0, 0.0)
    assert verdict("better", same.effect, same.p_value, same.p_tost) == "reproduced"
    worse = paired_stats([68, 69, 70], [70, 71, 72])
    assert (worse.p_value, worse.p_one_sided) == (0.0, 1.0)
    identical = paired_stats([70, 71, 72], [70, 71, 72])  # e.g. two identical models
    assert (identical.p_value, identical.p_one_sided, identical.p_tost) == (1.0, 1.0, 0.0)
    assert verdict("better", 0.0, identical.p_value, identical.p_tost) == "equivalent"
    far = paired_stats([80, 81], [70, 71])  # +10 everywhere: beyond the margin
    assert far.p_tost == 1.0
    at_margin = paired_stats([73, 74], [70, 71], margin=3.0)  # not strictly inside
    assert at_margin.p_tost == 1.0


def test_fewer_than_two_seeds_give_no_test():
    one = paired_stats([70.0], [60.0])
    assert one.n == 1 and one.effect == 10.0
    assert all(math.isnan(x) for x in (one.sd, one.ci_low, one.p_value, one.p_tost))
    assert verdict("better", one.effect, one.p_value, one.p_tost) == "inconclusive"
    assert paired_stats([], []).n == 0


def test_nan_accuracies_raise_or_are_omitted():
    with pytest.raises(ValueError, match="NaN accuracy at seed positions \\[1\\]"):
        paired_stats([70, float("nan"), 72], [69, 70, 71])
    omitted = paired_stats([70, float("nan"), 72, 75], [69, 70, 71, 70], nan_policy="omit")
    assert omitted.n == 3 and omitted.effect == pytest.approx((1 + 1 + 5) / 3)
    with pytest.raises(ValueError, match="pair seed by seed"):
        paired_stats([1, 2, 3], [1, 2])


# --- the verdict rule ---------------------------------------------------------------------

def test_verdict_rule():
    assert verdict("better", 4.0, 0.01, 0.9) == "reproduced"
    assert verdict("better", -4.0, 0.01, 0.9) == "contradicted"
    assert verdict("better", 0.2, 0.6, 0.01) == "equivalent"
    assert verdict("better", 0.2, 0.6, 0.04) == "inconclusive"  # TOST runs at alpha / 2
    assert verdict("better", 1.0, 0.01, 0.001) == "reproduced"  # significant beats equivalent
    assert verdict("differs", -4.0, 0.01, 0.9) == "reproduced"  # either sign
    assert verdict("differs", -0.1, 0.9, 0.001) == "equivalent"
    assert verdict("better", 5.0, 0.06, 0.9) == "inconclusive"
    assert verdict("better", 5.0, float("nan"), float("nan")) == "inconclusive"
    out = verdict("better", np.array([4.0, -4.0, 0.0]), np.array([0.01, 0.01, 0.5]),
                  np.array([0.9, 0.9, 0.5]))
    assert list(out) == ["reproduced", "contradicted", "inconclusive"]
    with pytest.raises(ValueError, match="not one of"):
        verdict("equal", 1.0, 0.1, 0.1)


def test_ordering_rule_and_the_pair_shown():
    p, pt = [0.01, 0.03, 0.02], [0.9, 0.5, 0.8]
    assert ordering_verdict(["reproduced"] * 3, p, pt) == ("reproduced", 1)  # weakest link
    assert ordering_verdict(["reproduced", "contradicted", "inconclusive"], p, pt) == (
        "contradicted", 1)
    assert ordering_verdict(["equivalent"] * 3, p, pt) == ("equivalent", 0)  # largest TOST p
    assert ordering_verdict(["reproduced", "equivalent", "reproduced"], p, pt) == (
        "inconclusive", 1)  # first pair not reproduced


def _values(arms: dict[str, list[float]]) -> dict[str, dict[int, float]]:
    return {arm: dict(enumerate(acc)) for arm, acc in arms.items()}


def test_decide_adjusts_within_each_family_only():
    rng = np.random.default_rng(7)
    base = rng.normal(70, 3, 10)
    vals = _values({"rmaat": base + 4 + rng.normal(0, 2, 10), "no_rf": base,
                    "flat": base + rng.normal(0, 2, 10), "rmt": base - 1 + rng.normal(0, 2, 10),
                    "rlt": base - 2 + rng.normal(0, 2, 10)})
    rows = [Row("rf", "better", ["rmaat", "no_rf"], vals),
            Row("bio", "better", ["rmaat", "flat"], vals),
            Row("order", "better", ["rmaat", "rmt", "rlt"], vals, family="secondary"),
            Row("flat", "differs", ["flat", "no_rf"], vals, family="secondary")]
    out = {r["id"]: r for r in decide(rows)}
    raw = {k: paired_stats(*rows[i].paired(*rows[i].pairs[0])).p_value
           for i, k in enumerate(["rf", "bio"])}
    adjusted = holm([raw["rf"], raw["bio"]])
    assert [out["rf"]["p_adjusted"], out["bio"]["p_adjusted"]] == pytest.approx(adjusted)
    assert out["rf"]["family_size"] == 2 and out["order"]["family_size"] == 3  # 2 pairs + 1
    assert out["rf"]["mde"] == pytest.approx(mde(out["rf"]["sd"], 10, family_size=2))
    order_p = [paired_stats(*rows[2].paired(a, b)).p_value for a, b in rows[2].pairs]
    second = holm(order_p + [paired_stats(*rows[3].paired("flat", "no_rf")).p_value])
    assert out["flat"]["p_adjusted"] == pytest.approx(second[2])
    assert out["order"]["pairs"].count(":") == 2 and out["order"]["pair"] in out["order"][
        "pairs"]
    assert out["rf"]["verdict"] == "reproduced" and out["rf"]["p_claimed"] < out["rf"][
        "p_value"]


def test_decide_says_how_far_an_inconclusive_row_is_from_deciding():
    vals = _values({"a": [70, 75, 64], "b": [71, 68, 66]})
    (row,) = decide([Row("r", "better", ["a", "b"], vals)])
    assert row["verdict"] == "inconclusive" and row["mde"] > MARGIN
    assert row["seeds_for_margin"] == seeds_needed(MARGIN, row["sd"])
    assert f"MDE {row['mde']:.1f} points with 3 seeds" in row["reading"]
    (one,) = decide([Row("r", "better", ["a", "b"], _values({"a": [70], "b": [60]}))])
    assert one["verdict"] == "inconclusive" and "no test" in one["reading"]


def test_rows_refuse_fractions_nans_and_missing_arms():
    with pytest.raises(ValueError, match="points in \\[0, 100\\]"):
        Row("r", "better", ["a", "b"], _values({"a": [0.7, 0.8], "b": [0.6, 0.7]}))
    with pytest.raises(ValueError, match="'b' has a NaN"):
        Row("r", "better", ["a", "b"], _values({"a": [70, 80], "b": [60, float("nan")]}))
    with pytest.raises(ValueError, match="no accuracies for arm 'c'"):
        Row("r", "better", ["a", "c"], _values({"a": [70, 80]}))
    with pytest.raises(ValueError, match="exactly 2 arms"):
        Row("r", "differs", ["a", "b", "c"], _values({"a": [1], "b": [1], "c": [1]}))


# --- calibration on simulated studies ----------------------------------------------------

def _rates(effect: np.ndarray, sd: float, margin: float = MARGIN) -> dict[str, float]:
    """Verdict rates of one-contrast studies, paired differences ~ N(effect, sd) over SEEDS
    seeds, one column per study (family of one: the adjusted p is the raw p)."""
    rng = np.random.default_rng(11)
    d = effect + rng.normal(0, sd, (SEEDS, STUDIES))
    s = paired_stats(60 + d, np.full_like(d, 60.0), margin=margin)
    v = verdict("better", s.effect, s.p_value, s.p_tost)
    return {name: float(np.mean(v == name)) for name in
            ("reproduced", "contradicted", "equivalent", "inconclusive")}


def test_no_effect_normal_studies_are_calibrated():
    r = _rates(np.zeros(STUDIES), sd=3.0)
    false = r["reproduced"] + r["contradicted"]
    assert abs(false - ALPHA) <= 4 * _se(ALPHA), false  # exact t-test: at alpha, not 2 alpha
    assert r["equivalent"] > 0.9, r  # SE of the mean 0.67 points vs a 3-point margin


def test_effect_at_the_mde_is_reproduced_80_percent_of_the_time():
    effect = mde(3.0, SEEDS)
    r = _rates(np.full(STUDIES, effect), sd=3.0)
    assert abs(r["reproduced"] - 0.80) <= 4 * _se(0.80), r


def test_effect_at_the_margin_is_rarely_called_equivalent():
    """A true effect of exactly the margin: the equivalence test (each side at alpha / 2)
    rejects in alpha / 2 of the studies, and the verdict says equivalent no more often."""
    r = _rates(np.full(STUDIES, MARGIN), sd=3.0)
    assert r["equivalent"] <= ALPHA / 2 + 4 * _se(ALPHA / 2), r
    d = MARGIN + np.random.default_rng(12).normal(0, 3.0, (SEEDS, STUDIES))
    tost = paired_stats(d, np.zeros_like(d)).p_tost
    assert abs(np.mean(tost < ALPHA / 2) - ALPHA / 2) <= 4 * _se(ALPHA / 2)


def test_accuracy_studies_with_a_shared_test_set_are_calibrated():
    """No effect, realistic noise: each study draws one test set (300 examples with their
    difficulty), shared by all seeds; each seed and arm has its own skill (a seed part shared
    by the arms of a seed, as with common random numbers, and an arm part), and each answer
    is a Bernoulli draw given example and skill."""
    rng = np.random.default_rng(5)
    examples, chunk, false, equivalent = 300, 250, 0, 0
    for _ in range(STUDIES // chunk):
        difficulty = rng.normal(0, 1.5, (chunk, 1, 1, examples))
        skill = (rng.normal(0, 0.3, (chunk, SEEDS, 1, 1))  # seed, shared by both arms
                 + rng.normal(0, 0.1, (chunk, SEEDS, 2, 1)))  # arm within seed
        p = 1 / (1 + np.exp(-(0.8 + skill - difficulty)))
        acc = 100 * (rng.random(p.shape, dtype=np.float32) < p).mean(-1)  # (chunk, seeds, 2)
        s = paired_stats(acc[:, :, 0].T, acc[:, :, 1].T)
        v = verdict("better", s.effect, s.p_value, s.p_tost)
        false += int(np.isin(v, ["reproduced", "contradicted"]).sum())
        equivalent += int((v == "equivalent").sum())
    assert false / STUDIES <= ALPHA + 4 * _se(ALPHA), false / STUDIES
    assert equivalent / STUDIES > 0.5, equivalent / STUDIES


def test_holm_family_keeps_the_family_wise_rate_and_the_planned_power():
    """Families of 3 contrasts: all null -> any false verdict in <= alpha of the families;
    one effect at the family's MDE (alpha / 3) -> reproduced in >= 80 % despite Holm."""
    rng = np.random.default_rng(13)
    sd, k = 4.0, 3
    shift = np.array([mde(sd, SEEDS, family_size=k), 0.0, 0.0])[None, :, None]
    any_false, hits = 0, 0
    for effect in (0.0, 1.0):
        d = effect * shift + rng.normal(0, sd, (SEEDS, k, STUDIES))
        s = paired_stats(d.reshape(SEEDS, -1), np.zeros((SEEDS, k * STUDIES)))
        p = s.p_value.reshape(k, STUDIES)
        adjusted = np.stack([holm(p[:, j]) for j in range(STUDIES)], axis=1)
        v = verdict("better", s.effect.reshape(k, STUDIES), adjusted, np.ones_like(adjusted))
        if effect == 0.0:
            any_false = int(np.isin(v, ["reproduced", "contradicted"]).any(0).sum())
        else:
            hits = int((v[0] == "reproduced").sum())
    assert any_false / STUDIES <= ALPHA + 4 * _se(ALPHA), any_false / STUDIES
    assert hits / STUDIES >= 0.80 - 4 * _se(0.80), hits / STUDIES
