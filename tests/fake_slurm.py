"""A stand-in for Slurm's commands, so the real Snakemake Slurm executor plugin runs in tests.

``install(bin_dir, state_dir, cpus=..., accounting=...)`` writes ``sbatch``, ``srun``,
``squeue``, ``sacct``, ``scontrol``, ``sinfo`` and ``scancel`` into ``bin_dir``; put it first
on ``PATH``. ``sbatch`` records its arguments, starts the job's ``--wrap`` command in the
background on this machine (working directory ``-D``, output ``--output``, ``SLURM_JOB_ID``
set) and prints the job id; a job asking for more CPUs than the node has stays PENDING, as
Slurm keeps it (Reason=PartitionConfig). ``squeue`` and, with ``accounting``, ``sacct``
report ``id|STATE`` for the jobs of a name; without accounting ``sacct`` fails as on a
cluster without slurmdbd. One single-node partition, ``fake``.

Not a scheduler: every job starts at once. The real Slurm run is ``.ci/slurm.sh``.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

TOOLS = ("sbatch", "srun", "squeue", "sacct", "scontrol", "sinfo", "scancel")
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}


def install(bin_dir: Path, state_dir: Path, *, cpus: int = 2, mem_mb: int = 32000,
            accounting: bool = False) -> None:
    """Write the fake commands into ``bin_dir``; jobs and their states go to ``state_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "node.json").write_text(json.dumps(
        {"cpus": cpus, "mem_mb": mem_mb, "accounting": accounting}))
    for tool in TOOLS:
        path = bin_dir / tool
        path.write_text(f"#!/bin/sh\nFAKE_SLURM_STATE={_q(state_dir)} exec {_q(sys.executable)} "
                        f"{_q(Path(__file__).resolve())} {tool} \"$@\"\n")
        path.chmod(0o755)


def jobs(state_dir: Path) -> list[dict]:
    """Every submitted job: id, name, state, cpus, argv (in submission order)."""
    out = []
    for path in sorted((state_dir / "jobs").glob("*.json"), key=lambda p: int(p.stem)):
        job = json.loads(path.read_text())
        state = state_dir / "jobs" / f"{path.stem}.state"
        job["state"] = state.read_text().strip() if state.exists() else "PENDING"
        out.append(job)
    return out


def _q(value: object) -> str:
    return "'" + str(value).replace("'", "'\\''") + "'"


def _state() -> Path:
    return Path(os.environ["FAKE_SLURM_STATE"])


def _node() -> dict:
    return json.loads((_state() / "node.json").read_text())


def _option(args: list[str], *names: str) -> str | None:
    """Value of ``--name VALUE``, ``--name=VALUE`` or ``-n VALUE`` in ``args``."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1:]
    return None


def _next_id() -> int:
    counter = _state() / "counter"
    with open(_state() / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        n = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(n))
    return n


def sbatch(args: list[str]) -> int:
    wrap = _option(args, "--wrap")
    if wrap is None:
        print("sbatch: error: fake sbatch only runs --wrap jobs", file=sys.stderr)
        return 1
    cpus = int(_option(args, "--cpus-per-task", "-c") or 1)
    job_id = _next_id()
    folder = _state() / "jobs"
    folder.mkdir(exist_ok=True)
    job = {"id": job_id, "name": _option(args, "--job-name", "-J"), "cpus": cpus,
           "argv": args}
    (folder / f"{job_id}.json").write_text(json.dumps(job))
    if cpus > _node()["cpus"]:
        (folder / f"{job_id}.state").write_text("PENDING")  # never starts, as in Slurm
    else:
        (folder / f"{job_id}.state").write_text("RUNNING")
        output = (_option(args, "--output", "-o") or f"slurm-{job_id}.out").replace(
            "%j", str(job_id))
        env = {**os.environ, "SLURM_JOB_ID": str(job_id), "SLURM_JOBID": str(job_id),
               "SLURM_CPUS_PER_TASK": str(cpus)}
        with open(output, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, __file__, "_run", str(job_id), wrap],
                cwd=_option(args, "-D", "--chdir") or os.getcwd(), env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        (folder / f"{job_id}.pid").write_text(str(proc.pid))
    print(job_id)
    return 0


def _run(job_id: str, command: str) -> int:
    rc = subprocess.call(["/bin/sh", "-c", command])
    state = _state() / "jobs" / f"{job_id}.state"
    if state.read_text().strip() != "CANCELLED":
        state.write_text("COMPLETED" if rc == 0 else "FAILED")
    return rc


def srun(args: list[str]) -> int:
    rest = list(args)
    while rest and rest[0].startswith("-"):
        rest.pop(0)
    if not rest:
        return 0
    os.execvp(rest[0], rest)
    return 1  # not reached


def _report(args: list[str]) -> int:
    name = _option(args, "--name")
    for job in jobs(_state()):
        if name is None or job["name"] == name:
            print(f"{job['id']}|{job['state']}")
    return 0


def squeue(args: list[str]) -> int:
    return _report(args)


def sacct(args: list[str]) -> int:
    if not _node()["accounting"]:
        print("Slurm accounting storage is disabled", file=sys.stderr)
        return 1
    if _option(args, "--name") is None:
        return 0  # e.g. the plugin guessing an account from past jobs: none here
    return _report(args)


def scontrol(args: list[str]) -> int:
    if args[:2] == ["show", "config"]:
        print("MinJobAge               = 300 sec")
    return 0


def sinfo(args: list[str]) -> int:
    node = _node()
    if "-N" in args or "--Node" in args:
        print(f"fake*|{node['cpus']}|{node['mem_mb']}|(null)")
    else:
        print("PARTITION\nfake*")
    return 0


def scancel(args: list[str]) -> int:
    for job_id in [a for a in args if a.isdigit()]:
        folder = _state() / "jobs"
        (folder / f"{job_id}.state").write_text("CANCELLED")
        pid = folder / f"{job_id}.pid"
        if pid.exists():
            try:
                os.killpg(int(pid.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
    return 0


if __name__ == "__main__":
    tool, argv = sys.argv[1], sys.argv[2:]
    if tool == "_run":
        sys.exit(_run(*argv))
    sys.exit(globals()[tool](argv))
