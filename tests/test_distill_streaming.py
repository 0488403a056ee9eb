"""The T-free streaming factor s(t) that distill writes for rf_mode 'streaming'."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from distill import FittedCurve, RetentionError, distill, get_model, validate_retention
from distill.retention import retention_factor
from distill.streaming import streaming_entry
from distill.synthetic import synthetic_readout
from model.retention import load_retention
from pipeline.io import atomic_write_json

TAU_C = 0.5  # s
CURVES = {
    "sat_exp": FittedCurve(get_model("sat_exp"), (0.012, 9.0, 0.0005)),
    "double_exp": FittedCurve(get_model("double_exp"), (0.004, 2.0, 0.006, 25.0, 0.0)),
    "hill_concave": FittedCurve(get_model("hill"), (0.01, 3.0, 0.8, 0.0)),
}


def test_sat_exp_is_geometric_with_exact_tail() -> None:
    tau = 9.0
    entry = streaming_entry(CURVES["sat_exp"], TAU_C, 16)
    r = TAU_C / tau
    t = np.arange(1, 17)
    expected = -np.expm1(-r) * np.exp(-(t - 1) * r)
    assert np.allclose(entry["factors"], expected, rtol=1e-12, atol=0)
    assert entry["tail_ratio"] == pytest.approx(np.exp(-r), rel=1e-12)


@pytest.mark.parametrize("name", list(CURVES))
def test_factors_are_shares_of_the_whole_rise_and_give_rf(name: str) -> None:
    """Positive, non-increasing, summing to < 1; RF(t, T) = s(t) / sum_{u<=T} s(u)."""
    entry = streaming_entry(CURVES[name], TAU_C, 32)
    s = np.asarray(entry["factors"])
    assert np.all(s > 0) and np.all(np.diff(s) <= 0) and s.sum() < 1
    assert 0 < entry["tail_ratio"] <= 1
    for T in (1, 5, 32):
        assert np.allclose(s[:T] / s[:T].sum(), retention_factor(CURVES[name], TAU_C, T),
                           rtol=1e-9)


def test_curve_without_finite_rise_or_rising_increments_is_rejected() -> None:
    with pytest.raises(RetentionError, match="not finite"):
        streaming_entry(lambda t: np.log1p(np.asarray(t, dtype=float)), TAU_C, 8)
    sigmoid = FittedCurve(get_model("logistic"), (0.02, 10.0, 1.0, 0.0))
    with pytest.raises(RetentionError, match="no streaming retention factor.*not concave"):
        streaming_entry(sigmoid, TAU_C, 40)


def test_distill_writes_streaming_that_both_stages_accept(tmp_path: Path) -> None:
    ro = synthetic_readout("sat_exp", dict(A=0.02, tau=2.0, c=0.0), TAU_C, 60, 1e-5, seed=0)
    payload = distill(ro, "baseline", 24).to_json()
    validate_retention(payload)
    assert len(payload["streaming"]["factors"]) == 24
    path = tmp_path / "rf.json"
    atomic_write_json(path, payload)
    sched = load_retention(path)  # the model stage reads it
    f = sched.streaming_factors(96)  # 4x the longest T in the file
    assert f[:24] == payload["streaming"]["factors"]
    assert all(a >= b > 0 for a, b in zip(f, f[1:], strict=False))
    for mutate, match in [
        (lambda p: p["streaming"]["factors"].reverse(), "non-increasing"),
        (lambda p: p["streaming"].update(tail_ratio=1.5), "tail_ratio"),
        (lambda p: p["streaming"]["factors"].__setitem__(0, 2.0), "sum to"),
    ]:
        bad = copy.deepcopy(payload)
        mutate(bad)
        with pytest.raises(ValueError, match=match):
            validate_retention(bad)
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match="streaming"):
            load_retention(path)
