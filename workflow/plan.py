"""The workflow's plan: what every rule needs, computed once from the validated config.

The Snakefile builds one :class:`Plan` (``PLAN``) and the rules call its attributes and
methods, so that ``workflow/rules/*.smk`` stay declarative and the planning is tested
without Snakemake (``tests/test_workflow_plan.py``). Methods that take ``wildcards`` are
Snakemake input / params / resources functions (any object with the wildcards as
attributes will do). Nothing here imports torch: the Snakefile is parsed for every job.

The training runs themselves (config -> run specs, data jobs, resources) are expanded by
``train.plan``; the plan adds the jobs' files, the analysis and the report around them.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from typing import Any

from model.presets import resolved_settings
from pipeline.cluster import job_threads
from pipeline.cluster import torch_threads as cluster_torch_threads
from pipeline.config import condition_names, dump_resolved, resolve_condition
from pipeline.dose import dose_block, dose_points, value_at
from pipeline.parameters import run_parameters
from pipeline.sensitivity import sensitivity_conditions
from pipeline.sweeps import expand_sweep, sweep_names, sweep_targets
from train.plan import (
    available_tasks,
    check_experiment,
    experiment,
    job_resources,
    missing_data,
    prepare_commands,
    retention_condition,
    run_names,
    run_spec,
)

#: Folder of one training run (Snakemake wildcards task, variant, seed).
RUN_DIR = "results/runs/{task}/{variant}/seed{seed}"
#: The preset `python -m benchmarks.bench_memory` measures (its default; the plan passes none).
BENCH_MEMORY_PRESET = "rmaat"
#: The report's options, one per kind of input, in the order they are passed.
REPORT_OPTIONS = ("retention", "plots", "sweep_tables", "sweep_plots", "metrics", "benchmarks",
                  "accuracy", "runs", "claims", "sensitivity", "dose_response")
#: The files of the dose-response analysis (issue 24), as the report reads them.
DOSE_RESPONSE_FILES = ["results/dose_response.csv", "results/dose_response.json"]

CPU_COUNT = os.cpu_count() or 1


def train_threads(configured: int, cores: int | None, local: bool = True) -> int:
    """Snakemake threads of a training job (``pipeline.cluster.job_threads``): on a cluster
    its configured threads; locally, when --cores exceeds the CPUs (e.g. --cores 8 on a
    2-core laptop), each job claims cores / CPUs of them, so no more jobs run than CPUs."""
    return job_threads(configured, local=local, cores=cores, cpus=CPU_COUNT)


def torch_threads(threads: int, cores: int | None, local: bool = True) -> int:
    """CPU threads torch may use: the job's share of the real CPUs
    (``pipeline.cluster.torch_threads``)."""
    return cluster_torch_threads(threads, local=local, cores=cores, cpus=CPU_COUNT)


class Plan:
    """Every job of a validated config and the files that join them.

    ``python``: the command that runs a stage (interpreter, with its environment);
    ``cores``: returns Snakemake's ``--cores`` when called (None when unset, as on a cluster;
    asked only when a training job's threads are); ``local``: returns whether Snakemake runs
    the jobs on this machine (``workflow.local_exec``; on a cluster --cores never sizes a job).
    Raises ``train.plan.ExperimentError`` for an impossible experiment (before any job).
    """

    def __init__(self, config: dict[str, Any], python: str = "python",
                 cores: Callable[[], Any] | None = None,
                 local: Callable[[], bool] | None = None) -> None:
        self.config = config
        self.python = python
        self._cores = cores or (lambda: CPU_COUNT)
        self._local = local or (lambda: True)
        self.conditions: list[str] = condition_names(config)
        self.sweeps: list[str] = sweep_names(config)
        self.sweep_expanded = {name: expand_sweep(config, name) for name in self.sweeps}
        self.sweep_points = {name: [p["point"] for p in points]
                             for name, points in self.sweep_expanded.items()}
        self.sweep_targets: list[str] = sweep_targets(config)
        self.sensitivity_conditions: list[str] = sensitivity_conditions(config)
        # Impossible settings fail here, before any job. Missing data of a non-optional task
        # does not stop the plan: a dry run lists it all (see missing_data_warning).
        check_experiment(config)
        self.missing_data: dict[str, str] = missing_data(config)
        self.tasks_run, self.tasks_skipped = (
            available_tasks(config, missing_ok=True) if experiment(config) else ([], {}))
        self.runs: list[tuple[str, str, int]] = run_names(config, missing_ok=True)
        self.claims: list[dict[str, Any]] = (
            (experiment(config) or {}).get("claims") or [] if self.runs else [])
        self.memory_claims = [c for c in self.claims if c["test"] == "memory"]
        self.speed_claims = [c for c in self.claims if c["test"] == "faster"]
        self.dose = dose_block(config) if self.runs else None
        self.dose_points = dose_points(config) if self.dose else []

    # --- targets -------------------------------------------------------------------------
    @property
    def report_targets(self) -> list[str]:
        """The report (the last file of the DAG)."""
        return ["results/report.html"]

    # --- conditions ----------------------------------------------------------------------
    def condition_params(self, wildcards: Any) -> str:
        """Full parameters of one condition (JSON); a change reruns only its jobs."""
        return dump_resolved(resolve_condition(self.config, wildcards.condition))

    def readout_quantity(self, wildcards: Any) -> str:
        """What a condition's readout holds: p_l (rate model) or the tripartite readout."""
        return run_parameters(resolve_condition(self.config, wildcards.condition)).readout

    # --- data ----------------------------------------------------------------------------
    def missing_data_warning(self) -> str:
        """What a dry run prints when task data is missing ("" when nothing is)."""
        if not self.missing_data:
            return ""
        return ("warning: data missing; the plan below includes these tasks, but a run stops "
                "before any job until the data is in place:\n"
                + "\n".join(f"  - {why}" for why in self.missing_data.values()))

    def missing_data_error(self) -> str:
        """What a real run prints before stopping when task data is missing."""
        return ("error: data missing, nothing was run:\n"
                + "\n".join(f"  - {why}" for why in self.missing_data.values())
                + "\nPut the data in place (or mark the task optional: true) and rerun.")

    def task_config_json(self, wildcards: Any) -> str:
        """A task's settings (JSON); a change rebuilds its data."""
        return json.dumps(experiment(self.config)["tasks"][wildcards.task], sort_keys=True)

    def _prepare(self, task: str) -> list[str]:
        return prepare_commands(self.config, task, self.python, self.config.get("seed", 0))

    def generate_commands(self, wildcards: Any) -> str:
        """Shell commands that generate a task's data ("true" for files on disk)."""
        return " && ".join(self._prepare(wildcards.task)[:-1] or ["true"])

    def preprocess_command(self, wildcards: Any) -> str:
        """The shell command that builds a task's token cache."""
        return self._prepare(wildcards.task)[-1]

    # --- training runs -------------------------------------------------------------------
    def spec_json(self, wildcards: Any) -> str:
        """The run spec of one run (JSON, keys sorted); a change reruns only that run."""
        spec = run_spec(self.config, wildcards.task, wildcards.variant, int(wildcards.seed))
        return json.dumps(spec.to_dict(), sort_keys=True, indent=2)

    def train_inputs(self, wildcards: Any) -> dict[str, str]:
        """Files a run reads: its spec, its data, and its retention file when it reads one."""
        spec = run_spec(self.config, wildcards.task, wildcards.variant, int(wildcards.seed))
        inputs = {"spec": f"{RUN_DIR}/spec.json".format(**_fields(wildcards)),
                  "data": f"results/data/{wildcards.task}.json"}
        if spec.model.get("retention"):
            inputs["retention"] = spec.model["retention"]
        return inputs

    def _resources(self, wildcards: Any) -> dict[str, int]:
        return job_resources(self.config, wildcards.task, wildcards.variant)

    def cores(self) -> int | None:
        """Snakemake's --cores (None when it is not a number: unset, as on a cluster)."""
        cores = self._cores()
        return cores if isinstance(cores, int) and not isinstance(cores, bool) else None

    def train_threads(self, wildcards: Any) -> int:
        """Snakemake threads of a training job (:func:`train_threads`)."""
        return train_threads(self._resources(wildcards)["threads"], self.cores(), self._local())

    def torch_threads(self, wildcards: Any, threads: int) -> int:
        """CPU threads torch may use in a training job (:func:`torch_threads`)."""
        return torch_threads(threads, self.cores(), self._local())

    def mem_mb(self, wildcards: Any) -> int:
        """Memory of a training job, MB."""
        return self._resources(wildcards)["mem_mb"]

    def runtime_min(self, wildcards: Any) -> int:
        """Run time limit of a training job, minutes."""
        return self._resources(wildcards)["runtime_min"]

    def gpus(self, wildcards: Any) -> int:
        """GPUs of a training job."""
        return self._resources(wildcards)["gpus"]

    # --- analysis ------------------------------------------------------------------------
    def run_metrics(self) -> list[str]:
        """metrics.json of every run, in plan order (the tables' order)."""
        return [f"results/runs/{t}/{v}/seed{s}/metrics.json" for t, v, s in self.runs]

    def skipped_json(self) -> str:
        """{task: reason} of the optional tasks skipped for missing data (JSON)."""
        return json.dumps(self.tasks_skipped)

    def claims_json(self) -> str:
        """The experiment.claims list and experiment.statistics (JSON, the form ``python -m
        analysis claims --claims`` reads); a change reruns only the scorecard."""
        statistics = (experiment(self.config) or {}).get("statistics") or {}
        return json.dumps({"claims": self.claims, "statistics": statistics}, sort_keys=True,
                          indent=1)

    def claims_memory_csv(self) -> list[str]:
        """The memory benchmark CSV a memory claim reads (none without such a claim)."""
        return ["results/benchmarks/claims_memory.csv"] if self.memory_claims else []

    def bench_memory_args(self) -> str:
        """bench_memory options: the experiment's model size (where the config sets none, the
        preset's, i.e. ModelConfig's, default: the model the runs would build) and the memory
        claim's numbers of segments."""
        model = resolved_settings(BENCH_MEMORY_PRESET,
                                  dict((experiment(self.config) or {}).get("model") or {}))
        claim = self.memory_claims[0]
        segments = " ".join(str(s) for s in claim.get("segments", [4, 16]))
        return (f"--segments {segments} --drivers bptt amrb --repeats 1 "
                f"--d-model {model['d_model']} --layers {model['n_layers']} "
                f"--heads {model['n_heads']} --mem-tokens {model['num_mem_tokens']} "
                f"--segment-len {claim.get('segment_len', 64)} --batch {claim.get('batch', 8)}")

    @staticmethod
    def memory_csv_option(wildcards: Any, input: Any) -> str:
        """The claims command's --memory-csv option (empty without a memory benchmark)."""
        return f"--memory-csv {input.memory[0]}" if input.memory else ""

    def claims_speed_csv(self) -> list[str]:
        """The speed benchmark CSV a speed claim reads (none without such a claim)."""
        return ["results/benchmarks/claims_speed.csv"] if self.speed_claims else []

    def bench_speed_args(self) -> str:
        """bench_speed_claim options: the speed claim's segments, segment length, batch and
        repeats (the paper's 16 x 512 tokens unless the claim says otherwise), the
        benchmark's own CPU-sized model (benchmarks/bench_speed_claim.py)."""
        claim = self.speed_claims[0]
        return (f"--segments {claim.get('segments', [16])[-1]} "
                f"--segment-len {claim.get('segment_len', 512)} "
                f"--batch {claim.get('batch', 1)} --repeats {claim.get('repeats', 3)}")

    @staticmethod
    def speed_csv_option(wildcards: Any, input: Any) -> str:
        """The claims command's --speed-csv option (empty without a speed benchmark)."""
        return f"--speed-csv {input.speed[0]}" if input.speed else ""

    # --- dose-response (biology -> model) -------------------------------------------------
    @property
    def dose_targets(self) -> list[str]:
        """The dose-response table and its trend summary (none without the block)."""
        return list(DOSE_RESPONSE_FILES) if self.dose else []

    def dose_response_files(self) -> list[str]:
        """The dose-response table and summary the report reads (none without an
        ``experiment.dose_response`` block); the rule that writes them lists the same."""
        return self.dose_targets

    def _dose_references(self) -> list[dict[str, str]]:
        """{"variant", "kind"} of each reference: kind flat (rf_schedule flat), no_rf
        (rf_mode none) or the variant's own name, from its resolved settings."""
        out = []
        for name in self.dose.get("references") or []:
            spec = run_spec(self.config, self.dose["task"], name, 0)
            model = resolved_settings(spec.preset, spec.model)
            kind = ("no_rf" if model["rf_mode"] == "none" else
                    "flat" if model["rf_schedule"] == "flat" else name)
            out.append({"variant": name, "kind": kind})
        return out

    def dose_config_json(self) -> str:
        """The dose-response plan (JSON) that ``python -m analysis dose-response`` reads:
        parameter, task, T, the base point and every value's condition and variant."""
        block = self.dose
        # the base point: the variant's own runs, on its retention condition's schedule
        base = retention_condition(self.config, block["variant"])
        node = value_at(resolve_condition(self.config, base), block["parameter"])
        if node is None:  # e.g. a tripartite parameter, the variant on a rate-model schedule
            node = f"({base})"
        spec = run_spec(self.config, block["task"], block["variant"], 0)
        seq_len, seg = spec.seq_len, spec.model["segment_len"]
        plan = {"parameter": block["parameter"], "task": block["task"],
                "variant": block["variant"], "segments": -(-seq_len // seg),
                "base_condition": base,
                "base_value": node, "points": self.dose_points,
                "references": self._dose_references()}
        return json.dumps(plan, sort_keys=True, indent=1)

    def dose_metrics(self) -> list[str]:
        """metrics.json of every run the dose-response reads (the variant, each value's
        variant and the references, on the block's task)."""
        names = {self.dose["variant"], *(p["variant"] for p in self.dose_points),
                 *(self.dose.get("references") or [])}
        return [f"results/runs/{t}/{v}/seed{s}/metrics.json" for t, v, s in self.runs
                if v in names and t == self.dose["task"]]

    def dose_retention(self) -> list[str]:
        """Retention files of the base point's condition and of every value's condition."""
        conditions = [retention_condition(self.config, self.dose["variant"]),
                      *(p["condition"] for p in self.dose_points)]
        return [f"results/retention/{c}.json" for c in conditions]

    # --- report --------------------------------------------------------------------------
    def report_inputs(self, wildcards: Any = None) -> dict[str, Any]:
        """Every file the report reads, by kind (the report never lists a folder)."""
        plots = ["results/plots/conditions.png",
                 *[f"results/plots/{c}/{p}.png" for c in self.conditions
                   for p in ("fit", "traces", "schedules")]]
        sweep_plots = [*[t for t in self.sweep_targets if t.endswith(".png")],
                       *[f"results/sweeps/{s}/{p}.png" for s in self.sweeps
                         for p in ("fit_vs_parameter", "ltp_curves", "schedules")]]
        benchmarks = [
            *[f"results/benchmarks/rules/simulate/{c}.tsv" for c in self.conditions],
            *[f"results/benchmarks/rules/sweep_simulate/{s}/{p}.tsv" for s in self.sweeps
              for p in self.sweep_points[s]],
            *[f"results/benchmarks/rules/train/{t}/{v}/seed{s}.tsv" for t, v, s in self.runs],
            *[f"results/benchmarks/rules/sensitivity/{c}.tsv"
              for c in self.sensitivity_conditions],
            *self.claims_memory_csv(),
            *self.claims_speed_csv(),
        ]
        inputs: dict[str, Any] = {
            "retention": [f"results/retention/{c}.json" for c in self.conditions],
            "plots": plots,
            "sweep_tables": [f"results/sweeps/{s}/table.csv" for s in self.sweeps],
            "sweep_plots": sweep_plots,
            "metrics": self.run_metrics(),
            "benchmarks": benchmarks,
            "sensitivity": [f"results/sensitivity/{c}.{ext}" for c in self.sensitivity_conditions
                            for ext in ("csv", "json", "png")],
            "dose_response": self.dose_response_files(),
        }
        if self.runs:
            inputs["accuracy"] = "results/tables/accuracy.csv"
            inputs["runs"] = "results/tables/runs.csv"
        if self.claims:
            inputs["claims"] = "results/claims.csv"
        return inputs

    @staticmethod
    def report_options(wildcards: Any, input: Any) -> str:
        """The report's command-line options: one per kind of input, with its files."""
        options = []
        for key in REPORT_OPTIONS:
            files = input.get(key)
            if files:
                files = [files] if isinstance(files, str) else list(files)
                flag = key.replace("_", "-")
                options.append(f"--{flag} {' '.join(shlex.quote(f) for f in files)}")
        return " ".join(options)


def _fields(wildcards: Any) -> dict[str, str]:
    """The run wildcards as a dict (Snakemake's Wildcards or any object with attributes)."""
    return {name: getattr(wildcards, name) for name in ("task", "variant", "seed")}
