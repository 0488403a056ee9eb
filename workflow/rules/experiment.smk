# Helpers of stage 4 (the rules are in train.smk).
import json
import os
import sys

from train.plan import (
    available_tasks,
    check_experiment,
    experiment,
    job_resources,
    missing_data,
    prepare_commands,
    run_names,
    run_spec,
)

# Impossible settings fail here, before any job. Missing data of a non-optional task does not
# stop the parse: a dry run (-n) lists the whole plan and what is missing; a real run stops in
# `onstart` (which dry runs never call), before any job, with the instructions.
check_experiment(config)
MISSING_DATA = missing_data(config)
TASKS_RUN, TASKS_SKIPPED = (
    available_tasks(config, missing_ok=True) if experiment(config) else ([], {})
)
RUNS = run_names(config, missing_ok=True)
if MISSING_DATA:
    print(
        "warning: data missing; the plan below includes these tasks, but a run stops before "
        "any job until the data is in place:\n"
        + "\n".join(f"  - {why}" for why in MISSING_DATA.values()),
        file=sys.stderr,
    )


onstart:
    if MISSING_DATA:
        print(
            "error: data missing, nothing was run:\n"
            + "\n".join(f"  - {why}" for why in MISSING_DATA.values())
            + "\nPut the data in place (or mark the task optional: true) and rerun.",
            file=sys.stderr,
        )
        raise SystemExit(1)

RUN_DIR = "results/runs/{task}/{variant}/seed{seed}"
REPORT_TARGETS = ["results/report.html"]
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


def report_inputs(wildcards):
    """Every file the report reads, by name (the report never lists a folder)."""
    plots = [
        "results/plots/conditions.png",
        *[f"results/plots/{c}/{p}.png" for c in CONDITIONS for p in ("fit", "traces", "schedules")],
    ]
    sweep_plots = [
        *[t for t in SWEEP_TARGETS if t.endswith(".png")],
        *[
            f"results/sweeps/{s}/{p}.png"
            for s in SWEEPS
            for p in ("fit_vs_parameter", "ltp_curves", "schedules")
        ],
    ]
    benchmarks = [
        *[f"results/benchmarks/rules/simulate/{c}.tsv" for c in CONDITIONS],
        *[
            f"results/benchmarks/rules/sweep_simulate/{s}/{p}.tsv"
            for s in SWEEPS
            for p in SWEEP_POINTS[s]
        ],
        *[f"results/benchmarks/rules/train/{t}/{v}/seed{s}.tsv" for t, v, s in RUNS],
        *[f"results/benchmarks/rules/sensitivity/{c}.tsv" for c in SENSITIVITY_CONDITIONS],
        *claims_memory_csv(),
    ]
    inputs = {
        "retention": expand("results/retention/{condition}.json", condition=CONDITIONS),
        "plots": plots,
        "sweep_tables": [f"results/sweeps/{s}/table.csv" for s in SWEEPS],
        "sweep_plots": sweep_plots,
        "metrics": run_metrics(),
        "benchmarks": benchmarks,
        "sensitivity": [
            f"results/sensitivity/{c}.{ext}"
            for c in SENSITIVITY_CONDITIONS
            for ext in ("csv", "json", "png")
        ],
    }
    if RUNS:
        inputs["accuracy"] = "results/tables/accuracy.csv"
        inputs["runs"] = "results/tables/runs.csv"
    if CLAIMS:
        inputs["claims"] = "results/claims.csv"
    return inputs


def report_options(wildcards, input):
    """The report's command-line options: one per kind of input, with its files."""
    options = []
    for key in ("retention", "plots", "sweep_tables", "sweep_plots", "metrics", "benchmarks",
                "accuracy", "runs", "claims", "sensitivity"):
        files = input.get(key)
        if files:
            files = [files] if isinstance(files, str) else list(files)
            flag = key.replace("_", "-")
            options.append(f"--{flag} {' '.join(shlex.quote(f) for f in files)}")
    return " ".join(options)
