"""The experiment section expands into the right runs and run settings."""

from __future__ import annotations

import copy

import pytest
import yaml

from simulation.config import ConfigError, validate_config
from tests.test_workflow import REPO
from train.plan import ExperimentError, available_tasks, prepare_commands, run_names, run_spec


@pytest.fixture
def config() -> dict:
    return validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))


def test_default_experiment_runs_every_variant_on_every_task(config):
    tasks, skipped = available_tasks(config)
    assert {"listops", "pathfinder"} <= set(tasks)
    runs = run_names(config)
    variants = {v for _, v, _ in runs}
    assert {"transformer", "rmt", "rlt", "rmaat", "rmaat_no_rf", "rmaat_gated"} <= variants
    assert ("listops", "rmaat_bptt", 0) in runs and ("pathfinder", "rmaat_bptt", 0) not in runs


def test_settings_merge_experiment_then_task_then_variant(config):
    spec = run_spec(config, "listops", "rmaat_no_rf", 0)
    assert spec.preset == "rmaat" and spec.variant == "rmaat_no_rf"
    assert spec.model["rf_mode"] == "none" and "retention" not in spec.model
    assert spec.model["segment_len"] == 32 and spec.epochs == 10 and spec.lr == 0.003
    rmaat = run_spec(config, "pathfinder", "rmaat", 0)
    assert rmaat.model["retention"] == "results/retention/baseline.json"
    assert rmaat.epochs == 2 and rmaat.model["segment_len"] == 128
    assert "threads" not in rmaat.to_dict()
    assert rmaat.model["readout"] == "both"
    assert "readout" not in run_spec(config, "pathfinder", "transformer", 0).model
    assert rmaat.config_hash() != run_spec(config, "pathfinder", "rmaat", 1).config_hash()


def test_optional_missing_task_is_skipped_and_required_one_fails(config, tmp_path):
    cfg = copy.deepcopy(config)
    cfg["experiment"]["tasks"]["fashion_mnist"]["root"] = str(tmp_path / "none")
    tasks, skipped = available_tasks(cfg)
    assert "fashion_mnist" not in tasks and "not found" in skipped["fashion_mnist"]
    cfg["experiment"]["tasks"]["fashion_mnist"]["optional"] = False
    with pytest.raises(FileNotFoundError, match="fashion_mnist"):
        available_tasks(cfg)


def test_only_synthetic_tasks_can_be_generated(config):
    cfg = copy.deepcopy(config)
    cfg["experiment"]["tasks"]["text"] = {"source": "generate", "root": "data/x"}
    with pytest.raises(ExperimentError,
                       match="only listops, pathfinder, listops_long, recall can be generated"):
        available_tasks(cfg)


def test_prepare_commands_generate_then_preprocess(config):
    cmds = prepare_commands(config, "listops", "python", 3)
    assert "generate listops" in cmds[0] and "--max-len 128" in cmds[0] and "--seed 3" in cmds[0]
    assert cmds[-1].startswith("python -m lra preprocess listops")
    # The token cache lives in the project, never under a (possibly read-only) data root.
    assert "--cache data/cache/listops" in cmds[-1]
    fmnist = run_spec(config, "fashion_mnist", "rmt", 0)
    assert fmnist.cache_dir == "data/cache/fashion_mnist"
    assert not fmnist.cache_dir.startswith(fmnist.data_root)


@pytest.mark.parametrize(("path", "value", "message"), [
    (["experiment", "presets"], ["rmaat", "gpt"], "experiment.presets.1"),
    (["experiment", "tasks", "imagenet"], {"source": "files", "root": "x"}, "imagenet"),
    (["experiment", "training", "lr"], -1, "experiment.training.lr"),
    (["experiment", "model", "rf_mode"], "half", "allowed values: 'scalar', 'none', 'gated'"),
])
def test_bad_experiment_values_are_rejected(path, value, message):
    raw = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        validate_config(raw)


def _with_long_tasks(config: dict) -> dict:
    cfg = copy.deepcopy(config)
    cfg["experiment"]["tasks"]["recall"] = {
        "source": "generate", "root": "data/generated/recall", "segment_len": 32,
        "generate": {"train": 100, "val": 20, "test": 20, "length": 256, "pairs": 2,
                     "keys": 4, "values": 4}}
    cfg["experiment"]["tasks"]["listops_long"] = {
        "source": "generate", "root": "data/generated/listops_long", "segment_len": 64,
        "generate": {"train": 100, "val": 20, "test": 20, "min_len": 256, "max_len": 1024,
                     "max_depth": 10, "max_args": 10}}
    return validate_config(cfg)


def test_long_range_tasks_generate_then_preprocess(config):
    cfg = _with_long_tasks(config)
    assert {"recall", "listops_long"} <= set(available_tasks(cfg)[0])
    recall = prepare_commands(cfg, "recall", "python", 5)
    assert recall[0].startswith("python -m lra generate recall --quiet --out data/generated/recall")
    assert "--length 256" in recall[0] and "--pairs 2" in recall[0] and "--seed 5" in recall[0]
    assert recall[-1].startswith("python -m lra preprocess recall")
    long = prepare_commands(cfg, "listops_long", "python", 5)
    assert "generate listops --out data/generated/listops_long/listops-1000" in long[0]
    assert "--max-len 1024" in long[0] and "lra preprocess listops_long" in long[-1]
    assert "associative recall" in run_spec(cfg, "recall", "rmt", 0).data_note


@pytest.mark.parametrize("task, gen, message", [
    ("recall", {"pairs": 5, "keys": 4}, "every pair needs its own key"),
    ("recall", {"length": 8, "pairs": 4, "keys": 4}, "cannot hold 4 pairs"),
    ("listops_long", {"max_len": 2000}, "exceeds the task's 1,024 tokens"),
    ("listops_long", {"max_depth": 3, "max_args": 5, "min_len": 256}, "at most 37 tokens"),
])
def test_impossible_generator_settings_fail_before_any_job(config, task, gen, message):
    cfg = _with_long_tasks(config)
    cfg["experiment"]["tasks"][task]["generate"].update(gen)
    with pytest.raises(ExperimentError, match=message):
        prepare_commands(cfg, task, "python", 0)


def test_variant_reads_its_own_retention_condition(config):
    cfg = copy.deepcopy(config)
    cfg["experiment"]["variants"]["rmaat_slow"] = {"preset": "rmaat",
                                                   "retention_condition": "slow_ltp"}
    cfg = validate_config(cfg)
    assert run_spec(cfg, "listops", "rmaat_slow", 0).model["retention"] == \
        "results/retention/slow_ltp.json"
    assert run_spec(cfg, "listops", "rmaat", 0).model["retention"] == \
        "results/retention/baseline.json"
    cfg["experiment"]["variants"]["rmaat_slow"]["retention_condition"] = "nope"
    with pytest.raises(ExperimentError,
                       match="variants.rmaat_slow.retention_condition: unknown condition 'nope'"):
        run_spec(cfg, "listops", "rmaat_slow", 0)
