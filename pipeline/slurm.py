"""Checks that turn a Slurm run's silent hangs into clear errors.

Snakemake's Slurm executor plugin (``snakemake-executor-plugin-slurm``) hangs without a word
in three situations; :func:`preflight`, called from the workflow's ``onstart`` (real runs
only, never ``-n``; ``--no-hooks`` skips it), handles each before anything is submitted:

1. **Status polling that cannot work.** The plugin polls job states with ``sacct`` whenever
   the binary exists; on a cluster without accounting (no slurmdbd) ``sacct`` fails, the
   plugin logs that at debug level only, stops tracking the jobs and waits forever.
   :func:`choose_status_command` runs the command the plugin would run; when ``sacct`` fails
   and ``squeue`` works (and Slurm keeps finished jobs long enough for ``squeue`` to see
   them: ``MinJobAge``) the run switches to ``squeue`` and says so; when nothing works it
   stops with both commands' errors.
2. **Requests no node can meet.** A job asking for more CPUs than any node of its partition
   has is accepted by ``sbatch`` and stays pending forever (Reason=PartitionConfig).
   :func:`oversized_requests` compares every job's CPUs, memory and GPUs with the largest
   node of its partition (``sinfo``) and the run stops, naming each job.
3. **Status polling that fails later** (slurmctld restarted or gone): the plugin drops the
   jobs it cannot query. :func:`guard_status_queries` wraps its query so that a failure is
   retried for a few minutes and then stops the run with the command and its error.

Pure decisions take their inputs as arguments (unit-tested); only :func:`preflight` and the
``run_*`` helpers touch Snakemake, the plugin or the ``sinfo``/``sacct`` commands.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: Name every probe query filters on: no job has it, so a working command prints nothing.
PROBE_NAME = "rmaat-status-probe"
#: A failing status query is retried this many times, this many seconds apart, before the
#: run stops (a slurmctld restart takes well under the 3 minutes this allows). The
#: environment variable RMAAT_SLURM_STATUS_WAIT_S changes the wait (docs/cluster.md).
STATUS_RETRIES = 6
STATUS_RETRY_WAIT_S = 30.0
STATUS_WAIT_VARIABLE = "RMAAT_SLURM_STATUS_WAIT_S"


class SlurmSetupError(RuntimeError):
    """The cluster cannot run this workflow as configured; the message says what to change."""


@dataclass(frozen=True)
class Probe:
    """Outcome of running one command: whether it exited 0, and its error text."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class NodeSize:
    """The largest CPUs, memory (MB) and GPUs of any node in one partition."""

    cpus: int
    mem_mb: int
    gpus: int


@dataclass(frozen=True)
class Request:
    """What one job asks Slurm for: CPUs, memory (MB), GPUs, in ``partition`` (None: the
    cluster's default partition)."""

    job: str
    partition: str | None
    cpus: int
    mem_mb: int | None
    gpus: int


def choose_status_command(configured: str | None, probe: Callable[[str], Probe], *,
                          sacct_installed: bool, min_job_age_s: int | None,
                          init_seconds: int) -> tuple[str, str]:
    """The status command that will work: ``("sacct" | "squeue", note to print or "")``.

    ``configured``: the plugin's ``status_command`` setting; ``probe(name)`` runs that
    command's query; ``min_job_age_s``: Slurm's MinJobAge (how long ``squeue`` still lists
    a finished job; None if unknown); ``init_seconds``: the plugin's first status delay. The
    plugin itself swaps ``squeue`` for ``sacct`` when MinJobAge is below 3 x that delay (or
    unknown) and ``sacct`` is installed; that swap is taken into account. Raises
    :class:`SlurmSetupError` when no command works.
    """
    threshold = 3 * init_seconds
    squeue_trusted = min_job_age_s is not None and min_job_age_s >= threshold
    name = configured or "sacct"
    if name == "squeue" and sacct_installed and not squeue_trusted:
        name = "sacct"  # what the plugin will do
    if name == "squeue":
        result = probe("squeue")
        if result.ok:
            return "squeue", ""
        raise SlurmSetupError(
            f"error: the job status command `squeue` fails on this machine: {result.detail}\n"
            "Snakemake could submit jobs but never see them finish. Check that Slurm's "
            "controller answers (`scontrol ping`) and rerun.")
    sacct = probe("sacct")
    if sacct.ok:
        return "sacct", ""
    age = "unknown" if min_job_age_s is None else f"{min_job_age_s} s"
    if not squeue_trusted:
        raise SlurmSetupError(
            f"error: the job status command `sacct` fails on this machine: {sacct.detail}\n"
            "(a cluster without Slurm accounting, slurmdbd), and `squeue` cannot replace it: "
            f"Slurm forgets finished jobs after MinJobAge = {age}, less than 3 x the first "
            f"status delay ({threshold} s). Enable accounting, raise MinJobAge in "
            "slurm.conf, or lower slurm-init-seconds-before-status-checks in "
            "workflow/profiles/slurm/config.yaml.")
    squeue = probe("squeue")
    if not squeue.ok:
        raise SlurmSetupError(
            "error: neither job status command works on this machine, so Snakemake could "
            "submit jobs but never see them finish:\n"
            f"  sacct: {sacct.detail}\n  squeue: {squeue.detail}\n"
            "Check that Slurm's controller answers (`scontrol ping`) and rerun.")
    return "squeue", (
        f"note: `sacct` fails here ({sacct.detail}): this cluster keeps no job accounting. "
        f"Job states are read with `squeue` instead (Slurm keeps finished jobs for "
        f"MinJobAge = {age}); failed jobs are reported without Slurm's reason.")


