# Helpers of stage 4 (the rules are in train.smk).
import json
import os

from train.plan import (
    available_tasks,
    check_experiment,
    experiment,
    job_resources,
    prepare_commands,
    run_names,
    run_spec,
)

# Impossible settings and missing data of a non-optional task fail here, before any job.
check_experiment(config)
TASKS_RUN, TASKS_SKIPPED = available_tasks(config) if experiment(config) else ([], {})
RUNS = run_names(config)
RUN_DIR = "results/runs/{task}/{variant}/seed{seed}"
REPORT_TARGETS = ["results/report.html"] if RUNS else []


CPU_COUNT = os.cpu_count() or 1


def _cores():
    return workflow.cores if isinstance(workflow.cores, int) else CPU_COUNT


def train_threads(wildcards):
    """Snakemake threads of a training job: when --cores exceeds the CPUs (e.g. --cores 8 on
    a 2-core laptop) each job claims cores / CPUs of them, so no more jobs run than CPUs."""
    configured = job_resources(config, wildcards.task, wildcards.variant)["threads"]
    if _cores() > CPU_COUNT:
        return min(_cores(), max(configured, _cores() // CPU_COUNT))
    return configured


def torch_threads(wildcards, threads):
    """CPU threads torch may use: the job's share of the real CPUs."""
    if _cores() > CPU_COUNT:
        return max(1, threads * CPU_COUNT // _cores())
    return threads


def run_metrics():
    return [f"results/runs/{t}/{v}/seed{s}/metrics.json" for t, v, s in RUNS]


def spec_json(wildcards):
    spec = run_spec(config, wildcards.task, wildcards.variant, int(wildcards.seed))
    return json.dumps(spec.to_dict(), sort_keys=True, indent=2)


def train_inputs(wildcards):
    spec = run_spec(config, wildcards.task, wildcards.variant, int(wildcards.seed))
    inputs = {"spec": f"{RUN_DIR}/spec.json".format(**wildcards),
              "data": f"results/data/{wildcards.task}.json"}
    if spec.model.get("retention"):
        inputs["retention"] = spec.model["retention"]
    return inputs
