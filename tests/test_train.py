"""Training runs: resume after a kill, data parallelism, NaN handling, plan, tables, report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from analysis.aggregate import write_tables
from lra.listops_generator import ListOpsSettings, generate_listops_release
from model.retention import write_retention_json
from report.page import ReportInputs, write_report
from tests.conftest import run_metrics
from tests.htmlpage import parse_page
from train.checkpoint import CheckpointError, load_checkpoint
from train.loop import TrainingDiverged, divergence_message, lr_factor, train_run
from train.spec import RunSpec

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def listops_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("listops")
    settings = ListOpsSettings(n_train=96, n_val=32, n_test=32, min_length=5, max_length=40,
                               max_depth=3, max_args=3, seed=3)
    generate_listops_release(root / "listops-1000", settings, progress=False)
    return root


def _retention(tmp: Path) -> str:
    return str(write_retention_json(tmp / "rf.json", 8))


def _spec(root: Path, tmp: Path, **kw) -> RunSpec:
    model = {"d_model": 16, "n_layers": 1, "n_heads": 2, "segment_len": 16,
             "num_mem_tokens": 2, "dropout": 0.1, "retention": _retention(tmp)}
    model.update(kw.pop("model", {}))
    base = dict(task="listops", preset="rmaat", seed=1, data_root=str(root),
                cache_dir=str(root / ".cache"), seq_len=48, model=model, epochs=2,
                batch_size=16, eval_batch_size=32, lr=3e-3, special_lr=1e-3,
                checkpoint_every=2, device="cpu")
    base.update(kw)
    return RunSpec(**base).validate()


def _free_port() -> int:
    """A TCP port no one listens on now (a fixed one collides with other test runs on the
    machine, and the rendezvous then fails by chance)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path, kind="best")["model"]


def test_lr_schedule_warms_up_then_decays_to_zero():
    f = [lr_factor(s, 100, 10) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:], strict=False))
    assert lr_factor(100, 100, 10) == pytest.approx(0.0)


def test_killed_run_resumes_to_the_same_result(listops_root, tmp_path):
    spec = _spec(listops_root, tmp_path)
    full = train_run(spec, tmp_path / "full", progress=False)
    assert full["test_acc"] >= 0 and len(full["epochs"]) == 2
    # killed after 3 steps (last checkpoint at step 2), then after 4 more (mid epoch 2)
    assert train_run(spec, tmp_path / "resumed", progress=False, stop_after_steps=3) == {}
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["state"]["step"] == 2
    assert train_run(spec, tmp_path / "resumed", progress=False, stop_after_steps=4) == {}
    resumed = train_run(spec, tmp_path / "resumed", progress=False)
    for key in ("test_acc", "test_loss", "best_val_acc", "best_epoch"):
        assert resumed[key] == full[key], key
    assert [e["train_loss"] for e in resumed["epochs"]] == [e["train_loss"] for e in full["epochs"]]
    a, b = _weights(tmp_path / "full" / "best.pt"), _weights(tmp_path / "resumed" / "best.pt")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


def test_a_resumed_run_keeps_the_cost_of_its_training(listops_root, tmp_path, monkeypatch):
    """Issue 20.5: killed after training but before metrics.json, the rerun (a fresh process)
    only tests, and recorded that pass's peak memory as the run's. The metrics keep the
    peak over all parts (stored with the checkpoints) and the training's time, and say how
    often the run was resumed. Peak memory is set by the test: a process's ru_maxrss only
    grows, so two parts in one test process would hide the drop."""
    import train.record

    level = {"mb": 500.0}

    def peak(device):
        return level["mb"], "test measure"

    monkeypatch.setattr(train.record, "peak_memory_mb", peak)
    monkeypatch.setattr("train.loop.peak_memory_mb", peak, raising=False)
    spec = _spec(listops_root, tmp_path)
    full = train_run(spec, tmp_path / "run", progress=False)
    assert (full["peak_memory_mb"], full["resumed"]) == (500.0, 0)
    (tmp_path / "run" / "metrics.json").unlink()  # the kill: last.pt says training finished
    level["mb"] = 100.0  # the new process holds only the model and the test pass
    again = train_run(spec, tmp_path / "run", progress=False)
    assert again["peak_memory_mb"] == 500.0 and again["resumed"] == 1
    assert again["train_wall_s"] == full["train_wall_s"] and again["epochs"] == full["epochs"]
    # killed twice mid-training: the parts' peak (the first) and two restarts
    level["mb"] = 300.0
    assert train_run(spec, tmp_path / "mid", progress=False, stop_after_steps=3) == {}
    level["mb"] = 200.0
    assert train_run(spec, tmp_path / "mid", progress=False, stop_after_steps=4) == {}
    level["mb"] = 100.0
    resumed = train_run(spec, tmp_path / "mid", progress=False)
    assert resumed["peak_memory_mb"] == 300.0 and resumed["resumed"] == 2
    assert resumed["test_acc"] == full["test_acc"]