def parse_sinfo_nodes(text: str) -> tuple[dict[str, NodeSize], str | None]:
    """``sinfo -h -N -o '%P|%c|%m|%G'`` output -> (largest node per partition, the default
    partition). CPUs and memory (MB) as Slurm reports them; GPUs summed over the node's
    ``gpu`` GRES entries (``gpu:4``, ``gpu:a100:2(S:0-1)``)."""
    sizes: dict[str, NodeSize] = {}
    default = None
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 4 or not parts[0]:
            continue
        partition = parts[0].rstrip("*")
        if parts[0].endswith("*"):
            default = partition
        cpus = _leading_int(parts[1])
        mem = _leading_int(parts[2])
        gpus = sum(int(m) for m in re.findall(r"gpu(?::[^:,()]+)?:(\d+)", parts[3]))
        old = sizes.get(partition, NodeSize(0, 0, 0))
        sizes[partition] = NodeSize(max(old.cpus, cpus), max(old.mem_mb, mem),
                                    max(old.gpus, gpus))
    return sizes, default


def _leading_int(text: str) -> int:
    match = re.match(r"\s*(\d+)", text)
    return int(match.group(1)) if match else 0


def oversized_requests(requests: Iterable[Request], sizes: dict[str, NodeSize],
                       default: str | None) -> list[str]:
    """One line per job that no node of its partition can run (empty: every job fits)."""
    lines = []
    for req in requests:
        partition = req.partition or default
        if partition is None:
            continue  # no partition known: sbatch will say what it thinks
        node = sizes.get(partition)
        if node is None:
            lines.append(f"{req.job}: partition '{partition}' does not exist (sinfo lists "
                         f"{', '.join(sorted(sizes)) or 'none'})")
            continue
        too_big = []
        if req.cpus > node.cpus:
            too_big.append(f"{req.cpus} CPUs")
        if req.mem_mb is not None and req.mem_mb > node.mem_mb:
            too_big.append(f"{req.mem_mb} MB")
        if req.gpus > node.gpus:
            too_big.append(f"{req.gpus} GPUs")
        if too_big:
            lines.append(f"{req.job}: asks for {', '.join(too_big)}; the largest node of "
                         f"partition '{partition}' has {node.cpus} CPUs, {node.mem_mb} MB, "
                         f"{node.gpus} GPUs")
    return lines


def oversized_message(lines: list[str]) -> str:
    """The error for :func:`oversized_requests`' lines."""
    return ("error: Slurm would keep these jobs pending forever (no node of their partition "
            "is large enough); nothing was submitted:\n"
            + "".join(f"  - {line}\n" for line in lines)
            + "Lower the request (experiment.training: threads, mem_mb, gpus; other rules: "
              "set-resources in workflow/profiles/slurm/config.yaml, whose max-threads caps "
              "every rule's threads) or send the jobs to a partition with larger nodes "
              "(slurm_partition).")


def guard_status_queries(module: Any, *, retries: int = STATUS_RETRIES,
                         wait_s: float = STATUS_RETRY_WAIT_S,
                         error: type[Exception] = RuntimeError) -> bool:
    """Wrap ``module.query_job_status`` (the plugin's async status query) so that a failed
    query is retried ``retries`` times ``wait_s`` apart and then raises ``error`` with the
    command and its error text: the plugin reports that as an executor error and the run
    stops, instead of dropping the jobs and waiting forever. Returns False (nothing done)
    when the module has no such function (another plugin version)."""
    original = getattr(module, "query_job_status", None)
    if original is None or getattr(original, "_rmaat_guard", False):
        return original is not None

    async def guarded(command: str, logger: Any):
        for attempt in range(retries + 1):
            result = await original(command, logger)
            if result[0] is not None:
                return result
            detail = await _error_text(command)
            if attempt < retries:
                print(f"warning: the job status command failed ({detail}); retrying in "
                      f"{wait_s:.0f} s ({attempt + 1}/{retries}): {command}", file=sys.stderr)
                await asyncio.sleep(wait_s)
        raise error(
            f"the job status command failed {retries + 1} times over "
            f"{retries * wait_s:.0f} s, so Snakemake can no longer see its Slurm jobs:\n"
            f"    {command}\n    {detail}\n"
            "Jobs of this run may still be queued or running (the command shows them once "
            "Slurm answers; scancel --name <the run ID above> stops them). Rerun the same "
            "command when Slurm answers again: finished outputs are kept.")

    guarded._rmaat_guard = True  # type: ignore[attr-defined]
    module.query_job_status = guarded
    return True


