"""The peers benchmark's pure parts: systems, skipping, tables, targets; the shared peak
measurement. No timed assertions."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from benchmarks import bench_peers as bp
from benchmarks.measure import reset_peak_rss, step_peak_mb


def row(system, segments, cpu, peak, params=1000):
    return {"system": system, "preset": system.split("+")[0], "driver": system.split("+")[1],
            "segments": segments, "tokens": segments * 512, "batch": 2,
            "device": "CPU (x86_64, 1 thread)", "params": params, "peak_mb": peak,
            "step_s": 2 * cpu, "step_cpu_s": cpu, "step_min_s": 1.8 * cpu,
            "step_max_s": 2.4 * cpu, "step_cpu_min_s": 0.9 * cpu, "step_cpu_max_s": 1.1 * cpu}


ROWS = [row("rmaat+amrb", 16, 0.2, 10.0), row("rmaat+bptt", 16, 0.3, 200.0),
        row("rmt+bptt", 16, 0.4, 150.0), row("rmt_public+mrbp", 16, 1.0, 100.0),
        row("rmaat+amrb", 64, 0.8, 11.0), row("rmt+bptt", 64, 2.0, 600.0)]


def test_every_recurrent_preset_has_every_driver_and_whole_sequence_presets_bptt_only():
    names = [s.name for s in bp.all_systems()]
    assert len(names) == len(set(names))
    for preset in ("rmt", "rlt", "rmaat"):
        assert {f"{preset}+{d}" for d in ("bptt", "checkpoint", "amrb")} <= set(names)
    for preset in ("transformer", "linear_transformer", "at"):
        assert [n for n in names if n.startswith(preset + "+")] == [f"{preset}+bptt"]
    assert names[-2:] == ["rmt_public+bptt", "rmt_public+mrbp"]
    assert [s.name for s in bp.all_systems(with_peer=False)] == names[:-2]
    with pytest.raises(ValueError, match="rmaat\\+amrb"):
        bp.system_by_name("rmaat+sgd")
    with pytest.raises(SystemExit):
        bp.parse_args(["--systems", "rmaat+sgd"])


def test_peer_is_skipped_with_a_message_when_the_package_is_absent(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == bp.PEER_PACKAGE else real(name, *a))
    message = bp.peer_skip_message()
    assert "recurrent-memory-transformer-pytorch" in message and ".[peers]" in message
    args = bp.parse_args(["--systems", "rmt_public+bptt", "rmt_public+mrbp",
                          "--segments", "2"])
    rows, notes = bp.run_all(args)  # no worker is started for a skipped system
    assert rows == [] and notes == [message]


def test_quadratic_transformer_is_capped_and_linear_presets_are_not():
    args = bp.parse_args(["--whole-max-tokens", "8192"])
    assert bp.skipped(args, bp.System("transformer", "bptt"), 16) is None
    assert "8192" in bp.skipped(args, bp.System("transformer", "bptt"), 32)
    assert bp.skipped(args, bp.System("at", "bptt"), 64) is None


def test_workers_get_the_sizes_but_not_the_lists_of_points():
    argv = ["--segments", "4", "16", "--d-model", "32", "--systems", "rmt+bptt", "--out", "x",
            "--repeats", "6"]
    assert bp._argv_without_systems(argv) == ["--d-model", "32", "--repeats", "6"]


def test_markdown_table_cells_ratios_and_missing_points():
    table = bp.markdown_table(ROWS)
    lines = table.strip().splitlines()
    assert lines[0] == "| system | params | T=16 (8,192 tok) | T=64 (32,768 tok) |"
    cells = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:]}
    assert list(cells) == ["rmaat+amrb", "rmaat+bptt", "rmt+bptt", "rmt_public+mrbp"]
    # CPU time, speed-up over rmt+bptt of the same T, peak memory
    assert "0.200 s (2.00x) / 10 MB" in cells["rmaat+amrb"]
    assert "0.800 s (2.50x) / 11 MB" in cells["rmaat+amrb"]
    assert "0.400 s (1.00x) / 150 MB" in cells["rmt+bptt"]
    assert cells["rmaat+bptt"].rstrip(" |").endswith("-")  # not run at T=64
    cuda = [{**r, "device": "NVIDIA H200"} for r in ROWS]
    assert "0.400 s (2.00x)" in bp.markdown_table(cuda)  # wall-clock time on CUDA


def test_targets_values_and_verdicts():
    got = {t["target"]: t for t in bp.targets(ROWS)}
    assert got["speed-up of rmaat+amrb over rmt+bptt at T=16"]["value"] == pytest.approx(2.0)
    assert got["speed-up of rmaat+amrb over rmt+bptt at T=16"]["met"]
    assert got["speed-up of rmaat+amrb over rmt+bptt at T=64"]["value"] == pytest.approx(2.5)
    assert got["peak of rmaat+amrb / rmaat+bptt at T=16"]["value"] == pytest.approx(0.05)
    assert got["peak of rmaat+amrb at T=64 / at T=16"]["value"] == pytest.approx(1.1)
    assert got["peak of rmaat+amrb at T=64 / at T=16"]["met"]
    speed = got["speed-up of rmaat+amrb over rmt_public+mrbp at T=16"]
    assert speed["value"] == pytest.approx(5.0) and speed["met"]
    memory = got["peak of rmaat+amrb / rmt_public+mrbp at T=16"]
    assert memory["value"] == pytest.approx(0.1) and memory["met"]
    slow = [{**r, "step_cpu_s": 1.0} if r["system"] == "rmaat+amrb" else r for r in ROWS]
    assert not {t["target"]: t for t in bp.targets(slow)}[
        "speed-up of rmaat+amrb over rmt+bptt at T=16"]["met"]  # 0.4 / 1.0 < 1.73
    # a missing point leaves its targets out
    assert len(bp.targets([r for r in ROWS if r["system"] != "rmt_public+mrbp"])) == 4


def test_report_markdown_has_command_table_targets_and_noise():
    text = bp.report_markdown(ROWS, ["public RMT skipped: x"], "python -m benchmarks.bench_peers")
    assert text.startswith("Command: `python -m benchmarks.bench_peers`")
    assert "| rmaat+amrb |" in text and "| target | value | goal | met |" in text
    # every row: wall spread (2.4 - 1.8) / 2 = 30 %, CPU spread 20 %, wall / CPU 2.00
    assert "wall-clock median 30%" in text and "CPU time median 20%" in text
    assert "wall / CPU time median 2.00" in text and "- public RMT skipped: x" in text


@pytest.mark.skipif(importlib.util.find_spec(bp.PEER_PACKAGE) is None,
                    reason="public RMT package not installed (extra [peers])")
def test_public_rmt_blocks_hold_as_many_parameters_as_ours():
    args = bp.parse_args(["--d-model", "32", "--segment-len", "16", "--mem-tokens", "2"])
    ours, counts = bp.build_ours(args, bp.System("rmt", "bptt"), torch.device("cpu"), 4)
    peer, peer_counts = bp.build_peer(args, torch.device("cpu"), counts["trunk_params"])
    # within one FFN unit (3 * d * layers parameters) of ours
    assert abs(peer_counts["trunk_params"] - counts["trunk_params"]) <= 3 * 32 * 2
    core = peer.transformer
    assert not core.causal and not core.use_xl_memories
    assert peer_counts["params"] == sum(p.numel() for p in peer.parameters())


def test_step_peak_counts_the_step_even_after_a_larger_earlier_peak():
    if not reset_peak_rss():
        pytest.skip("no /proc/self/clear_refs: the peak cannot be reset here")
    big = torch.ones(48 * 2**20)  # 192 MiB, touched, then freed: a high earlier peak
    del big

    def step():
        x = torch.ones(16 * 2**20)  # 64 MiB live during the "step"
        return float(x[-1])

    assert step_peak_mb(step, torch.device("cpu")) >= 48
