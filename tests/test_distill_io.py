"""distill: readout CSV validation, retention JSON schema and round trip, atomic writes."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from distill import (
    FittedCurve,
    ReadoutError,
    distill,
    read_readout,
    read_retention,
    validate_retention,
)
from distill.io import schedules_from_json, write_readout_csv
from distill.synthetic import synthetic_readout
from pipeline.io import atomic_write_json

TAU_C = 0.25  # s


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _good_csv(tmp_path: Path, n: int = 40) -> Path:
    ro = synthetic_readout("sat_exp", dict(A=0.02, tau=2.0, c=0.0), TAU_C, n, 1e-5, seed=0)
    path = tmp_path / "readout.csv"
    write_readout_csv(path, ro)
    return path


# ---------------------------------------------------------------------------- readout CSV


def test_read_readout_derives_cycle_period(tmp_path: Path) -> None:
    ro = read_readout(_good_csv(tmp_path))
    assert ro.tau_cycle_s == pytest.approx(TAU_C, rel=1e-12)
    assert ro.n_points == 41 and ro.duration_s == pytest.approx(40 * TAU_C)
    np.testing.assert_array_equal(ro.cycle, np.arange(41))


def test_extra_columns_and_spaces_are_ignored(tmp_path: Path) -> None:
    rows = "\n".join(f"{i}, {0.1 * i}, {1 - math.exp(-i / 5)}, x" for i in range(10))
    ro = read_readout(_write(tmp_path / "r.csv", "cycle, time_s, p_l, note\n" + rows + "\n"))
    assert ro.tau_cycle_s == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("cycle,time,p_l\n0,0,0\n1,1,1\n", r"missing column\(s\) \['time_s'\]"),
        ("cycle,time_s,p_l\n" + "".join(f"{i},{i},{i}\n" for i in range(2)), "2 point"),
        ("cycle,time_s,p_l\n0,0,0\n1,1,0.5\n2,2,\n3,3,0.9\n4,4,1\n", r"'p_l'.*NaN.*row\(s\) 2"),
        ("cycle,time_s,p_l\n0,0,0\n1,1,0.5\n2,2,abc\n3,3,0.9\n4,4,1\n", "non-numeric"),
        ("cycle,time_s,p_l\n0,0,0\n1,1,0.5\n2,2.5,0.7\n3,3,0.9\n4,4,1\n", "not uniformly spaced"),
        ("cycle,time_s,p_l\n0,0,0\n2,1,0.5\n1,2,0.7\n3,3,0.9\n4,4,1\n", "0, 1, ..., n_cycles"),
        ("cycle,time_s,p_l\n1,1,0\n2,2,0.5\n3,3,0.7\n4,4,0.9\n5,5,1\n", "0, 1, ..., n_cycles"),
        ("cycle,time_s,p_l\n0,1,0\n1,2,0.5\n2,3,0.7\n3,4,0.9\n4,5,1\n", "time_s = 0"),
        ("cycle,time_s,p_l\n0,0,0\n1,0,0.5\n2,0,0.7\n3,0,0.9\n4,0,1\n", "does not increase"),
    ],
    ids=["empty", "columns", "too-few", "nan", "non-numeric", "spacing", "order", "no-cycle-0",
         "time-offset", "time-constant"],
)
def test_bad_readouts_rejected(tmp_path: Path, text: str, match: str) -> None:
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ReadoutError, match=match) as err:
        read_readout(path)
    assert str(path) in str(err.value)


def test_missing_readout_file(tmp_path: Path) -> None:
    with pytest.raises(ReadoutError, match="not found"):
        read_readout(tmp_path / "nope.csv")


# ---------------------------------------------------------------------------- retention JSON


@pytest.fixture(scope="module")
def payload() -> dict:
    ro = synthetic_readout("sat_exp", dict(A=0.02, tau=2.0, c=0.0), TAU_C, 60, 1e-5, seed=0)
    return distill(ro, "baseline", 24).to_json()


def test_retention_json_schema(payload: dict) -> None:
    validate_retention(payload)
    assert payload["condition"] == "baseline"
    mm = payload["macro_model"]
    assert set(mm["params"]) == set(mm["stderr"]) == {"A", "tau", "c"}
    assert mm["name"] == "sat_exp"
    assert {c["name"] for c in payload["candidates"]} == {"sat_exp", "exp_onset", "hill",
                                                          "logistic", "double_exp"}
    for c in payload["candidates"]:
        assert {"name", "params", "r2", "aic", "eligible"} <= set(c)
    assert sorted(map(int, payload["schedules"])) == list(range(1, 25))
    assert payload["tau_cycle_s"] == pytest.approx(TAU_C)
    assert len(payload["residuals"]) == payload["n_points"] == 61


def test_retention_json_round_trip(payload: dict, tmp_path: Path) -> None:
    path = tmp_path / "out" / "baseline.json"
    atomic_write_json(path, payload)
    back = read_retention(path)
    assert back == payload  # floats survive exactly (repr round trip)
    json.dumps(back, allow_nan=False)  # only finite floats
    for T, rf in schedules_from_json(back).items():
        assert rf.size == T and abs(rf.sum() - 1) <= 1e-9
    curve = FittedCurve.from_dict(back["macro_model"]["name"], back["macro_model"]["params"])
    assert float(curve(2.0)) == pytest.approx(0.02 * (1 - math.exp(-1)), rel=0.01)
    assert os.listdir(path.parent) == ["baseline.json"]


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda p: p.pop("tau_cycle_s"), "tau_cycle_s"),
        (lambda p: p["schedules"]["3"].reverse(), "non-increasing"),
        (lambda p: p["schedules"]["3"].__setitem__(0, 0.9), "sums to"),
        (lambda p: p["schedules"].__setitem__("3", [0.5, 0.5]), "length"),
        (lambda p: p["macro_model"]["stderr"].pop("tau"), "stderr"),
        (lambda p: p["macro_model"].__setitem__("r2", "high"), "r2"),
    ],
    ids=["missing-key", "increasing", "sum", "length", "stderr", "r2-type"],
)
def test_schema_rejects_bad_payloads(payload: dict, mutate, match: str) -> None:
    bad = json.loads(json.dumps(payload))
    mutate(bad)
    with pytest.raises(ValueError, match=match):
        validate_retention(bad)


def test_read_retention_names_bad_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.json", "{not json")
    with pytest.raises(ReadoutError, match="r.json"):
        read_retention(path)




def test_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    """pandas renames the second 'p_l' to 'p_l.1' and the reader used the first without a
    word; which of the two is the readout is not for the reader to guess."""
    rows = "\n".join(f"{i},{float(i)},{1 - 0.5 ** i},{i}" for i in range(8))
    for header in ("cycle,time_s,p_l,p_l", "cycle,time_s,p_l, p_l"):  # (" p_l": a TypeError)
        path = _write(tmp_path / "dup.csv", header + "\n" + rows + "\n")
        with pytest.raises(ReadoutError, match=r"dup\.csv: column\(s\) \['p_l'\] named "
                                               r"more than once"):
            read_readout(path)
