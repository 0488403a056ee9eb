"""One writer per run folder, and finished results that are never overwritten by a run of
other settings or inputs without being kept in superseded/ first."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from lra.listops_generator import ListOpsSettings, generate_listops_release
from train.lock import LOCK_NAME, run_folder_lock
from train.loop import train_run
from train.spec import RunSpec

REPO = Path(__file__).resolve().parents[1]
RESULTS = ("metrics.json", "best.pt", "last.pt")

# A process that takes a run folder's lock the way `train run` does and keeps it until its
# stdin closes: a real second process, held for exactly as long as the test needs it.
HOLDER = """
import sys
from train.lock import run_folder_lock
with run_folder_lock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def listops_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("listops")
    settings = ListOpsSettings(n_train=32, n_val=16, n_test=16, min_length=5, max_length=30,
                               max_depth=3, max_args=3, seed=5)
    generate_listops_release(root / "listops-1000", settings, progress=False)
    return root


def tiny_spec(root: Path, **kw) -> RunSpec:
    """A transformer run of one epoch on the tiny ListOps release (seconds on one CPU)."""
    base = dict(task="listops", preset="transformer", seed=1, data_root=str(root),
                cache_dir=str(root / ".cache"), seq_len=32,
                model={"d_model": 16, "n_layers": 1, "n_heads": 2, "dropout": 0.0},
                epochs=1, batch_size=16, eval_batch_size=32, lr=3e-3, checkpoint_every=1,
                device="cpu")
    base.update(kw)
    return RunSpec(**base).validate()


def files(folder: Path, names=RESULTS) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in names if (folder / name).exists()}


def start_holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_writer_is_refused_naming_the_holder_and_changes_nothing(listops_root,
                                                                          tmp_path):
    out = tmp_path / "run"
    train_run(tiny_spec(listops_root), out, progress=False)
    before = files(out)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(tiny_spec(listops_root, lr=1e-2).to_dict()))
    holder = start_holder(out)
    try:
        # run from pytest's base folder, which holds both the run and the token cache: the
        # spec's cache_dir must lie inside the working directory (the project)
        second = subprocess.run(
            [sys.executable, "-m", "train", "run", "--spec", str(other), "--out-dir", str(out),
             "--no-progress"], cwd=tmp_path.parent, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO)})
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert second.returncode == 2, second.stderr[-3000:]
    error = second.stderr
    assert f"run folder {out} is in use" in error
    assert f"pid {holder.pid} on host {socket.gethostname()}" in error and "-c" in error
    assert files(out) == before and not (out / "superseded").exists()
    # a holder that ends normally leaves no details behind: the next one takes it silently
    assert (out / LOCK_NAME).read_text() == ""


def test_the_lock_of_a_killed_process_does_not_block(tmp_path, caplog):
    holder = start_holder(tmp_path)
    holder.kill()  # SIGKILL: no clean-up, its details stay in the lock file
    holder.wait(timeout=60)
    assert f'"pid": {holder.pid}' in (tmp_path / LOCK_NAME).read_text()
    with caplog.at_level(logging.WARNING, logger="train.lock"):
        with run_folder_lock(tmp_path):
            info = json.loads((tmp_path / LOCK_NAME).read_text())
    assert info["pid"] == os.getpid()
    assert f"pid {holder.pid} on host" in caplog.text and "ended without releasing" in caplog.text


def test_train_run_holds_the_lock_while_it_runs(listops_root, tmp_path):
    holder = start_holder(tmp_path / "run")
    try:
        with pytest.raises(ValueError, match=f"pid {holder.pid} on host"):
            train_run(tiny_spec(listops_root), tmp_path / "run", progress=False)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not any((tmp_path / "run").glob("*.pt"))


def test_finished_metrics_without_checkpoints_are_kept_not_overwritten(listops_root, tmp_path):
    """Checkpoints deleted to save disk space: a run of other settings keeps the old result."""
    out = tmp_path / "run"
    train_run(tiny_spec(listops_root), out, progress=False)
    old = files(out, ["metrics.json"])
    for name in ("best.pt", "last.pt"):
        (out / name).unlink()
    new = train_run(tiny_spec(listops_root, lr=1e-2), out, progress=False)
    assert files(out / "superseded" / "1", ["metrics.json"]) == old
    assert new["spec"]["lr"] == 1e-2


def test_a_result_deleted_by_snakemake_before_a_rerun_is_kept(listops_root, tmp_path):
    """Snakemake deletes a job's declared output (metrics.json) before the job runs: the
    rerun with other settings keeps the old result in superseded/ from the run's own copy."""
    out = tmp_path / "run"
    train_run(tiny_spec(listops_root), out, progress=False)
    before = files(out)
    (out / "metrics.json").unlink()
    train_run(tiny_spec(listops_root, lr=1e-2), out, progress=False)
    assert files(out / "superseded" / "1") == before
    assert json.loads((out / "metrics.json").read_text())["spec"]["lr"] == 1e-2
    assert (out / ".metrics.json").read_bytes() == (out / "metrics.json").read_bytes()


def test_metrics_of_other_settings_beside_a_resumable_checkpoint_are_kept(listops_root,
                                                                          tmp_path):
    """A folder left inconsistent (a crash between moves, a restored file): the resumed run
    sets the other run's metrics.json aside instead of writing over it."""
    train_run(tiny_spec(listops_root), tmp_path / "a", progress=False)
    spec = tiny_spec(listops_root, lr=1e-2)
    assert train_run(spec, tmp_path / "b", progress=False, stop_after_steps=1) == {}
    shutil.copy(tmp_path / "a" / "metrics.json", tmp_path / "b" / "metrics.json")
    train_run(spec, tmp_path / "b", progress=False)
    kept = tmp_path / "b" / "superseded" / "1"
    assert files(kept, ["metrics.json"]) == files(tmp_path / "a", ["metrics.json"])
    assert "metrics.json" in (kept / "why.txt").read_text()
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["spec"]["lr"] == 1e-2


def test_a_run_folder_under_a_broken_link_is_a_clear_error(tmp_path):
    os.symlink(tmp_path / "unmounted", tmp_path / "results")
    with pytest.raises(ValueError, match=r"run folder .*results/runs/x: '.*results' is a link "
                                         r"to '.*unmounted', which does not exist"):
        with run_folder_lock(tmp_path / "results" / "runs" / "x"):
            pass
