"""The experiment section expands into the right runs and run settings."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from pipeline.config import ConfigError, validate_config
from tests.conftest import BROAD
from tests.test_workflow import REPO
from train.plan import (
    ExperimentError,
    available_tasks,
    check_experiment,
    prepare_commands,
    run_names,
    run_spec,
)


@pytest.fixture
def config() -> dict:
    return validate_config(yaml.safe_load(BROAD.read_text()))


def test_shipped_default_is_the_decisive_study():
    """config/config.yaml: both arms of each primary claim have >= 20 seeds, every claim's
    and every dose-response reference's variants run, and every dose value has its runs."""
    from train.plan import variant_seeds

    cfg = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    runs = run_names(cfg)
    variants = {v for _, v, _ in runs}
    claims = cfg["experiment"]["claims"]
    primary = [c for c in claims if c.get("primary")]
    assert len(primary) >= 2
    for claim in primary:
        for variant in claim["variants"]:
            assert len(variant_seeds(cfg, variant)) >= 20, (claim["id"], variant)
    for claim in claims:
        assert set(claim.get("variants", [])) <= variants, claim["id"]
    dose = cfg["experiment"]["dose_response"]
    assert set(dose["references"]) <= variants
    dosed = [v for v in variants if v.startswith(f"{dose['variant']}_dose_")]
    assert len(dosed) == len(dose["values"])


def test_default_experiment_runs_every_variant_on_every_task(config):
    tasks, skipped = available_tasks(config)
    assert set(tasks) == {"recall", "majority"} and not skipped
    runs = run_names(config)
    variants = {v for _, v, _ in runs}
    assert {"transformer", "rmt", "rlt", "rmaat", "rmaat_no_rf", "rmaat_gated"} <= variants
    assert ("majority", "rmaat_bptt", 0) in runs and ("recall", "rmaat_bptt", 0) not in runs
    # the claims study: >= 3 seeds per cell, every claim's variants run
    assert len(config["experiment"]["seeds"]) >= 3
    for claim in config["experiment"]["claims"]:
        for variant in claim.get("variants", []):
            assert variant in variants, (claim["id"], variant)


def test_settings_merge_experiment_then_task_then_variant(config):
    cfg = copy.deepcopy(config)
    cfg["experiment"]["tasks"]["majority"]["training"] = {"epochs": 7, "lr": 0.002}
    cfg["experiment"]["variants"]["rmaat_no_rf"]["training"] = {"lr": 0.001}
    spec = run_spec(cfg, "majority", "rmaat_no_rf", 0)
    assert spec.preset == "rmaat" and spec.variant == "rmaat_no_rf"
    assert spec.model["rf_mode"] == "none" and "retention" not in spec.model
    assert spec.model["segment_len"] == 16 and spec.epochs == 7 and spec.lr == 0.001
    assert run_spec(cfg, "majority", "rmaat", 0).lr == 0.002
    assert run_spec(cfg, "majority", "rmaat_seg8", 0).model["segment_len"] == 8
    rmaat = run_spec(config, "recall", "rmaat", 0)
    assert rmaat.model["retention"] == "results/retention/baseline.json"
    assert run_spec(config, "majority", "rmaat_slow_ltp", 0).model["retention"] == (
        "results/retention/slow_ltp.json")
    assert rmaat.epochs == 15 and rmaat.model["segment_len"] == 16  # recall's own epochs
    assert run_spec(config, "majority", "rmaat", 0).epochs == 5
    assert "threads" not in rmaat.to_dict()
    assert rmaat.model["readout"] == "memory"
    assert "readout" not in run_spec(config, "recall", "transformer", 0).model
    assert rmaat.config_hash() != run_spec(config, "recall", "rmaat", 1).config_hash()


def test_optional_missing_task_is_skipped_and_required_one_fails(config, tmp_path):
    cfg = copy.deepcopy(config)
    cfg["experiment"]["tasks"]["fashion_mnist"] = {"source": "files", "optional": True,
                                                   "root": str(tmp_path / "none")}
    tasks, skipped = available_tasks(cfg)
    assert "fashion_mnist" not in tasks and "not found" in skipped["fashion_mnist"]
    cfg["experiment"]["tasks"]["fashion_mnist"]["optional"] = False
    with pytest.raises(FileNotFoundError, match="fashion_mnist"):
        available_tasks(cfg)


