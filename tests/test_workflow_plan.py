"""The workflow's plan (workflow/plan.py): what the rules read, tested without Snakemake."""

from __future__ import annotations

import json
import shlex
from types import SimpleNamespace

import pytest

from pipeline.config import validate_config
from tests.conftest import with_value
from train.plan import run_names, run_spec
from workflow import plan as plan_module
from workflow.plan import RUN_DIR, Plan


@pytest.fixture
def config(broad_config) -> dict:
    return validate_config(broad_config)


def _run(task: str, variant: str, seed: int = 0) -> SimpleNamespace:
    return SimpleNamespace(task=task, variant=variant, seed=str(seed))


def test_the_plan_holds_every_run_and_its_files(config):
    plan = Plan(config, python="PY")
    assert plan.runs == run_names(config) and plan.conditions == list(config["conditions"])
    assert plan.run_metrics() == [f"results/runs/{t}/{v}/seed{s}/metrics.json"
                                  for t, v, s in plan.runs]
    w = _run("majority", "rmaat", 1)
    spec = run_spec(config, "majority", "rmaat", 1)
    assert json.loads(plan.spec_json(w)) == spec.to_dict()
    assert plan.train_inputs(w) == {"spec": RUN_DIR.format(task="majority", variant="rmaat",
                                                          seed="1") + "/spec.json",
                                    "data": "results/data/majority.json",
                                    "retention": "results/retention/baseline.json"}
    assert "retention" not in plan.train_inputs(_run("majority", "rmt"))
    assert plan.generate_commands(w).startswith("PY -m lra generate majority")
    assert plan.preprocess_command(w).startswith("PY -m lra preprocess majority")
    assert (plan.mem_mb(w), plan.runtime_min(w), plan.gpus(w)) == (4000, 60, 0)
    assert json.loads(plan.claims_json()) == {
        "claims": config["experiment"]["claims"],
        "statistics": config["experiment"].get("statistics", {})}
    assert plan.skipped_json() == "{}" and plan.missing_data_warning() == ""


def test_report_inputs_name_every_file_the_report_reads(config):
    plan = Plan(config)
    inputs = plan.report_inputs()
    assert inputs["retention"] == [f"results/retention/{c}.json" for c in plan.conditions]
    assert inputs["metrics"] == plan.run_metrics()
    assert "results/plots/baseline/fit.png" in inputs["plots"]
    train_tsvs = [b for b in inputs["benchmarks"] if "/rules/train/" in b]
    assert len(train_tsvs) == len(plan.runs)
    # the memory and speed claims' measurements
    assert inputs["benchmarks"][-2:] == ["results/benchmarks/claims_memory.csv",
                                         "results/benchmarks/claims_speed.csv"]
    assert inputs["claims"] == "results/claims.csv"
    for sweep in plan.sweeps:
        assert f"results/sweeps/{sweep}/table.csv" in inputs["sweep_tables"]
    options = Plan.report_options(None, {**inputs, "retention": ["a b.json", "c.json"]})
    assert options.startswith("--retention 'a b.json' c.json --plots ")
    assert f"--claims {shlex.quote(inputs['claims'])}" in options


def test_dose_response_files_reach_the_report_only_when_planned(config, broad_config):
    """The report reads results/dose_response.{csv,json} (--dose-response) when the
    experiment has a dose_response section, and asks for nothing otherwise."""
    plain = Plan({**config, "experiment": {k: v for k, v in config["experiment"].items()
                                           if k != "dose_response"}})
    assert plain.dose_response_files() == [] and plain.report_inputs()["dose_response"] == []
    assert "--dose-response" not in Plan.report_options(None, plain.report_inputs())
    dosed = Plan(validate_config(with_value(
        broad_config, ["experiment", "dose_response"],
        {"parameter": "constants.tau_pl", "values": ["2 s", "8 s"], "variant": "rmaat",
         "task": "majority", "seeds": 1})))
    files = ["results/dose_response.csv", "results/dose_response.json"]
    assert dosed.dose_response_files() == files
    assert dosed.report_inputs()["dose_response"] == files
    options = Plan.report_options(None, dosed.report_inputs())
    assert options.endswith("--dose-response " + " ".join(files))


