"""The speed-claim benchmark: its systems, its arithmetic and its CSV (no timed assertions)."""

from __future__ import annotations

import csv

import pytest

from benchmarks import bench_speed_claim as sc

ENV = {"date": "2026-01-01T00:00:00Z", "commit": "abc", "dirty": "no", "device": "GPU X",
       "torch": "2.x", "cuda": "13.0"}


def measured(rmaat, rmt):
    """Fake measurements: lists of (seconds, CPU seconds)."""
    return {"rmaat+amrb": {"times": rmaat, "params": 10, "autocast": True},
            "rmt+bptt": {"times": rmt, "params": 12, "autocast": True}}


def test_the_systems_are_the_presets_with_their_default_drivers(monkeypatch):
    assert sc.claim_systems() == ("rmaat+amrb", "rmt+bptt")
    from model import presets

    monkeypatch.setitem(presets.PRESETS, "rmaat", {**presets.PRESETS["rmaat"],
                                                   "driver": "checkpoint"})
    assert sc.claim_systems() == ("rmaat+checkpoint", "rmt+bptt")


def test_speedup_is_the_ratio_of_the_medians_on_the_device_clock():
    sizes = sc.SpeedSizes()
    data = measured([(0.10, 9.0), (0.30, 1.0), (0.20, 5.0)],  # medians 0.20 s / CPU 5.0
                    [(0.50, 2.0), (0.40, 4.0), (0.90, 3.0)])  # medians 0.50 s / CPU 3.0
    cuda = {r["system"]: r for r in sc.speed_rows(data, sizes, ENV, cuda=True)}
    assert cuda["rmaat+amrb"]["step_median_s"] == pytest.approx(0.20)
    assert cuda["rmaat+amrb"]["speedup_vs_baseline"] == pytest.approx(2.5)
    assert cuda["rmt+bptt"]["speedup_vs_baseline"] == 1.0
    assert cuda["rmaat+amrb"]["time_kind"] == "cuda_events"
    assert (cuda["rmaat+amrb"]["step_min_s"], cuda["rmaat+amrb"]["step_max_s"]) == (0.1, 0.3)
    assert cuda["rmaat+amrb"]["paper_speedup"] == sc.PAPER_SPEEDUP
    assert cuda["rmt+bptt"]["paper_speedup"] == ""
    cpu = {r["system"]: r for r in sc.speed_rows(data, sizes, ENV, cuda=False)}
    assert cpu["rmaat+amrb"]["time_kind"] == "cpu_process_time"
    assert cpu["rmaat+amrb"]["speedup_vs_baseline"] == pytest.approx(3.0 / 5.0)
    assert cpu["rmaat+amrb"]["wall_median_s"] == pytest.approx(0.20)
    row = cpu["rmaat+amrb"]
    assert (row["segments"], row["segment_len"], row["tokens"]) == (16, 512, 8192)
    assert row["repeats"] == 3 and row["device"] == "GPU X" and row["commit"] == "abc"


def test_without_the_baseline_the_speedup_is_left_empty():
    data = measured([(0.1, 0.1)], [(0.2, 0.2)])
    del data["rmt+bptt"]
    (row,) = sc.speed_rows(data, sc.SpeedSizes(), ENV, cuda=True)
    assert row["speedup_vs_baseline"] == ""


def test_size_options_quick_paper_model_and_explicit_values():
    sizes, repeats = sc.sizes_from_args(sc.parse_args([]))
    assert (sizes, repeats) == (sc.SpeedSizes(), 5)
    assert (sizes.segments, sizes.segment_len) == (16, 512)
    sizes, repeats = sc.sizes_from_args(sc.parse_args(["--quick"]))
    assert (sizes.batch, repeats) == (1, 3)
    sizes, _ = sc.sizes_from_args(sc.parse_args(["--paper-model", "--batch", "8"]))
    assert (sizes.d_model, sizes.n_layers, sizes.mem_tokens, sizes.batch) == (128, 4, 16, 8)
    for bad in (["--repeats", "0"], ["--segments", "-2"], ["--device", "tpu"]):
        with pytest.raises(SystemExit):
            sc.parse_args(bad)
    with pytest.raises(SystemExit) as exit_info:
        sc.main(["--d-model", "10", "--heads", "4"])
    assert exit_info.value.code == 2


def test_tiny_run_writes_one_row_per_system(tmp_path):
    out = tmp_path / "speed.csv"
    rows = sc.main(["--segments", "3", "--segment-len", "8", "--batch", "1", "--d-model", "8",
                    "--layers", "1", "--heads", "2", "--mem-tokens", "1", "--repeats", "2",
                    "--device", "cpu", "--out", str(out)])
    with open(out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["system"] for r in table] == ["rmaat+amrb", "rmt+bptt"] == [
        r["system"] for r in rows]
    rmaat, rmt = table
    assert rmaat["time_kind"] == "cpu_process_time" and rmaat["autocast"] == "off"
    assert (rmaat["segments"], rmaat["segment_len"], rmaat["repeats"]) == ("3", "8", "2")
    assert float(rmt["speedup_vs_baseline"]) == 1.0
    assert float(rmaat["speedup_vs_baseline"]) == pytest.approx(
        float(rmt["step_median_s"]) / float(rmaat["step_median_s"]), rel=1e-3)
    assert int(rmaat["params"]) > 0 and rmaat["commit"]
