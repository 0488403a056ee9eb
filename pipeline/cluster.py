"""CPU threads of a workflow job: what it asks the scheduler for and what torch may use.

Pure functions of the job's own need and of how Snakemake runs (no Snakemake object, no
torch), so that the rules stay one call each and the policy has unit tests:

- **On a cluster** (a non-local executor such as Slurm, and inside a Slurm job) a job asks
  for exactly the threads it needs; Slurm gives it that many CPUs of one node. ``--cores``
  plays no part: Snakemake leaves it unset there, and a value given anyway (it only limits
  the rules run on the submitting host) never inflates a request. The profile's
  ``max-threads`` (the CPUs of a node) caps every rule's threads; Snakemake applies it after
  these functions, and the capped value is what reaches ``torch_threads``.
- **Locally** with ``--cores`` above the machine's CPUs (``--cores 8`` on a 2-CPU laptop) a
  training job claims ``cores // cpus`` of the cores, so that no more training jobs run at
  once than there are CPUs, and torch uses the job's share of the real CPUs.
"""

from __future__ import annotations


def _local_cores(local: bool, cores: object) -> int | None:
    """``--cores`` when it governs the jobs' threads (local execution, a real number)."""
    if not local or not isinstance(cores, int) or isinstance(cores, bool):
        return None
    return cores


def job_threads(configured: int, *, local: bool, cores: int | None, cpus: int) -> int:
    """Snakemake ``threads`` of a job that needs ``configured`` CPU threads.

    ``local``: whether Snakemake runs the job on this machine (``workflow.local_exec``);
    ``cores``: ``--cores`` as Snakemake holds it (None when unset, as on a cluster);
    ``cpus``: CPUs of this machine. Returns a thread count >= 1.
    """
    configured = max(1, int(configured))
    cores = _local_cores(local, cores)
    if cores is not None and cores > cpus:
        return min(cores, max(configured, cores // max(1, cpus)))
    return configured


def torch_threads(threads: int, *, local: bool, cores: int | None, cpus: int) -> int:
    """CPU threads torch may use inside a job given ``threads`` (the job's share of the CPUs).

    Same arguments as :func:`job_threads`; ``threads`` is the value Snakemake settled on
    (after ``max-threads`` and ``--cores`` caps). Returns a thread count >= 1.
    """
    threads = max(1, int(threads))
    cores = _local_cores(local, cores)
    if cores is not None and cores > cpus:
        return max(1, threads * cpus // cores)
    return threads
