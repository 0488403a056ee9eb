"""The Slurm profile runs for real: Snakemake's Slurm executor plugin submits jobs through
``sbatch`` and polls their states, here against the stand-in commands of ``fake_slurm``
(every test run) and, in ``.ci/slurm.sh``, against a real single-node Slurm."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests import fake_slurm

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
TARGET = "results/runs/listops/transformer/seed0/metrics.json"


def profile_run(workdir: Path, config: Path, fake_bin: Path, *args: str,
                timeout: int = 600, **env_vars: str) -> subprocess.CompletedProcess:
    """``snakemake --profile workflow/profiles/slurm`` (no --cores, as in the README) with
    the fake Slurm commands first on PATH; the first status poll after 2 s instead of the
    profile's 10 s (the stand-in jobs are short; only the test's duration changes)."""
    env = {**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}", **env_vars}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--profile", str(PROFILE),
           "--slurm-init-seconds-before-status-checks", "2", *args,
           "--configfile", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=workdir)


def tiny_config(workdir: Path, **training) -> Path:
    """config/test.yaml in ``workdir``, with ``experiment.training`` keys overridden."""
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["experiment"]["training"].update(training)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def rules_of(submitted: list[dict]) -> list[str]:
    """The rule of each submitted job (from the plugin's --comment rule_<name>_...)."""
    return [re.match(r"rule_(.+?)(?:_wildcards_.*)?$",
                     fake_slurm._option(j["argv"], "--comment")).group(1) for j in submitted]


def test_profile_run_without_cores_trains_through_sbatch(tmp_path):
    """The missing-cores defect: the README's cluster command has no --cores, so a real (not
    dry) run must size its training jobs without ``workflow.cores``, submit them, see them
    finish and exit 0. Each job asks for its own threads (no inflation, no 8 for data)."""
    fake_slurm.install(tmp_path / "bin", tmp_path / "slurm", cpus=8, accounting=True)
    config = tiny_config(tmp_path / "work", threads=3)
    result = profile_run(tmp_path / "work", config, tmp_path / "bin", TARGET)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert (tmp_path / "work" / TARGET).exists()
    submitted = fake_slurm.jobs(tmp_path / "slurm")
    assert sorted(rules_of(submitted)) == ["prepare_data", "train"], submitted
    assert all(j["state"] == "COMPLETED" for j in submitted), submitted
    cpus = dict(zip(rules_of(submitted), (j["cpus"] for j in submitted), strict=True))
    assert cpus == {"prepare_data": 2, "train": 3}


def test_profile_run_without_accounting_reads_states_with_squeue(tmp_path):
    """On a cluster without accounting ``sacct`` fails; the run says so, polls with
    ``squeue`` and finishes (before: it never noticed the job finishing)."""
    fake_slurm.install(tmp_path / "bin", tmp_path / "slurm", cpus=2, accounting=False)
    config = tiny_config(tmp_path / "work")
    result = profile_run(tmp_path / "work", config, tmp_path / "bin",
                         "results/data/listops.json", timeout=300)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "`sacct` fails here (Slurm accounting storage is disabled)" in out
    assert [j["state"] for j in fake_slurm.jobs(tmp_path / "slurm")] == ["COMPLETED"]


def test_requests_larger_than_any_node_stop_the_run_before_any_job(tmp_path):
    """Slurm keeps a job asking for more CPUs than its nodes have pending forever; the run
    refuses it up front, naming the job, and submits nothing."""
    fake_slurm.install(tmp_path / "bin", tmp_path / "slurm", cpus=2, accounting=True)
    config = tiny_config(tmp_path / "work", threads=4)
    result = profile_run(tmp_path / "work", config, tmp_path / "bin", TARGET)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "pending forever" in out
    assert ("train (task=listops, variant=transformer, seed=0): asks for 4 CPUs; the largest "
            "node of partition 'fake' has 2 CPUs") in out
    assert fake_slurm.jobs(tmp_path / "slurm") == []


def test_a_status_command_that_fails_stops_the_run_before_any_job(tmp_path):
    """Neither sacct nor squeue answers (slurmctld down): a clear error, nothing submitted."""
    fake_slurm.install(tmp_path / "bin", tmp_path / "slurm", cpus=2, accounting=False)
    (tmp_path / "bin" / "squeue").write_text(
        "#!/bin/sh\necho 'slurm_load_jobs error: Unable to contact slurm controller' >&2\n"
        "exit 1\n")
    config = tiny_config(tmp_path / "work")
    result = profile_run(tmp_path / "work", config, tmp_path / "bin", TARGET)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "neither job status command works" in out
    assert "Unable to contact slurm controller" in out
    assert fake_slurm.jobs(tmp_path / "slurm") == []


def test_a_status_command_that_fails_during_the_run_stops_it_with_the_command(tmp_path):
    """slurmctld goes away after the first sbatch: the plugin alone would drop the job and
    wait forever; the run retries, then stops with the command and its error."""
    fake_slurm.install(tmp_path / "bin", tmp_path / "slurm", cpus=2, accounting=False)
    squeue = tmp_path / "bin" / "squeue"
    squeue.write_text(
        f"#!/bin/sh\nif [ -e {tmp_path / 'slurm' / 'jobs' / '1.json'} ]; then\n"
        "  echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1\nfi\n"
        + squeue.read_text().splitlines()[-1] + "\n")
    config = tiny_config(tmp_path / "work")
    result = profile_run(tmp_path / "work", config, tmp_path / "bin",
                         "results/data/listops.json", timeout=300,
                         RMAAT_SLURM_STATUS_WAIT_S="0.5")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-3000:]
    assert "the job status command failed 7 times" in out
    assert "squeue" in out and "Unable to contact slurm controller" in out
    _wait_until_finished(tmp_path / "slurm")  # the stand-in job outlives the run: let it end


def _wait_until_finished(state: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(j["state"] in fake_slurm.FINAL for j in fake_slurm.jobs(state)):
            return
        time.sleep(0.5)