def test_a_config_without_experiment_plans_no_runs_and_no_claims(config):
    bare = {k: v for k, v in config.items() if k != "experiment"}
    plan = Plan(bare)
    assert plan.runs == [] and plan.claims == [] and plan.run_metrics() == []
    inputs = plan.report_inputs()
    assert "accuracy" not in inputs and "claims" not in inputs and inputs["metrics"] == []


def test_missing_data_is_planned_and_named(config, tmp_path):
    cfg = with_value(config, ["experiment", "tasks", "fashion_mnist"],
                     {"source": "files", "root": str(tmp_path / "none")})
    plan = Plan(cfg)
    assert "fashion_mnist" in plan.missing_data
    assert any(t == "fashion_mnist" for t, _, _ in plan.runs)  # a dry run shows the plan
    assert plan.missing_data_warning().startswith("warning: data missing")
    assert plan.missing_data_error().startswith("error: data missing, nothing was run")


def test_threads_split_the_cpus_when_cores_exceed_them(config, monkeypatch):
    monkeypatch.setattr(plan_module, "CPU_COUNT", 2)
    assert plan_module.train_threads(1, 8) == 4 and plan_module.torch_threads(4, 8) == 1
    assert plan_module.train_threads(1, 2) == 1 and plan_module.torch_threads(3, 2) == 3
    asked = []
    plan = Plan(config, cores=lambda: asked.append(1) or 8)
    assert asked == []  # --cores is asked only when a job's threads are
    w = _run("majority", "rmaat")
    assert plan.train_threads(w) == 4 and plan.torch_threads(w, 4) == 1 and asked
    assert Plan(config, cores=lambda: None).cores() is None  # unset


def test_on_a_cluster_cores_never_sizes_a_training_job(config, monkeypatch):
    """The missing-cores defect: without --cores (a Slurm run) the plan must not ask
    workflow.cores; a --cores given anyway does not inflate the request."""
    monkeypatch.setattr(plan_module, "CPU_COUNT", 2)
    w = _run("majority", "rmaat")
    configured = plan_module.job_resources(config, "majority", "rmaat")["threads"]
    for cores in (None, 16):
        plan = Plan(config, cores=lambda c=cores: c, local=lambda: False)
        assert plan.train_threads(w) == configured and plan.torch_threads(w, 3) == 3


def test_bench_memory_args_of_the_default_config_are_unchanged(config):
    """The default config sets the model size, so the memory benchmark runs as before."""
    assert Plan(config).bench_memory_args() == (
        "--segments 4 16 --drivers bptt amrb --repeats 1 --d-model 32 --layers 1 --heads 2 "
        "--mem-tokens 4 --segment-len 64 --batch 8")


def test_bench_memory_defaults_come_from_the_model_config(config):
    """Where the config sets no model size, the benchmark measures the model the runs would
    build (ModelConfig's 128 wide, 2 layers, 4 heads, 8 memory tokens), not 64 / 4 tokens."""
    from model.config import ModelConfig

    cfg = with_value(config, ["experiment", "model"], {"dropout": 0.0})
    args = Plan(cfg).bench_memory_args().split()
    value = {flag: args[args.index(flag) + 1] for flag in
             ("--d-model", "--layers", "--heads", "--mem-tokens")}
    defaults = ModelConfig(vocab_size=2, num_classes=2)
    assert value == {"--d-model": str(defaults.d_model), "--layers": str(defaults.n_layers),
                     "--heads": str(defaults.n_heads),
                     "--mem-tokens": str(defaults.num_mem_tokens)}
    assert value["--d-model"] == "128" and value["--mem-tokens"] == "8"