async def _error_text(command: str) -> str:
    """The first line of what ``command`` prints on failure (stderr, else stdout)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *shlex.split(command), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    except (TimeoutError, OSError) as exc:
        return str(exc)
    text = (err or out or b"").decode(errors="replace").strip()
    return text.splitlines()[0] if text else f"exit status {proc.returncode}, no output"


def status_wait_s(environ: dict[str, str] | Any) -> float:
    """Seconds between retries of a failed status query: ``RMAAT_SLURM_STATUS_WAIT_S`` if
    set (a number >= 0), else :data:`STATUS_RETRY_WAIT_S`."""
    text = environ.get(STATUS_WAIT_VARIABLE)
    if text is None:
        return STATUS_RETRY_WAIT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise SlurmSetupError(f"error: {STATUS_WAIT_VARIABLE}={text!r} is not a number of "
                              "seconds >= 0; unset it or give one, e.g. 30")
    return value


def run_probe(command: str) -> Probe:
    """Run ``command`` (a status query); :class:`Probe` with its first error line."""
    try:
        proc = subprocess.run(shlex.split(command), capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(False, str(exc))
    text = (proc.stderr or proc.stdout).strip()
    detail = text.splitlines()[0] if text else f"exit status {proc.returncode}, no output"
    return Probe(proc.returncode == 0, detail if proc.returncode else "")


def _job_request(job: Any) -> Request | None:
    """The Slurm request of one Snakemake job (None for a job run on the submitting host)."""
    if job.is_local:
        return None
    res = job.resources

    def integer(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    cpus = integer(res.get("cpus_per_task")) or integer(job.threads) or 1
    wildcards = ", ".join(f"{k}={v}" for k, v in dict(job.wildcards_dict).items())
    return Request(job=f"{job.rule.name} ({wildcards})" if wildcards else job.rule.name,
                   partition=res.get("slurm_partition") or None, cpus=cpus,
                   mem_mb=integer(res.get("mem_mb")), gpus=integer(res.get("gpu")) or 0)


def preflight(workflow: Any) -> None:
    """Before a Slurm run submits anything: pick a status command that works and refuse
    requests no node can meet (see the module docstring). Does nothing for other executors.
    Raises :class:`SlurmSetupError` with the message to print."""
    plugin = getattr(workflow, "executor_plugin", None)
    if plugin is None or getattr(plugin, "name", "") != "slurm":
        return
    import snakemake_executor_plugin_slurm as slurm_plugin
    from snakemake_interface_common.exceptions import WorkflowError

    settings = workflow.executor_settings
    try:
        from snakemake_executor_plugin_slurm.job_status_query import (
            get_min_job_age,
            query_job_status_sacct,
            query_job_status_squeue,
        )
    except ImportError:  # a plugin version without these: its own polling, unchecked
        print("warning: this version of snakemake-executor-plugin-slurm is not the one the "
              "workflow checks (2.6); job status polling is not checked", file=sys.stderr)
    else:
        queries = {"sacct": query_job_status_sacct(PROBE_NAME),
                   "squeue": query_job_status_squeue(PROBE_NAME)}
        chosen, note = choose_status_command(
            getattr(settings, "status_command", None),
            lambda name: run_probe(queries[name]),
            sacct_installed=shutil.which("sacct") is not None,
            min_job_age_s=get_min_job_age(),
            init_seconds=int(getattr(settings, "init_seconds_before_status_checks", 40) or 40))
        if note:
            print(note, file=sys.stderr)
        if hasattr(settings, "status_command"):
            settings.status_command = chosen
        elif chosen != "sacct":
            raise SlurmSetupError("error: `sacct` fails here and this version of "
                                  "snakemake-executor-plugin-slurm cannot poll with squeue; "
                                  "install the version in pyproject.toml ([slurm] extra).")
        guard_status_queries(slurm_plugin, wait_s=status_wait_s(os.environ),
                             error=WorkflowError)

    nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%P|%c|%m|%G"], capture_output=True,
                           text=True, timeout=60)
    if nodes.returncode != 0:
        print(f"warning: sinfo failed ({nodes.stderr.strip()}); job sizes not checked",
              file=sys.stderr)
        return
    sizes, default = parse_sinfo_nodes(nodes.stdout)
    requests = [r for r in map(_job_request, workflow.dag.needrun_jobs()) if r is not None]
    lines = oversized_requests(requests, sizes, default)
    if lines:
        raise SlurmSetupError(oversized_message(lines))