def _retention_file(path: Path, tau: float) -> str:
    return str(write_retention_json(path, 8, tau_cycles=tau))


def test_changed_settings_start_over_keeping_the_old_files(listops_root, tmp_path):
    train_run(_spec(listops_root, tmp_path, epochs=1), tmp_path / "run", progress=False)
    old = (tmp_path / "run" / "last.pt").read_bytes()
    new = train_run(_spec(listops_root, tmp_path, epochs=1, lr=1e-2), tmp_path / "run",
                    progress=False)
    kept = tmp_path / "run" / "superseded" / "1"
    assert (kept / "last.pt").read_bytes() == old
    assert {p.name for p in kept.iterdir()} == {"last.pt", "best.pt", "metrics.json", "why.txt"}
    assert "other settings" in (kept / "why.txt").read_text()
    assert new["spec"]["lr"] == 1e-2 and len(new["epochs"]) == 1


def test_changed_retention_file_never_resumes_the_old_checkpoint(listops_root, tmp_path):
    rf = tmp_path / "rf" / "baseline.json"
    spec = _spec(listops_root, tmp_path, model={"retention": _retention_file(rf, 4.0)})
    # killed mid-training with the old schedule; then the condition's schedule changes
    assert train_run(spec, tmp_path / "run", progress=False, stop_after_steps=3) == {}
    _retention_file(rf, 0.5)
    resumed = train_run(spec, tmp_path / "run", progress=False)
    assert "retention changed" in (tmp_path / "run" / "superseded" / "1" / "why.txt").read_text()
    fresh = train_run(spec, tmp_path / "fresh", progress=False)  # the new schedule only
    losses = [[e["train_loss"] for e in m["epochs"]] for m in (resumed, fresh)]
    assert losses[0] == losses[1]
    assert resumed["inputs"] == fresh["inputs"] and resumed["inputs"]["retention"] is not None


def test_regenerated_data_never_resumes_the_old_checkpoint(tmp_path):
    root = tmp_path / "data"

    def generate(seed: int) -> None:
        settings = ListOpsSettings(n_train=48, n_val=16, n_test=16, min_length=5, max_length=40,
                                   max_depth=3, max_args=3, seed=seed)
        generate_listops_release(root / "listops-1000", settings, progress=False)

    generate(1)
    spec = _spec(root, tmp_path, epochs=1)
    first = train_run(spec, tmp_path / "run", progress=False)
    generate(2)  # same paths and settings, other seed: other examples
    second = train_run(spec, tmp_path / "run", progress=False)
    assert "data changed" in (tmp_path / "run" / "superseded" / "1" / "why.txt").read_text()
    assert second["inputs"]["data"] != first["inputs"]["data"]
    assert second["inputs"]["retention"] == first["inputs"]["retention"]


def test_a_model_without_rf_records_no_retention(listops_root, tmp_path):
    spec = _spec(listops_root, tmp_path, preset="rmt", epochs=1, checkpoint_every=0,
                 model={"retention": None})
    metrics = train_run(spec, tmp_path / "rmt", progress=False)
    assert metrics["inputs"]["retention"] is None
    assert metrics["rf_factors_final"] is None and metrics["rf_factors_initial"] is None


