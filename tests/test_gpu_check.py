"""The GPU check: its --smoke run (the same code as on a GPU, tiny sizes on a CPU), its files
and columns, the refusal without CUDA, the time budget and out-of-memory paths, the CUDA
timing helper (with a stand-in for CUDA), the launcher script. No timed assertions."""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import gpu_check as gc
from benchmarks import gpu_report as gr
from benchmarks.measure import event_timed, peak_allocated_mb

REPO = Path(__file__).resolve().parents[1]
PEER_INSTALLED = importlib.util.find_spec("recurrent_memory_transformer_pytorch") is not None


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One --smoke run: (exit status, output folder)."""
    out = tmp_path_factory.mktemp("gpu_smoke")
    threads = torch.get_num_threads()
    status = gc.main(["--smoke", "--out", str(out)])
    assert torch.get_num_threads() == threads  # the run restores the thread count
    assert not torch.are_deterministic_algorithms_enabled()
    return status, out


def test_smoke_run_passes_and_writes_every_section(smoke):
    status, out = smoke
    assert status == 0
    columns, rows = read_csv(out / gr.CSV_NAME)
    assert tuple(columns) == gr.COLUMNS
    info = {r["name"]: r["note"] for r in rows if r["kind"] == "info"}
    assert {"device", "torch", "cuda", "date", "commit", "dirty", "command"} <= set(info)
    assert info["device"].startswith("CPU") and info["torch"] == torch.__version__
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", info["commit"])
    checks = {(r["name"], r["system"]): r for r in rows if r["kind"] == "check"}
    assert set(checks) == {(f"amrb_equals_bptt_{d}", f"{p}+amrb") for d in ("float32", "float64")
                           for p in ("rmaat", "rmt", "rlt")} | {
        ("bf16_training_loss_falls", "rmaat+amrb"), ("resume_equals_uninterrupted", "rmaat+amrb")}
    assert all(r["outcome"] == "pass" for r in checks.values())
    assert float(checks[("amrb_equals_bptt_float32", "rmaat+amrb")]["value"]) <= 1e-5
    assert float(checks[("bf16_training_loss_falls", "rmaat+amrb")]["value"]) < 1.0
    # a CPU is deterministic: the resumed run equals the uninterrupted one bit for bit
    assert float(checks[("resume_equals_uninterrupted", "rmaat+amrb")]["value"]) == 0.0
    # every system at every point: memory growth everywhere, step time where timed
    prof = gc.SMOKE
    timed = {(t, n) for n in prof.segment_lens for t in prof.time_segments}
    sizes = timed | {(t, prof.segment_lens[0]) for t in prof.memory_segments}
    systems = [s for s in gc.SYSTEMS if PEER_INSTALLED or "public" not in s]
    points = {(r["name"], r["system"], int(r["segments"]), int(r["segment_len"])): r
              for r in rows if r["section"] == "points" and r["segments"]}
    for system in systems:
        for t, n in sizes:
            assert points[("peak_memory_growth", system, t, n)]["outcome"] == "ok"
            assert (("step_time", system, t, n) in points) == ((t, n) in timed)
    assert all(float(r["value"]) > 0 for r in points.values() if r["name"] == "step_time")
    peak = [r for r in rows if r["name"] == "peak_memory"]
    assert len(peak) == 1 and peak[0]["outcome"] == "skipped"  # no allocator peak on a CPU
    peer = [r for r in rows if r["system"] == "rmt_public+mrbp"]
    if not PEER_INSTALLED:
        assert [r["outcome"] for r in peer] == ["skipped"]
        assert "recurrent-memory-transformer-pytorch" in peer[0]["note"]
    ratios = [r for r in rows if r["kind"] == "ratio"]
    # (memory ratios need memory growth, which the tiny tensors of --smoke do not show)
    assert {r["name"] for r in ratios} >= {"speedup", "speedup_of_rmaat_amrb"}
    text = (out / gr.MD_NAME).read_text()
    for heading in ("## Checks", "## Step time", "## Ratios to rmaat + AMRB", "## Speed claim"):
        assert heading in text
    columns, speed = read_csv(out / "speed_claim.csv")
    assert [r["system"] for r in speed] == ["rmaat+amrb", "rmt+bptt"]


def test_speedup_rows_are_the_ratio_of_the_step_times(smoke):
    _, out = smoke
    _, rows = read_csv(out / gr.CSV_NAME)
    time = {(r["system"], r["segments"], r["segment_len"]): float(r["value"]) for r in rows
            if r["section"] == "points" and r["name"] == "step_time" and r["outcome"] == "ok"}
    got = [r for r in rows if r["name"] == "speedup_of_rmaat_amrb"]
    assert got
    for r in got:
        key = (r["segments"], r["segment_len"])
        assert float(r["value"]) == pytest.approx(
            time[(r["system"], *key)] / time[("rmaat+amrb", *key)], rel=1e-3)


def test_amrb_check_fails_when_the_dropout_replay_is_broken(retention, monkeypatch):
    """Guard that the check can fail: without the RNG restore AMRB's dropout masks differ."""
    import model.amrb as amrb
    from benchmarks.device_checks import GradSizes, amrb_matches_bptt

    ok = amrb_matches_bptt("rmaat", torch.device("cpu"), torch.float64, GradSizes(), retention)
    monkeypatch.setattr(amrb, "_set_rng", lambda state, device: None)
    broken = amrb_matches_bptt("rmaat", torch.device("cpu"), torch.float64, GradSizes(),
                               retention)
    assert ok["passed"] and not broken["passed"] and broken["value"] > 1e-6


