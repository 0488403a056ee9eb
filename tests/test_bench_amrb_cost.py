"""The AMRB cost model benchmark: its arithmetic and its files (no timed assertions)."""

from __future__ import annotations

import csv

import pytest

from benchmarks import bench_amrb_cost as bc


def test_cost_rows_predict_amrb_as_bptt_plus_a_forward():
    times = {("rmt", 16, 512, "bptt"): 0.30, ("rmt", 16, 512, "amrb"): 0.40,
             ("rmt", 16, 512, "forward"): 0.10, ("rmaat", 16, 512, "bptt"): 0.20,
             ("rmaat", 16, 512, "amrb"): 0.28, ("rmaat", 16, 512, "forward"): 0.08}
    rows = {r["preset"]: r for r in bc.cost_rows(times, ["rmt", "rmaat"], [16], [512])}
    assert rows["rmt"]["amrb_predicted_s"] == pytest.approx(0.30 + 0.10 * 15 / 16)
    assert "speedup_predicted_vs_rmt_bptt" not in rows["rmt"]
    rmaat = rows["rmaat"]
    assert rmaat["amrb_predicted_s"] == pytest.approx(0.20 + 0.08 * 15 / 16)
    assert rmaat["speedup_predicted_vs_rmt_bptt"] == pytest.approx(0.30 / (0.20 + 0.075))
    assert rmaat["speedup_vs_rmt_bptt"] == pytest.approx(0.30 / 0.28)
    assert rmaat["bptt_speedup_vs_rmt_bptt"] == pytest.approx(1.5)


def test_tiny_run_writes_csv_and_markdown(tmp_path):
    rows = bc.main(["--segments", "1", "3", "--segment-len", "8", "4", "--d-model", "16",
                    "--layers", "1", "--repeats", "1", "--out", str(tmp_path)])
    assert [(r["segment_len"], r["preset"], r["segments"]) for r in rows] == [
        (n, p, t) for n in (8, 4) for t in (1, 3) for p in ("rmt", "rlt", "rmaat")]
    with open(tmp_path / "amrb_cost.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 12 and all(float(r["bptt_s"]) > 0 for r in table)
    assert "rmaat+AMRB over rmt+BPTT" in (tmp_path / "amrb_cost.md").read_text()


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        bc.parse_args(["--repeats", "0"])