def test_metrics_record_the_rf_factors_applied(listops_root, tmp_path):
    """metrics.json holds RF(t, T), t = 1..T, of the tested model: the biological schedule of
    the retention file, or the learned factors of best.pt next to their flat start."""
    bio = train_run(_spec(listops_root, tmp_path, epochs=1, checkpoint_every=0,
                          model={"segment_len": 8}), tmp_path / "bio", progress=False)
    schedule = json.loads(Path(_retention(tmp_path)).read_text())["schedules"]["6"]
    assert bio["rf_factors_final"] == pytest.approx(schedule, rel=1e-15)  # T = 48 / 8
    assert bio["rf_factors_initial"] == bio["rf_factors_final"]
    spec = _spec(listops_root, tmp_path, epochs=1, checkpoint_every=0, rf_lr=0.1,
                 model={"segment_len": 8, "rf_schedule": "learned", "retention": None})
    learned = train_run(spec, tmp_path / "learned", progress=False)
    theta = _weights(tmp_path / "learned" / "best.pt")["rf_learned"].double()
    assert learned["rf_factors_final"] == pytest.approx(theta.exp().tolist(), rel=1e-12)
    assert learned["rf_factors_initial"] == pytest.approx([1 / 6] * 6)
    assert learned["rf_factors_final"][0] != pytest.approx(1 / 6, rel=1e-3)  # it moved
    on_disk = json.loads((tmp_path / "learned" / "metrics.json").read_text())
    assert on_disk["rf_factors_final"] == learned["rf_factors_final"]


def test_checkpoint_with_changed_bytes_is_a_clear_error(listops_root, tmp_path):
    spec = _spec(listops_root, tmp_path, epochs=1)
    assert train_run(spec, tmp_path / "run", progress=False, stop_after_steps=2) == {}
    last = tmp_path / "run" / "last.pt"
    raw = bytearray(last.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 16] = bytes(16)
    last.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=f"{last}.*damaged.*delete {last}"):
        train_run(spec, tmp_path / "run", progress=False)


def test_best_in_place_of_last_and_a_deleted_best_are_clear_errors(listops_root, tmp_path):
    spec = _spec(listops_root, tmp_path, epochs=1)
    out = tmp_path / "run"
    train_run(spec, out, progress=False)
    (out / "last.pt").rename(tmp_path / "last.pt")
    shutil.copy(out / "best.pt", out / "last.pt")
    with pytest.raises(CheckpointError, match="'best' checkpoint where a 'last' one belongs"):
        train_run(spec, out, progress=False)
    (tmp_path / "last.pt").replace(out / "last.pt")
    (out / "best.pt").unlink()
    with pytest.raises(CheckpointError, match=f"best.pt is missing.*delete {out / 'last.pt'}"):
        train_run(spec, out, progress=False)


def test_checkpoints_written_before_checksums_still_load(tmp_path):
    state = {"config_hash": "abc", "model": {"w": torch.ones(2)}, "epoch": 3}
    torch.save(state, tmp_path / "best.pt")
    assert load_checkpoint(tmp_path / "best.pt", kind="best")["epoch"] == 3
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "best.pt", kind="last")


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(listops_root, tmp_path):
    spec = _spec(listops_root, tmp_path, epochs=1, lr=1e30, special_lr=1e30, grad_clip=0.0,
                 checkpoint_every=1)
    with pytest.raises(TrainingDiverged, match="last good checkpoint.*turn on gradient clip"):
        train_run(spec, tmp_path / "nan", progress=False)
    ckpt = load_checkpoint(tmp_path / "nan" / "last.pt")
    assert ckpt is not None
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert not (tmp_path / "nan" / "metrics.json").exists()


def test_divergence_message_does_not_advise_clipping_when_it_is_on(tmp_path):
    on = RunSpec(task="listops", preset="rmaat", grad_clip=1.0)
    off = RunSpec(task="listops", preset="rmaat", grad_clip=0.0)
    assert "already on" in divergence_message(on, float("nan"), 0, 5, tmp_path)
    assert "turn on gradient clipping" not in divergence_message(on, float("nan"), 0, 5, tmp_path)
    assert "turn on gradient clipping" in divergence_message(off, float("nan"), 0, 5, tmp_path)


