"""distill: the ``python -m distill`` command line, end to end and on bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from distill import validate_retention
from distill.__main__ import main
from distill.io import write_readout_csv
from distill.synthetic import synthetic_readout

PNG = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[1]


def _csv(tmp_path: Path, name: str, curve, params=None, noise=2e-5, n=80, tau_c=1.0) -> Path:
    path = tmp_path / f"{name}.csv"
    write_readout_csv(path, synthetic_readout(curve, params, tau_c, n, noise, seed=1))
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> dict[str, Path]:
    """Two conditions fitted through the CLI (module-scoped: the plots cost ~1 s each)."""
    tmp = tmp_path_factory.mktemp("cli")
    out = {}
    for name, params in [("baseline", dict(A=0.01, tau=8.0, c=0.0)),
                         ("slow", dict(A=0.01, tau=16.0, c=0.0))]:
        csv = _csv(tmp, name, "sat_exp", params)
        rc = main(["fit", "--readout", str(csv), "--condition", name, "--max-segments", "32",
                   "--out", str(tmp / "retention" / f"{name}.json"),
                   "--plot-dir", str(tmp / "plots" / name)])
        assert rc == 0
        out[name] = csv
    out["dir"] = tmp
    return out


def test_fit_writes_json_and_plots(fitted: dict[str, Path], capsys) -> None:
    tmp = fitted["dir"]
    payload = json.loads((tmp / "retention" / "baseline.json").read_text())
    validate_retention(payload)
    assert payload["condition"] == "baseline" and payload["macro_model"]["name"] == "sat_exp"
    assert payload["macro_model"]["params"]["tau"] == pytest.approx(8.0, rel=0.05)
    assert sorted(map(int, payload["schedules"])) == list(range(1, 33))
    for png in ("fit.png", "schedules.png"):
        assert (tmp / "plots" / "baseline" / png).read_bytes()[:8] == PNG
    # slower long-term process: flatter schedule (smaller first share)
    slow = json.loads((tmp / "retention" / "slow.json").read_text())
    assert slow["schedules"]["16"][0] < payload["schedules"]["16"][0]


def test_fit_prints_summary(tmp_path: Path, capsys) -> None:
    csv = _csv(tmp_path, "c", "sat_exp", dict(A=0.01, tau=8.0, c=0.0))
    assert main(["fit", "--readout", str(csv), "--condition", "c", "--max-segments", "8",
                 "--out", str(tmp_path / "c.json")]) == 0
    out = capsys.readouterr().out
    assert "<- selected" in out and "sat_exp" in out and "RF(1, 8)" in out


def test_compare_writes_png(fitted: dict[str, Path], capsys) -> None:
    tmp = fitted["dir"]
    rc = main(["compare", "--retention", str(tmp / "retention" / "baseline.json"),
               str(tmp / "retention" / "slow.json"), "--readout", str(fitted["baseline"]),
               str(fitted["slow"]), "--out", str(tmp / "plots" / "conditions.png")])
    assert rc == 0
    assert (tmp / "plots" / "conditions.png").read_bytes()[:8] == PNG
    assert "T = 16" in capsys.readouterr().out


def test_compare_mismatched_readouts_exit_2(fitted: dict[str, Path], capsys) -> None:
    tmp = fitted["dir"]
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--retention", str(tmp / "retention" / "baseline.json"),
              str(tmp / "retention" / "slow.json"), "--readout", str(fitted["baseline"]),
              "--out", str(tmp / "x.png")])
    assert exc.value.code == 2
    assert "one readout per retention file" in capsys.readouterr().err


def test_compare_T_not_available_exit_2(fitted: dict[str, Path], capsys) -> None:
    tmp = fitted["dir"]
    rc = main(["compare", "--retention", str(tmp / "retention" / "baseline.json"),
               "--out", str(tmp / "y.png"), "--T", "99"])
    assert rc == 2 and "T = 99" in capsys.readouterr().err
    assert not (tmp / "y.png").exists()


def _fit_args(csv: Path, out: Path, *extra: str) -> list[str]:
    return ["fit", "--readout", str(csv), "--condition", "cond-z", "--max-segments", "16",
            "--out", str(out), *extra]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda tmp: tmp / "missing.csv", "'cond-z'.*readout file not found"),
        (lambda tmp: _write(tmp / "cols.csv", "cycle,t,p\n0,0,0\n1,1,1\n2,2,2\n3,3,3\n"),
         "missing column"),
        (lambda tmp: _csv(tmp, "linear", lambda t: 1e-3 * t, noise=1e-5),
         "'cond-z'.*still growing"),
        (lambda tmp: _csv(tmp, "flat", lambda t: np.full_like(t, 0.2), noise=0.0), "flat"),
        (lambda tmp: _csv(tmp, "down", lambda t: np.exp(-t / 9), noise=0.0), "does not increase"),
    ],
    ids=["missing-file", "bad-columns", "non-saturating", "flat", "decreasing"],
)
def test_fit_input_errors_exit_2(tmp_path: Path, capsys, make, match: str) -> None:
    out = tmp_path / "out.json"
    assert main(_fit_args(make(tmp_path), out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(match, err), err
    assert not out.exists()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["fit", "--readout", "a.csv", "--condition", "c", "--max-segments", "0", "--out", "o"],
        ["fit", "--readout", "a.csv", "--condition", "c", "--max-segments", "x", "--out", "o"],
        ["fit", "--readout", "a.csv", "--max-segments", "4", "--out", "o"],
        ["fit", "--readout", "a.csv", "--condition", "c", "--max-segments", "4", "--out", "o",
         "--models", "quadratic"],
        ["fit", "--readout", "a.csv", "--condition", "c", "--max-segments", "4", "--out", "o",
         "--min-saturation", "1.5"],
        ["compare", "--out", "o.png"],
        [],
        ["frobnicate"],
    ],
    ids=["zero-segments", "text-segments", "no-condition", "unknown-model", "bad-fraction",
         "no-retention", "no-command", "unknown-command"],
)
def test_bad_arguments_exit_2(args: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_extrapolation_warning_and_note(tmp_path: Path, capsys) -> None:
    csv = _csv(tmp_path, "short", "sat_exp", dict(A=0.01, tau=3.0, c=0.0), n=20)
    out = tmp_path / "short.json"
    assert main(_fit_args(csv, out, "--max-segments", "64")) == 0
    assert "extrapolated" in capsys.readouterr().err
    payload = json.loads(out.read_text())
    assert payload["extrapolated_beyond_s"] == pytest.approx(20.0)
    assert payload["horizon_s"] == pytest.approx(64.0)
    assert any("extrapolated" in w for w in payload["warnings"])


def test_module_help_runs() -> None:
    for args in (["--help"], ["fit", "--help"], ["compare", "--help"]):
        proc = subprocess.run([sys.executable, "-m", "distill", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert "usage: python -m distill" in proc.stdout


def test_fit_plot_labels_name_the_readout_quantity(tmp_path: Path, monkeypatch) -> None:
    """The tripartite readout (Gamma_S) is labelled as such, not as the rate model's p^l."""
    import distill.plots as plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    csv = _csv(tmp_path, "tri", "sat_exp", dict(A=0.01, tau=8.0, c=0.0))
    for quantity in ("gamma_s", "p_l"):
        assert main(["fit", "--readout", str(csv), "--condition", "tri", "--max-segments", "8",
                     "--out", str(tmp_path / f"{quantity}.json"), "--quantity", quantity,
                     "--plot-dir", str(tmp_path / quantity)]) == 0
    gamma_fit, _, p_fit, _ = figures  # fit.png and schedules.png per call
    gamma_labels = " ".join(a.get_ylabel() for a in gamma_fit.axes)
    assert "mean gliotransmitter-bound receptor fraction" in gamma_labels
    assert "residual $\\Gamma_S$" in gamma_labels and "p^l" not in gamma_labels
    assert "residual $p^l$" in " ".join(a.get_ylabel() for a in p_fit.axes)
    with pytest.raises(ValueError, match="quantity must be one of"):
        plots.plot_fit(None, tmp_path / "x.png", "calcium")
