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
CLAIMS = (experiment(config) or {}).get("claims") or [] if RUNS else []
CLAIMS_TARGETS = ["results/claims.csv", "results/claims.md"] if CLAIMS else []
MEMORY_CLAIMS = [c for c in CLAIMS if c["test"] == "memory"]


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


def claims_memory_csv():
    """The memory benchmark CSV a memory claim reads (none without such a claim)."""
    return ["results/benchmarks/claims_memory.csv"] if MEMORY_CLAIMS else []


def bench_memory_args():
    """bench_memory options: the experiment's model size, the claim's numbers of segments."""
    model = dict((experiment(config) or {}).get("model") or {})
    claim = MEMORY_CLAIMS[0]
    segments = " ".join(str(s) for s in claim.get("segments", [4, 16]))
    return (f"--segments {segments} --drivers bptt amrb --repeats 1 "
            f"--d-model {model.get('d_model', 64)} --layers {model.get('n_layers', 2)} "
            f"--heads {model.get('n_heads', 4)} --mem-tokens {model.get('num_mem_tokens', 4)} "
            f"--segment-len {claim.get('segment_len', 64)} --batch {claim.get('batch', 8)}")