def test_only_synthetic_tasks_can_be_generated(config):
    cfg = copy.deepcopy(config)
    cfg["experiment"]["tasks"]["text"] = {"source": "generate", "root": "data/x"}
    with pytest.raises(ExperimentError,
                       match="only listops, pathfinder, listops_long, recall, majority can be "
                             "generated"):
        available_tasks(cfg)


def test_prepare_commands_generate_then_preprocess(config):
    cmds = prepare_commands(config, "majority", "python", 3)
    assert "generate majority" in cmds[0] and "--votes 15" in cmds[0] and "--seed 3" in cmds[0]
    assert cmds[-1].startswith("python -m lra preprocess majority")
    # The token cache lives in the project, never under a (possibly read-only) data root.
    assert "--cache data/cache/majority" in cmds[-1]
    cfg = copy.deepcopy(config)
    cfg["experiment"]["tasks"]["fashion_mnist"] = {"source": "files", "root": "/data/fm",
                                                   "optional": True}
    fmnist = run_spec(cfg, "fashion_mnist", "rmt", 0)
    assert fmnist.cache_dir == "data/cache/fashion_mnist"
    assert not fmnist.cache_dir.startswith(fmnist.data_root)


@pytest.mark.parametrize(("path", "value", "message"), [
    (["experiment", "presets"], ["rmaat", "gpt"], "experiment.presets.1"),
    (["experiment", "tasks", "imagenet"], {"source": "files", "root": "x"}, "imagenet"),
    (["experiment", "training", "lr"], -1, "experiment.training.lr"),
    (["experiment", "model", "rf_mode"], "half", "allowed values: 'scalar', 'none', 'gated'"),
])
def test_bad_experiment_values_are_rejected(path, value, message):
    raw = yaml.safe_load(BROAD.read_text())
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ConfigError, match=message):
        validate_config(raw)


def test_only_runs_that_read_a_retention_file_depend_on_one(config):
    from model.config import needs_retention
    from model.presets import resolved_settings

    for variant in ("transformer", "rmt", "rlt", "rmaat_no_rf", "rmaat_flat"):
        spec = run_spec(config, "majority", variant, 0)
        assert "retention" not in spec.model, variant
        assert not needs_retention(resolved_settings(spec.preset, spec.model))
    for variant in ("rmaat", "rmaat_gated"):
        assert run_spec(config, "majority", variant, 0).model["retention"].endswith("baseline.json")
    cfg = copy.deepcopy(config)
    cfg["experiment"]["variants"]["rmt_rf"] = {"preset": "rmt", "model": {"rf_mode": "scalar"}}
    assert "retention" in run_spec(cfg, "majority", "rmt_rf", 0).model


def _raw() -> dict:
    return yaml.safe_load(BROAD.read_text())


@pytest.mark.parametrize("edit, key, message", [
    (lambda c: c["experiment"].update(seeds=[0, 0]), "experiment.seeds", "non-unique"),
    (lambda c: c["experiment"].update(presets=["rmt", "rmt"]), "experiment.presets",
     "non-unique"),
    (lambda c: c["retention"].update(compare_segments=65), "retention.compare_segments",
     "T = 1..64"),
    (lambda c: c["sweeps"]["gliotransmitter_coupling"].update(schedule_segments=[4, 100]),
     "sweeps.gliotransmitter_coupling.schedule_segments", "T = 100 segments"),
    (lambda c: c["simulation"]["constants"].update(tau_s="1e400 s"),
     "simulation.constants.tau_s", "not a finite number"),
    (lambda c: c["simulation"]["network"].update(n_pre=1000, n_post=1000),
     "simulation.network.n_pre", "coupling connections"),
    (lambda c: c["simulation"].update(cache_dir="/tmp/brian"), "simulation.cache_dir",
     "outside the project"),
    (lambda c: c["experiment"]["tasks"]["recall"].update(root="../../x"),
     "experiment.tasks.recall.root", "outside the project"),
])
def test_impossible_configs_stop_at_validation_naming_the_key(edit, key, message):
    raw = _raw()
    edit(raw)
    with pytest.raises(ConfigError, match=f"'{re.escape(key)}'.*{message}"):
        validate_config(raw)