def test_resume_check_fails_when_the_optimiser_state_is_not_restored(monkeypatch):
    """Guard that the check can fail: a resumed run whose AdamW state starts afresh."""
    from benchmarks.device_checks import TrainSizes, listops_task, resume_matches

    sizes = TrainSizes(epochs=2)
    monkeypatch.setattr(torch.optim.AdamW, "load_state_dict", lambda self, state: None)
    with listops_task(sizes) as task:
        broken = resume_matches(task, torch.device("cpu"), sizes)
    assert not broken["passed"] and broken["value"] > 0
    assert "a second uninterrupted run differs by 0" in broken["note"]


def test_without_cuda_and_without_smoke_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gc.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and "--smoke" in err
    assert not any(tmp_path.iterdir())  # nothing written, no silent CPU run


def test_help_names_the_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        gc.parse_args(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--smoke", "--out", "--budget-s", "--repeats", "--batch", "--skip"):
        assert option in text
    for bad in (["--budget-s", "0"], ["--repeats", "-1"], ["--skip", "lunch"]):
        with pytest.raises(SystemExit):
            gc.parse_args(bad)


class Clock:
    """A clock that the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def runner(tmp_path, retention, budget_s=100.0):
    clock = Clock()
    budget = gc.Budget(budget_s, clock=clock)
    return gc.Runner(gc.SMOKE, torch.device("cpu"), budget, retention, tmp_path), clock


def test_spent_budget_skips_measurements_and_checks_with_the_reason(tmp_path, retention):
    run, clock = runner(tmp_path, retention, budget_s=10.0)
    clock.now += 11.0
    run.point("rmt+bptt", 2, 16, timing=True)
    run.correctness()
    run.training()
    run.speed_claim()
    points = [r for r in run.rows if r["section"] == "points"]
    assert [r["name"] for r in points] == ["peak_memory", "peak_memory_growth", "step_time"]
    assert all(r["outcome"] == "skipped" and "time budget" in r["note"] for r in points)
    checks = [r for r in run.rows if r["kind"] == "check"]
    assert len(checks) == 8 and all(r["outcome"] == "error" and "time budget" in r["note"]
                                    for r in checks)
    assert [r["outcome"] for r in run.rows if r["section"] == "speed_claim"] == ["skipped"]
    assert not (tmp_path / "speed_claim.csv").exists()


def test_budget_predicts_from_the_last_step_scaled_by_tokens(tmp_path, retention):
    run, clock = runner(tmp_path, retention, budget_s=100.0)
    run.step_s["rmt+bptt"] = (2 * 2 * 16, 20.0)  # 20 s for 64 tokens per step
    run.point("rmt+bptt", 4, 16, timing=True)  # twice the tokens: (2 + 2 repeats) x 40 s
    assert all(r["outcome"] == "skipped" and "160 s needed" in r["note"] for r in run.rows)
    assert gc.Budget(10.0, clock=clock).allows(9.0)
    assert not gc.Budget(10.0, clock=clock).allows(10.0)


def test_out_of_memory_is_recorded_and_larger_sizes_of_that_system_skipped(
        tmp_path, retention, monkeypatch):
    from benchmarks import bench_peers

    real = bench_peers.make_step

    def make_step(args, system, n_seg, device, optimizer_step=False):
        if system.name == "rmaat+bptt" and n_seg >= 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return real(args, system, n_seg, device, optimizer_step)

    monkeypatch.setattr(bench_peers, "make_step", make_step)
    run, _ = runner(tmp_path, retention)
    run.point("rmaat+bptt", 2, 16, timing=False)
    run.point("rmaat+bptt", 3, 16, timing=True)
    run.point("rmaat+bptt", 4, 16, timing=True)
    run.point("rmt+bptt", 4, 16, timing=False)
    got = [(r["name"], r["segments"], r["system"], r["outcome"]) for r in run.rows
           if r["name"] != "peak_memory"]
    assert got == [("peak_memory_growth", 2, "rmaat+bptt", "ok"),
                   ("peak_memory_growth", 3, "rmaat+bptt", "oom"),
                   ("step_time", 3, "rmaat+bptt", "oom"),
                   ("peak_memory_growth", 4, "rmaat+bptt", "skipped"),
                   ("step_time", 4, "rmaat+bptt", "skipped"),
                   ("peak_memory_growth", 4, "rmt+bptt", "ok")]
    notes = {(r["name"], r["segments"]): r["note"] for r in run.rows}
    assert "OutOfMemoryError: CUDA out of memory" in notes[("step_time", 3)]
    assert "ran out of memory at 96 tokens" in notes[("step_time", 4)]


def test_oom_recognised_and_other_errors_not():
    assert gc.is_oom(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert gc.is_oom(MemoryError())
    with pytest.raises(RuntimeError) as cpu:
        torch.empty(2**62, dtype=torch.uint8)  # the CPU allocator refuses at once
    assert gc.is_oom(cpu.value)
    assert not gc.is_oom(ValueError("segment_len must be a positive integer"))


def test_event_timed_reads_cuda_events_in_seconds(monkeypatch):
    """The CUDA branch with a stand-in for torch.cuda: seconds = elapsed_time (ms) / 1000,
    events recorded around the step, the end event waited for."""
    calls = []

    class Event:
        def __init__(self, enable_timing=False):
            assert enable_timing
            self.name = "start" if not any(c[0] == "new" for c in calls) else "end"
            calls.append(("new", self.name))

        def record(self):
            calls.append(("record", self.name))

        def synchronize(self):
            calls.append(("wait", self.name))

        def elapsed_time(self, end):
            return 250.0

    monkeypatch.setattr(torch.cuda, "Event", Event)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("sync",)))
    seconds, _ = event_timed(lambda: calls.append(("step",)), torch.device("cuda"))
    assert seconds == 0.25
    assert calls == [("sync",), ("new", "start"), ("new", "end"), ("record", "start"),
                     ("step",), ("record", "end"), ("wait", "end")]
    assert peak_allocated_mb(torch.device("cpu")) is None


def test_rows_check_their_kind_and_outcome_and_ratios_need_both_systems():
    with pytest.raises(ValueError, match="kind"):
        gr.make_row("points", "x", "guess", "ok")
    with pytest.raises(ValueError, match="outcome"):
        gr.make_row("points", "x", "check", "maybe")
    mem = [gr.make_row("points", "peak_memory", "measurement", "ok", system=s, segments=16,
                       segment_len=512, value=v, unit="MiB")
           for s, v in (("rmaat+amrb", 100.0), ("rmaat+bptt", 441.0), ("rmt+bptt", 300.0))]
    mem.append(gr.make_row("points", "peak_memory", "measurement", "oom", system="rmt+bptt",
                           segments=64, segment_len=512))
    ratios = gr.ratio_rows(mem, "GPU")
    assert [(r["system"], r["value"]) for r in ratios] == [("rmaat+bptt", 4.41),
                                                           ("rmt+bptt", 3.0)]
    assert "paper: 4.41x" in ratios[0]["note"]
    assert gr.make_row("points", "x", "measurement", "ok", value=float("nan"))["value"] == "nan"


def test_commit_comes_from_the_stamp_where_there_is_no_git_checkout(tmp_path, monkeypatch):
    from benchmarks.provenance import COMMIT_ENV, git_state

    monkeypatch.setenv(COMMIT_ENV, "abc123 dirty")
    assert git_state(tmp_path) == ("abc123", "yes")
    monkeypatch.setenv(COMMIT_ENV, "abc123")
    assert git_state(tmp_path) == ("abc123", "no (stamped)")
    monkeypatch.delenv(COMMIT_ENV)
    assert git_state(tmp_path) == ("unknown", "unknown")


def test_launcher_script_runs_the_check_from_the_tree_into_OUT(tmp_path):
    """.ci/gpu_check.sh with the sections skipped: finds the Python, sets PYTHONPATH, writes
    the files and the log into $OUT, and passes the exit status on."""
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    done = subprocess.run(["bash", str(REPO / ".ci" / "gpu_check.sh"), "--smoke", "--skip",
                           *gc.SECTIONS], cwd=tmp_path, env=env, capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    assert {"gpu_check.csv", "gpu_check.md", "gpu_check.log"} <= {
        p.name for p in tmp_path.iterdir()}
    assert "0 checks passed, 0 failed" in (tmp_path / "gpu_check.log").read_text()
    env.pop("OUT")
    done = subprocess.run(["bash", str(REPO / ".ci" / "gpu_check.sh"), "--out", str(tmp_path)],
                          cwd=tmp_path, env={**env, "CUDA_VISIBLE_DEVICES": ""},
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 2 and "--smoke" in done.stdout  # no GPU visible: refused


def test_docs_describe_every_column_and_the_command():
    text = (REPO / "docs" / "gpu.md").read_text(encoding="utf-8")
    from benchmarks.bench_speed_claim import SpeedSizes

    speed_columns = ["date", "commit", "device", "system", "baseline", "segments",
                     "segment_len", "batch", "time_kind", "step_median_s",
                     "speedup_vs_baseline", "paper_speedup", *SpeedSizes.__dataclass_fields__]
    for column in (*gr.COLUMNS, *speed_columns):
        assert f"`{column}`" in text, column
    for phrase in ("python -m benchmarks.gpu_check", "--smoke", ".ci/gpu_check.sh",
                   "python -m benchmarks.bench_speed_claim"):
        assert phrase in text
