"""Thread requests (pipeline.cluster) and the Slurm checks' decisions (pipeline.slurm)."""

from __future__ import annotations

import pytest

from pipeline.cluster import job_threads, torch_threads

# --- threads ---------------------------------------------------------------------------

@pytest.mark.parametrize("cores", [None, 1, 2, 64, 10**18])
def test_on_a_cluster_a_job_asks_for_its_own_threads_whatever_cores_says(cores):
    """The missing-cores defect and its workaround's side effect: on a cluster --cores is
    unset (None) or, if given, limits only local rules; the request stays the configured one."""
    assert job_threads(3, local=False, cores=cores, cpus=2) == 3
    assert torch_threads(3, local=False, cores=cores, cpus=2) == 3


def test_locally_cores_above_the_cpus_share_them_out():
    """--cores 8 on a 2-CPU machine: a 1-thread training job claims 4 cores (so at most 2 run
    at once) and torch uses 1 thread; within the CPUs nothing changes."""
    assert job_threads(1, local=True, cores=8, cpus=2) == 4
    assert torch_threads(4, local=True, cores=8, cpus=2) == 1
    assert job_threads(6, local=True, cores=8, cpus=2) == 6
    assert torch_threads(6, local=True, cores=8, cpus=2) == 1
    assert job_threads(3, local=True, cores=2, cpus=2) == 3  # Snakemake caps it at 2 later
    assert torch_threads(2, local=True, cores=2, cpus=2) == 2


def test_locally_without_cores_the_configured_threads_stand():
    assert job_threads(2, local=True, cores=None, cpus=4) == 2
    assert job_threads(0, local=True, cores=None, cpus=4) == 1
