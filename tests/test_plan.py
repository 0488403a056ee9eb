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
    with pytest.raises(ExperimentError, match="only listops, pathfinder can be generated"):
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


def test_task_t_is_filled_and_the_resolved_model_decides_the_retention_file(config):
    rmaat = run_spec(config, "listops", "rmaat", 0)
    assert rmaat.model["rf_segments"] == 4  # ceil(128 / 32)
    assert run_spec(config, "pathfinder", "rmt", 0).model["rf_segments"] == 8  # 1024 / 128
    assert "rf_segments" not in run_spec(config, "listops", "transformer", 0).model
    cfg = copy.deepcopy(config)
    cfg["experiment"]["variants"] = {
        "flat": {"preset": "rmaat", "model": {"rf_schedule": "flat"}},
        "stream": {"preset": "rmaat", "model": {"rf_mode": "streaming"}},
        "rmt_rf": {"preset": "rmt", "model": {"rf_mode": "delta"}},
        "bad": {"preset": "rmaat", "model": {"rf_mode": "streaming", "rf_schedule": "learned"}},
    }
    cfg = validate_config(cfg)
    assert "retention" not in run_spec(cfg, "listops", "flat", 0).model
    assert "retention" in run_spec(cfg, "listops", "stream", 0).model
    assert "retention" in run_spec(cfg, "listops", "rmt_rf", 0).model  # rmt with bio RF
    with pytest.raises(ExperimentError, match="model of bad on listops: rf_mode='streaming'"):
        run_spec(cfg, "listops", "bad", 0)


def test_schema_enums_are_the_model_lists():
    from model import config as mc

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    props = schema["$defs"]["model_settings"]["properties"]
    for key, allowed in (("rf_mode", mc.RF_MODES), ("rf_schedule", mc.RF_SCHEDULES),
                         ("rf_T", mc.RF_T), ("memory_handoff", mc.MEMORY_HANDOFFS),
                         ("norm", mc.NORMS), ("readout", mc.READOUTS),
                         ("driver", mc.DRIVERS)):
        assert tuple(props[key]["enum"]) == allowed, key


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