def test_a_files_root_may_lie_outside_the_project(tmp_path):
    raw = _raw()
    raw["experiment"]["tasks"]["fashion_mnist"] = {"source": "files",
                                                   "root": str(tmp_path / "elsewhere")}
    validate_config(raw)


def _add_listops(exp: dict, **generate) -> None:
    """Add a generated ListOps task to an experiment, with these generator settings."""
    exp["tasks"]["listops"] = {"source": "generate", "root": "data/generated/listops",
                               "seq_len": 128, "segment_len": 32,
                               "generate": {"train": 10, "val": 5, "test": 5, "min_len": 20,
                                            "max_len": 128, "max_depth": 4, "max_args": 5,
                                            **generate}}


@pytest.mark.parametrize("edit, message", [
    (lambda e: e["variants"]["rmaat_bptt"].update(tasks=["majorityy"]),
     r"'experiment.variants.rmaat_bptt.tasks': \['majorityy'\] are not tasks"),
    (lambda e: _add_listops(e, max_depth=1),
     r"'experiment.tasks.listops.generate': ListOps settings cannot be satisfied"),
    (lambda e: _add_listops(e, min_len=120, max_depth=2),
     r"'experiment.tasks.listops.generate':.*reachable lengths"),
    (lambda e: e["model"].update(d_model=33),
     r"'experiment.model'.*run recall/transformer.*divisible by n_heads"),
    (lambda e: e["variants"]["rmaat_gated"].update(model={"n_heads": 5}),
     r"'experiment.variants.rmaat_gated.model'.*divisible by n_heads"),
    (lambda e: e.update(retention_condition="baselin"),
     r"'experiment.retention_condition': 'baselin' is not a condition"),
])
def test_impossible_experiments_stop_before_any_job_naming_the_key(config, edit, message):
    edit(config["experiment"])
    with pytest.raises(ExperimentError, match=message):
        check_experiment(config)


def test_the_shipped_configs_pass_the_semantic_checks():
    from pipeline.config import load_config

    for name in ("config.yaml", "test.yaml", "paper.yaml"):
        check_experiment(load_config(REPO / "config" / name))


def test_coupling_memory_is_checked_against_the_machine():
    from pipeline.config import check_network_memory

    check_network_memory({"n_pre": 30, "n_post": 30}, memory_bytes=2**30)  # 0.04 GiB
    with pytest.raises(ConfigError, match="n_post.*6,247,500 coupling connections, about 0.3 GiB"):
        check_network_memory({"n_pre": 50, "n_post": 50}, memory_bytes=2**28)


def test_default_compare_segments_follows_a_smaller_max_segments():
    raw = _raw()
    raw["retention"] = {"max_segments": 8}
    raw["sweeps"]["gliotransmitter_coupling"]["schedule_segments"] = [4, 8]
    assert validate_config(raw)["retention"]["compare_segments"] == 8


