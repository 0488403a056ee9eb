"""Thread requests (pipeline.cluster) and the Slurm checks' decisions (pipeline.slurm)."""

from __future__ import annotations

import asyncio
import types

import pytest

from pipeline.cluster import job_threads, torch_threads
from pipeline.slurm import (
    NodeSize,
    Probe,
    Request,
    SlurmSetupError,
    choose_status_command,
    guard_status_queries,
    oversized_requests,
    parse_sinfo_nodes,
    status_wait_s,
)

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


# --- status command --------------------------------------------------------------------

def probes(**results: Probe):
    calls = []

    def probe(name: str) -> Probe:
        calls.append(name)
        return results[name]
    return probe, calls


OK = Probe(True)
NO_ACCOUNTING = Probe(False, "Slurm accounting storage is disabled")
NO_CONTROLLER = Probe(False, "Unable to contact slurm controller (connect failure)")


def test_working_sacct_is_kept_and_squeue_not_asked():
    probe, calls = probes(sacct=OK, squeue=NO_CONTROLLER)
    assert choose_status_command("sacct", probe, sacct_installed=True, min_job_age_s=300,
                                 init_seconds=10) == ("sacct", "")
    assert calls == ["sacct"]


def test_without_accounting_squeue_takes_over_with_a_note():
    probe, _ = probes(sacct=NO_ACCOUNTING, squeue=OK)
    name, note = choose_status_command("sacct", probe, sacct_installed=True,
                                       min_job_age_s=300, init_seconds=10)
    assert name == "squeue"
    assert "accounting storage is disabled" in note and "MinJobAge = 300 s" in note


def test_without_accounting_and_a_short_min_job_age_the_run_is_refused():
    """squeue would miss jobs that finish between two polls (and the plugin would switch
    back to the failing sacct): refuse, naming MinJobAge and the delay."""
    probe, _ = probes(sacct=NO_ACCOUNTING, squeue=OK)
    with pytest.raises(SlurmSetupError, match=r"MinJobAge = 20 s.*\(30 s\)"):
        choose_status_command("sacct", probe, sacct_installed=True, min_job_age_s=20,
                              init_seconds=10)
    with pytest.raises(SlurmSetupError, match="MinJobAge = unknown"):
        choose_status_command("squeue", probe, sacct_installed=True, min_job_age_s=None,
                              init_seconds=10)


def test_nothing_answers_names_both_errors():
    probe, _ = probes(sacct=NO_CONTROLLER, squeue=NO_CONTROLLER)
    with pytest.raises(SlurmSetupError) as err:
        choose_status_command("sacct", probe, sacct_installed=True, min_job_age_s=300,
                              init_seconds=10)
    assert str(err.value).count("Unable to contact slurm controller") == 2


def test_configured_squeue_is_probed_itself():
    probe, calls = probes(sacct=OK, squeue=NO_CONTROLLER)
    with pytest.raises(SlurmSetupError, match="`squeue` fails"):
        choose_status_command("squeue", probe, sacct_installed=False, min_job_age_s=None,
                              init_seconds=40)
    probe, calls = probes(sacct=OK, squeue=OK)
    assert choose_status_command("squeue", probe, sacct_installed=True, min_job_age_s=300,
                                 init_seconds=40) == ("squeue", "")
    assert calls == ["squeue"]


# --- node sizes ------------------------------------------------------------------------

SINFO = """cpu*|64|256000|(null)
cpu*|32|128000|(null)
gpu|16|64000|gpu:a100:4(S:0-1)
gpu|16|64000+|gpu:2,gpu:v100:2
"""


def test_sinfo_gives_the_largest_node_per_partition_and_the_default():
    sizes, default = parse_sinfo_nodes(SINFO)
    assert default == "cpu"
    assert sizes == {"cpu": NodeSize(64, 256000, 0), "gpu": NodeSize(16, 64000, 4)}


