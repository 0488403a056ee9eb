"""distill fit in other units: the same curve in seconds or picoseconds, in p^l or in
1e-250 p^l, gives the same fit, reported in the caller's units; scales beyond what double
precision can fit are refused before anything is written."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from distill.__main__ import main
from distill.derived import rise_time
from distill.io import write_readout_csv
from distill.macro_models import MODELS, FittedCurve, get_model
from distill.synthetic import synthetic_readout

PNG = b"\x89PNG\r\n\x1a\n"
TRUE = dict(A=0.01, tau=8.0, c=0.0)  # p^l rises by 0.01 with τ = 8 cycles of 1 s
NOISE = 2e-5


def _fit(tmp: Path, name: str, t_scale: float, p_scale: float, plots: bool = True,
         offset: float = 0.0) -> tuple[int, Path]:
    readout = synthetic_readout(
        "sat_exp", dict(A=TRUE["A"] * p_scale, tau=TRUE["tau"] * t_scale, c=offset * p_scale),
        t_scale, 80, NOISE * p_scale, seed=1)
    csv = tmp / f"{name}.csv"
    write_readout_csv(csv, readout)
    out = tmp / "retention" / f"{name}.json"
    args = ["fit", "--readout", str(csv), "--condition", name, "--max-segments", "64",
            "--out", str(out)]
    if plots:
        args += ["--plot-dir", str(tmp / "plots" / name)]
    return main(args), out


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("base")
    rc, out = _fit(tmp, "base", 1.0, 1.0, plots=False)
    assert rc == 0
    return json.loads(out.read_text())


def _factor(kind: str, t_scale: float, p_scale: float) -> float:
    return {"time": t_scale, "amplitude": p_scale, "offset": p_scale, "shape": 1.0}[kind]


@pytest.mark.parametrize(("t_scale", "p_scale"), [
    (1e12, 1.0), (1e-12, 1.0), (1e250, 1.0), (1e-250, 1.0), (1.0, 1e-250), (1.0, 1e250),
    (3.6e3, 2.0**-700), (1e-9, 1e200)])
def test_a_curve_in_other_units_fits_the_same(tmp_path, base, t_scale, p_scale, capsys):
    """time x1e12 used to write its JSON and then crash drawing a missing 'cycles to 90 %'
    (a search bounded at 1e12 s); x1e-12 reported 52 instead of 18 cycles (an absolute
    tolerance in s); p x1e250 called every candidate non-identifiable with a false
    condition-number message (the covariance overflowed)."""
    rc, out = _fit(tmp_path, "scaled", t_scale, p_scale, plots=t_scale in (1e12, 1e-12))
    err = capsys.readouterr().err
    assert rc == 0, err
    got = json.loads(out.read_text())
    assert got["macro_model"]["name"] == base["macro_model"]["name"] == "sat_exp"
    assert [c["eligible"] for c in got["candidates"]] == [c["eligible"]
                                                          for c in base["candidates"]]
    for T, rf in base["schedules"].items():
        np.testing.assert_allclose(got["schedules"][T], rf, rtol=1e-6, atol=0)
    np.testing.assert_allclose(got["streaming"]["factors"], base["streaming"]["factors"],
                               rtol=1e-6)
    for key in ("tau_ltp_cycles", "cycles_to_90", "shape_ratio_16"):
        assert got["derived"][key] == pytest.approx(base["derived"][key], rel=1e-6), key
    assert got["derived"]["tau_ltp_s"] == pytest.approx(base["derived"]["tau_ltp_s"] * t_scale,
                                                        rel=1e-6)
    for key in ("plateau", "rise"):
        assert got["derived"][key] == pytest.approx(base["derived"][key] * p_scale, rel=1e-6)
    model = get_model(base["macro_model"]["name"])
    for name, kind in zip(model.param_names, model.param_kinds, strict=True):
        f = _factor(kind, t_scale, p_scale)
        scale = abs(base["macro_model"]["params"]["A"]) * p_scale  # offsets near 0: absolute
        for key in ("params", "stderr"):
            assert got["macro_model"][key][name] == pytest.approx(
                base["macro_model"][key][name] * f, rel=1e-5, abs=1e-9 * scale), (key, name)
    for cand, ref in zip(got["candidates"], base["candidates"], strict=True):
        if ref["r2"] is not None:
            assert cand["r2"] == pytest.approx(ref["r2"], abs=1e-9), cand["name"]
            # AIC in the caller's units: RSS scales with p_scale², AIC by 2 n ln(p_scale)
            shift = 2 * base["n_points"] * math.log(p_scale)
            assert cand["aic"] == pytest.approx(ref["aic"] + shift, abs=1e-5), cand["name"]
    if t_scale in (1e12, 1e-12):
        plots = tmp_path / "plots" / "scaled"
        assert (plots / "fit.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize(("t_scale", "p_scale", "offset", "match"), [
    (1.0, 1e-300, 0.0, r"p_l rises by 1(\.\d+)?e-302.*multiply"),
    (1.0, 1e300, 0.0, r"p_l reaches 1(\.\d+)?e\+298.*divide"),
    (1e-300, 1.0, 0.0, r"cycle period 1e-300 s.*time_s"),
    (1e290, 1.0, 0.0, r"duration 8e\+291 s.*time_s"),
    (1.0, 1.0, 1e9, r"p_l rises by 0\.01 on a level of 1e\+09.*subtract"),
])
def test_scales_beyond_double_precision_are_refused_before_writing(tmp_path, capsys, t_scale,
                                                                     p_scale, offset, match):
    """p x1e-300 used to end in a ZeroDivisionError traceback; now every scale that double
    precision cannot fit the same is an input error (exit 2) naming the column, and nothing
    is written."""
    rc, out = _fit(tmp_path, "extreme", t_scale, p_scale, offset=offset)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
    assert re.search(match, err), err
    assert not out.exists() and not (tmp_path / "plots").exists()


def test_a_plot_that_fails_leaves_no_retention_file(tmp_path, monkeypatch, capsys):
    """The JSON is written last: a run that fails while drawing leaves nothing half-made."""
    import distill.__main__ as cli

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(cli, "plot_schedules", broken)
    rc, out = _fit(tmp_path, "plotfail", 1.0, 1.0)
    assert rc == 1 and "disk full" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("t_scale", [1e-200, 1e-12, 1.0, 1e12, 1e200])
@pytest.mark.parametrize("name", list(MODELS))
def test_rise_time_is_relative_to_the_curve_time_scale(name, t_scale):
    """63.2 % and 90 % rise times scale exactly with the time unit, for every form."""
    model = get_model(name)
    base_params = {"sat_exp": (1.0, 8.0, 0.0), "exp_onset": (1.0, 8.0, 2.0, 0.0),
                   "hill": (1.0, 8.0, 2.0, 0.0), "logistic": (1.0, 4.0, 2.0, 0.0),
                   "double_exp": (0.5, 2.0, 0.5, 20.0, 0.0)}[name]
    scaled = tuple(v * (t_scale if k == "time" else 1.0)
                   for v, k in zip(base_params, model.param_kinds, strict=True))
    for share in (1 - np.exp(-1.0), 0.9):
        want = rise_time(FittedCurve(model, base_params), share)
        assert rise_time(FittedCurve(model, scaled), share) == pytest.approx(
            want * t_scale, rel=1e-9)
    if name == "sat_exp":
        assert rise_time(FittedCurve(model, scaled), 1 - np.exp(-1.0)) == pytest.approx(
            8.0 * t_scale, rel=1e-9)


def test_null_derived_quantities_are_drawn_and_printed_as_na(tmp_path, monkeypatch, capsys):
    """The JSON allows null for every derived quantity; the plot and the summary used to
    crash on one (after the JSON was written)."""
    import distill.derived as derived

    monkeypatch.setattr(derived, "rise_time", lambda curve, share: float("nan"))
    rc, out = _fit(tmp_path, "nulls", 1.0, 1.0)
    assert rc == 0, capsys.readouterr().err
    assert json.loads(out.read_text())["derived"]["cycles_to_90"] is None
    assert "90 % after n/a cycles" in capsys.readouterr().out
    assert (tmp_path / "plots" / "nulls" / "fit.png").read_bytes()[:8] == PNG