def test_two_processes_match_one_process(listops_root, tmp_path):
    spec = _spec(listops_root, tmp_path, epochs=1, model={"dropout": 0.0}, checkpoint_every=0)
    # the command runs in tmp_path, its project: the token cache it writes must lie inside
    (tmp_path / "spec.json").write_text(json.dumps({**spec.to_dict(), "cache_dir": "cache"}))
    single = train_run(spec, tmp_path / "one", progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", "-m", "train", "run", "--spec",
           str(tmp_path / "spec.json"),
           "--out-dir", str(tmp_path / "two"), "--no-progress"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    double = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert double["processes"] == 2
    assert double["epochs"][0]["train_loss"] == pytest.approx(single["epochs"][0]["train_loss"],
                                                              rel=1e-5)
    a, b = _weights(tmp_path / "one" / "best.pt"), _weights(tmp_path / "two" / "best.pt")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)


def test_tables_and_report(listops_root, tmp_path):
    paths = []
    for preset in ("transformer", "rmaat"):
        for seed in (1, 2):
            out = tmp_path / "results" / "runs" / "listops" / preset / f"seed{seed}"
            train_run(_spec(listops_root, tmp_path, preset=preset, seed=seed, epochs=1,
                            model={"segment_len": 48} if preset == "transformer" else {}),
                      out, progress=False)
            paths.append(out / "metrics.json")
    # every model setting as built: the preset's defaults and the T the run filled in
    built = {p.parent.parent.name: json.loads(p.read_text())["resolved_model"] for p in paths}
    assert built["rmaat"]["rf_segments"] == 3 and built["rmaat"]["driver"] == "amrb"  # 48 / 16
    assert built["rmaat"]["readout"] == "memory" and built["rmaat"]["retention"].endswith(".json")
    assert not built["transformer"]["recurrent"] and built["transformer"]["segment_len"] == 48
    files = write_tables(paths, tmp_path / "results" / "tables", {"image": "no data"})
    import pandas as pd

    acc = pd.read_csv(files["accuracy"])
    assert set(acc["variant"]) == {"transformer", "rmaat"} and set(acc["seeds"]) == {2}
    runs = pd.read_csv(files["runs"])
    mean = runs[runs.variant == "rmaat"]["test_acc"].mean()
    assert acc.set_index("variant").loc["rmaat", "test_acc_mean"] == pytest.approx(mean)
    md = files["accuracy_md"].read_text()
    assert "majority class" in md and "image: skipped, no data" in md
    inputs = ReportInputs(accuracy=files["accuracy"], runs=files["runs"], metrics=paths,
                          skipped={"image": "no data"})
    report = parse_page(write_report(inputs, tmp_path / "report.html").read_text())
    assert "ListOps" in report.text and "official LRA, full scale, GPU" in report.text
    assert "data:image/png" in report.images  # training curves embedded
    assert "image: skipped, no data" in report.text
    assert "(n=2)" in report.text and "(1 seed)" not in report.text  # two seeds: mean ± std


def test_spec_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['lrr'\]"):
        RunSpec.from_dict({"task": "listops", "preset": "rmaat", "lrr": 1})
    with pytest.raises(ValueError, match="key 'epochs': must be >= 1"):
        RunSpec(task="listops", preset="rmaat", epochs=0).validate()
    with pytest.raises(ValueError, match="key 'rf_lr': must be > 0"):
        RunSpec(task="listops", preset="rmaat", rf_lr=0.0).validate()
    with pytest.raises(FileNotFoundError):
        RunSpec.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        RunSpec.load(tmp_path / "bad.json")