def test_each_request_above_its_partitions_largest_node_is_named():
    sizes, default = parse_sinfo_nodes(SINFO)
    requests = [
        Request("fits", None, 64, 256000, 0),
        Request("train (task=a)", None, 65, 1000, 0),
        Request("gpu job", "gpu", 8, 64000, 5),
        Request("mem job", "gpu", 8, 64001, 4),
        Request("nowhere", "bigmem", 1, 1, 0),
        Request("no mem given", "gpu", 16, None, 4),
    ]
    lines = oversized_requests(requests, sizes, default)
    assert len(lines) == 4
    assert lines[0].startswith("train (task=a): asks for 65 CPUs; the largest node of "
                               "partition 'cpu' has 64 CPUs")
    assert lines[1].startswith("gpu job: asks for 5 GPUs")
    assert lines[2].startswith("mem job: asks for 64001 MB")
    assert "partition 'bigmem' does not exist (sinfo lists cpu, gpu)" in lines[3]


# --- a status query that fails during the run ------------------------------------------

def test_a_failing_status_query_is_retried_then_stops_the_run_with_the_command():
    """The plugin's real query function on a failing command: retried, then an error that
    names the command and its message (the plugin would have dropped the jobs instead)."""
    from snakemake_executor_plugin_slurm import job_status_query

    module = types.SimpleNamespace(query_job_status=job_status_query.query_job_status)
    assert guard_status_queries(module, retries=2, wait_s=0.01, error=ValueError)
    logger = types.SimpleNamespace(debug=lambda *a, **k: None)
    command = "sh -c 'echo slurmctld is down >&2; exit 1'"
    with pytest.raises(ValueError) as err:
        asyncio.run(module.query_job_status(command, logger))
    assert "failed 3 times" in str(err.value) and "slurmctld is down" in str(err.value)
    assert command in str(err.value)
    ok = asyncio.run(module.query_job_status("sh -c \"echo '12|COMPLETED'\"", logger))
    assert ok[0] == {"12": "COMPLETED"}


def test_a_status_query_that_recovers_is_not_an_error(tmp_path):
    from snakemake_executor_plugin_slurm import job_status_query

    flag = tmp_path / "down"
    flag.write_text("")
    module = types.SimpleNamespace(query_job_status=job_status_query.query_job_status)
    guard_status_queries(module, retries=3, wait_s=0.2, error=ValueError)
    logger = types.SimpleNamespace(debug=lambda *a, **k: None)
    # fails while the flag exists; the first failure removes it (a controller restart)
    command = f"sh -c 'if [ -e {flag} ]; then rm {flag}; exit 1; fi; echo 7\\|RUNNING'"
    status, _ = asyncio.run(module.query_job_status(command, logger))
    assert status == {"7": "RUNNING"}


def test_the_guard_is_installed_once_and_skips_other_plugin_versions():
    module = types.SimpleNamespace(query_job_status=lambda c, lg: None)
    assert guard_status_queries(module)
    wrapped = module.query_job_status
    assert guard_status_queries(module) and module.query_job_status is wrapped
    assert not guard_status_queries(types.SimpleNamespace())


def test_the_plugin_polls_through_the_function_the_guard_wraps():
    """The guard replaces the plugin module's ``query_job_status``; its status check must
    look that name up in the module (a plugin version that does not is caught here)."""
    import snakemake_executor_plugin_slurm as plugin

    check = plugin.Executor.check_active_jobs
    assert check.__globals__ is vars(plugin)
    assert "query_job_status" in check.__code__.co_names


def test_the_retry_wait_comes_from_the_environment_or_the_default():
    assert status_wait_s({}) == 30.0
    assert status_wait_s({"RMAAT_SLURM_STATUS_WAIT_S": "0.5"}) == 0.5
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(SlurmSetupError, match="RMAAT_SLURM_STATUS_WAIT_S"):
            status_wait_s({"RMAAT_SLURM_STATUS_WAIT_S": bad})