def test_task_t_is_filled_and_the_resolved_model_decides_the_retention_file(config):
    rmaat = run_spec(config, "majority", "rmaat", 0)
    assert rmaat.model["rf_segments"] == 8  # 128 / 16
    assert run_spec(config, "majority", "rmaat_seg32", 0).model["rf_segments"] == 4
    assert run_spec(config, "recall", "rmt", 0).model["rf_segments"] == 8
    assert "rf_segments" not in run_spec(config, "recall", "transformer", 0).model
    cfg = copy.deepcopy(config)
    cfg["experiment"]["variants"] = {
        "flat": {"preset": "rmaat", "model": {"rf_schedule": "flat"}},
        "stream": {"preset": "rmaat", "model": {"rf_mode": "streaming"}},
        "rmt_rf": {"preset": "rmt", "model": {"rf_mode": "delta"}},
        "bad": {"preset": "rmaat", "model": {"rf_mode": "streaming", "rf_schedule": "learned"}},
    }
    cfg = validate_config(cfg)
    assert "retention" not in run_spec(cfg, "majority", "flat", 0).model
    assert "retention" in run_spec(cfg, "majority", "stream", 0).model
    assert "retention" in run_spec(cfg, "majority", "rmt_rf", 0).model  # rmt with bio RF
    with pytest.raises(ExperimentError,
                       match=r"'experiment.variants.bad.model' \(run recall/bad\): "
                             "rf_mode='streaming'"):
        check_experiment(cfg)


def test_schema_enums_are_the_model_lists():
    from model import config as mc
    from model.presets import PRESETS

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    props = schema["$defs"]["model_settings"]["properties"]
    for key, allowed in (("rf_mode", mc.RF_MODES), ("rf_schedule", mc.RF_SCHEDULES),
                         ("rf_T", mc.RF_T), ("memory_handoff", mc.MEMORY_HANDOFFS),
                         ("norm", mc.NORMS), ("readout", mc.READOUTS),
                         ("driver", mc.DRIVERS)):
        assert tuple(props[key]["enum"]) == allowed, key
    # every model setting the config may give is a ModelConfig field
    assert set(props) <= set(mc.ModelConfig.field_names())
    # the presets a config may name are the model's presets, in the same order
    exp = schema["properties"]["experiment"]["properties"]
    assert tuple(exp["presets"]["items"]["enum"]) == tuple(PRESETS)
    variant = exp["variants"]["additionalProperties"]["properties"]
    assert tuple(variant["preset"]["enum"]) == tuple(PRESETS)


@pytest.mark.parametrize(("key", "value"), [("rf_mode", "learned"), ("rf_T", "task"),
                                            ("memory_handoff", "final"), ("norm", "sandwich"),
                                            ("rf_schedule", "bio2")])
def test_schema_rejects_unknown_model_options(config, key, value):
    cfg = copy.deepcopy(config)
    cfg["experiment"]["model"][key] = value
    with pytest.raises(ConfigError, match=key):
        validate_config(cfg)


def test_paper_config_segment_ablation_keeps_segments_and_shortens_context():
    cfg = validate_config(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    cfg["experiment"]["tasks"] = {"retrieval": {**cfg["experiment"]["tasks"]["retrieval"],
                                                "root": str(REPO)}}
    full = run_spec(cfg, "retrieval", "rmaat", 0)
    assert full.model["segment_len"] == 512 and full.model["rf_segments"] == 8  # x 2 docs
    assert full.model["astro_m"] == pytest.approx((512 + 16) ** 0.75, abs=0.1)
    for variant, seq_len, segments in (("rmaat_8_segments", 2048, 4),
                                       ("rmaat_4_segments", 1024, 2)):
        spec = run_spec(cfg, "retrieval", variant, 0)
        assert spec.seq_len == seq_len and spec.model["segment_len"] == 512
        assert spec.model["rf_segments"] == segments
    assert run_spec(cfg, "retrieval", "rmaat_m_100d", 0).model["astro_m"] == 12800


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
    ("majority", {"votes": 8, "classes": 2}, "generate: majority: 8 votes over 2 classes"),
    ("majority", {"length": 4, "votes": 5}, "cannot hold 5 votes"),
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
    assert run_spec(cfg, "majority", "rmaat_slow", 0).model["retention"] == \
        "results/retention/slow_ltp.json"
    assert run_spec(cfg, "majority", "rmaat", 0).model["retention"] == \
        "results/retention/baseline.json"
    cfg["experiment"]["variants"]["rmaat_slow"]["retention_condition"] = "nope"
    with pytest.raises(ExperimentError,
                       match="'experiment.variants.rmaat_slow.retention_condition': 'nope' "
                             "is not a condition"):
        run_spec(cfg, "majority", "rmaat_slow", 0)