def test_accuracy_table_marks_cells_that_are_not_above_the_majority_class(tmp_path):
    """Pooled binomial test: 60 % of 500 vs a 50 % majority is clear; 52 % of 500 is not,
    and neither is 15 % of 300 against a 14.7 % majority."""
    cases = [("pathfinder", "rmaat", 0.52, 0.5, 500), ("pathfinder", "rmt", 0.60, 0.5, 500),
             ("listops", "rmaat", 0.15, 0.147, 300), ("listops", "rmt", 0.30, 0.147, 300)]
    paths = []
    for i, (task, variant, acc, majority, n) in enumerate(cases):
        path = tmp_path / f"m{i}.json"
        path.write_text(json.dumps(run_metrics(task=task, task_title=task, variant=variant,
                                               preset=variant, seed=0, test_acc=acc,
                                               majority_acc=majority, n_test=n, data_note="x")))
        paths.append(path)
    files = write_tables(paths, tmp_path / "tables", {})
    md = files["accuracy_md"].read_text()
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    # configuration order (as the runs were given), not alphabetical
    assert md.splitlines()[0] == "| task | majority class | rmaat | rmt |"
    assert list(rows)[1:] == ["pathfinder", "listops"]
    # one seed each: the single value, marked as such (no "± 0.0")
    assert "52.0 (1 seed) (chance)" in rows["pathfinder"]
    assert "60.0 (1 seed) |" in rows["pathfinder"]
    assert "15.0 (1 seed) (chance)" in rows["listops"] and "30.0 (1 seed) |" in rows["listops"]
    assert "± 0.0" not in md
    import pandas as pd

    p = pd.read_csv(files["accuracy"]).set_index(["task", "variant"])["p_above_chance"]
    assert p["pathfinder", "rmt"] < 1e-5 < 0.1 < p["pathfinder", "rmaat"] < 0.5


def test_report_sweep_and_job_benchmark_sections(tmp_path):
    """The sweep table (values, fit, RF(1, T), why a point was not fitted) and the Snakemake
    benchmark files (one row per rule, totals over its jobs) reach the page."""
    sweep = tmp_path / "sweeps" / "coupling"
    sweep.mkdir(parents=True)
    import pandas as pd

    pd.DataFrame({"sweep": ["coupling"] * 2, "point": ["p000", "p001"],
                  "tripartite.synapse.O_G": ["0.1 /uM/s", "1 /uM/s"],
                  "tripartite.synapse.O_G [/uM/s]": [0.1, 1.0],
                  "status": ["ok", "not saturated"], "reason": ["", "rise below 5 %"],
                  "warnings": ["", ""], "model": ["sat_exp", None], "r2": [0.999, None],
                  "t63_s": [12.5, None], "tau_s": [12.5, None], "plateau": [0.8, None],
                  "RF1_T4": [0.4, None]}).to_csv(sweep / "table.csv", index=False)
    rules = tmp_path / "benchmarks" / "rules"
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    files = []
    for rel, seconds, rss in (("simulate/a.tsv", 2.0, 100.0), ("simulate/b.tsv", 3.0, 150.0),
                              ("train/listops/rmaat/seed0.tsv", 10.0, 900.0)):
        path = rules / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{seconds}\t0:00:0{int(seconds)}\t{rss}\t-\t-\t-\t-\t-\t-\t1.5\n")
        files.append(path)
    page = parse_page(write_report(ReportInputs(sweep_tables=[sweep / "table.csv"],
                                                benchmarks=files),
                                   tmp_path / "report.html").read_text())
    assert "coupling (2 points: 1 ok, 1 not saturated)" in page.text
    assert "rise below 5 %" in page.cells and "RF(1, 4)" in page.cells
    assert "sat_exp" in page.cells
    from analysis.benchmarks import rule_benchmarks

    table = rule_benchmarks(files)
    assert list(table["rule"]) == ["simulate", "simulate", "train"]
    assert list(table["job"]) == ["a", "b", "listops/rmaat/seed0"]
    assert ["simulate", "2", "5", "3", "150"] in [row[:5] for row in page.rows]


def test_report_names_missing_or_foreign_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        ReportInputs(retention=[tmp_path / "nope.json"])
    demo = tmp_path / "demo.json"
    demo.write_text(json.dumps({"schedules": {"1": [1.0]}}))  # e.g. the README's demo file
    with pytest.raises(ValueError, match="demo.json: retention JSON: missing key 'condition'"):
        write_report(ReportInputs(retention=[demo]), tmp_path / "r.html")
