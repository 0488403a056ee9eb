"""config/test.yaml exercises RF: its ListOps examples span several segments, so rmaat and
rmaat without RF are different models (the CI's RF claim compares two models, not one)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml

from lra.listops_generator import ListOpsSettings, generate_listops_release
from model.retention import write_retention_json
from pipeline.config import validate_config
from train.data import lengths_of, run_datasets
from train.loop import build_run_model, evaluate
from train.plan import run_spec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]


def test_tiny_listops_spans_two_segments_and_rf_changes_the_predictions(tmp_path):
    config = validate_config(yaml.safe_load((REPO / "config" / "test.yaml").read_text()))
    config = copy.deepcopy(config)
    gen = config["experiment"]["tasks"]["listops"]["generate"]
    generate_listops_release(tmp_path / "listops" / "listops-1000", ListOpsSettings(
        n_train=gen["train"], n_val=gen["val"], n_test=gen["test"], min_length=gen["min_len"],
        max_length=gen["max_len"], max_depth=gen["max_depth"], max_args=gen["max_args"],
        seed=config.get("seed", 0)), progress=False)
    retention = str(write_retention_json(tmp_path / "rf.json", 16))
    results = {}
    for variant in ("rmaat", "rmaat_no_rf"):
        spec = run_spec(config, "listops", variant, 0)
        spec.data_root, spec.cache_dir = str(tmp_path / "listops"), str(tmp_path / "cache")
        spec.device = "cpu"
        if "retention" in spec.model:
            spec.model = {**spec.model, "retention": retention}
        data = run_datasets(spec)
        segment = spec.model["segment_len"]
        for split in ("train", "val", "test"):  # every example spans >= 2 segments
            assert int(lengths_of(data[split]).min()) > segment, split
        net = build_run_model(spec, torch.device("cpu"))
        assert net.config.rf_segments >= 2
        results[variant] = evaluate(net, data["test"], spec, torch.device("cpu"), False)
    rf, no_rf = results["rmaat"], results["rmaat_no_rf"]
    assert rf["n"] == no_rf["n"] == gen["test"]
    # same initial weights (common random numbers): the only difference is RF, and it shows
    assert abs(rf["loss"] - no_rf["loss"]) > 1e-4
