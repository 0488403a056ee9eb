"""The run spec (`python -m train run --spec`): a schema with types, ranges, required and
unknown keys and paths; every violation named by its key, exit code 2 from the command."""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
import yaml

from pipeline.config import load_schema, validate_config
from tests.test_workflow import REPO
from train.__main__ import main
from train.plan import PARAM_KEYS, run_names, run_spec
from train.spec import RunSpec, spec_schema

GOOD = {"task": "recall", "preset": "rmt", "seed": 0, "data_root": "data/generated/recall",
        "cache_dir": "data/cache/recall", "max_train": 10, "max_eval": None, "lr": 1e-3,
        "model": {"d_model": 16, "n_heads": 2, "segment_len": 16}}


def _problems(data: dict, project: Path | None = None) -> str:
    with pytest.raises(ValueError) as err:
        RunSpec.from_dict(data, project=project)
    return str(err.value)


@pytest.mark.parametrize(("change", "key"), [
    ({"lr": "1e-3"}, "lr"), ({"lr": math.nan}, "lr"), ({"special_lr": math.inf}, "special_lr"),
    ({"lr": 0}, "lr"), ({"seed": 1.0}, "seed"), ({"seed": -1}, "seed"),
    ({"seed": True}, "seed"), ({"epochs": 2.0}, "epochs"), ({"max_train": 0}, "max_train"),
    ({"max_eval": 0}, "max_eval"), ({"max_train": "10"}, "max_train"),
    ({"warmup_frac": 1.0}, "warmup_frac"), ({"bucket": "yes"}, "bucket"),
    ({"task": "imagenet"}, "task"), ({"preset": "gpt"}, "preset"), ({"level": "x"}, "level"),
    ({"variant": "a b"}, "variant"), ({"cache_dir": ""}, "cache_dir"),
    ({"data_root": 3}, "data_root"), ({"model": []}, "model"),
    ({"model": {"d_model": "16"}}, "model.d_model"), ({"model": {"dropout": 1.0}},
                                                      "model.dropout"),
    ({"model": {"d_modle": 16}}, "model"), ({"model": {"d_model": 15, "n_heads": 2}}, "model"),
])
def test_each_violation_is_one_message_naming_the_key(change, key):
    text = _problems({**GOOD, **change})
    assert f"'{key}'" in text, text
    assert "Traceback" not in text and text.count("\n") == 0


def test_empty_and_non_object_specs_name_what_is_missing():
    assert "missing required key(s) 'preset', 'task'" in _problems({})
    assert "a JSON object" in _problems([])  # type: ignore[arg-type]


def test_unknown_keys_are_named_with_the_allowed_ones():
    text = _problems({**GOOD, "lrr": 1})
    assert "unknown key(s) ['lrr']" in text and "'max_train'" in text


def test_every_violation_is_reported_at_once():
    text = _problems({**GOOD, "lr": "x", "seed": 1.5, "max_train": 0})
    lines = text.splitlines()
    assert len(lines) == 4 and "3 problems" in lines[0]
    assert [line.split("'")[1] for line in lines[1:]] == ["lr", "max_train", "seed"]


def test_cache_dir_must_lie_inside_the_project_the_data_root_need_not(tmp_path):
    """Training writes the token cache: the config's rule (folders the pipeline writes lie
    inside the project) holds for a spec too; the data root is only read."""
    project = tmp_path / "project"
    ok = {**GOOD, "data_root": "/usr/share/datasets/elsewhere", "cache_dir": "data/cache/x"}
    assert RunSpec.from_dict(ok, project=project).data_root == ok["data_root"]
    for outside in (str(tmp_path / "cache"), "../cache", "/tmp/cache"):
        text = _problems({**ok, "cache_dir": outside}, project=project)
        assert "'cache_dir'" in text and "outside the project" in text
    assert "'model.retention'" in _problems(
        {**ok, "model": {"retention": 3}}, project=project)


def test_the_command_exits_2_naming_the_key(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    for data, key in (({}, "task"), ({**GOOD, "lr": "fast"}, "lr"),
                      ({**GOOD, "max_train": 0}, "max_train"),
                      ({**GOOD, "cache_dir": str(tmp_path)}, "cache_dir")):
        spec.write_text(json.dumps(data))
        assert main(["run", "--spec", str(spec), "--out-dir", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: run spec {spec}") and f"'{key}'" in err
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing started


def test_spec_schema_has_one_entry_per_runspec_field_from_the_config_schema():
    """One owner: the types and ranges of the settings a config also has come from the
    config schema; the spec adds nothing for them, and nothing is left out."""
    schema = spec_schema()
    names = {f.name for f in fields(RunSpec)}
    assert set(schema["properties"]) == names
    assert set(schema["required"]) == {f.name for f in fields(RunSpec) if f.default is MISSING
                                       and f.default_factory is MISSING}  # no default
    config = load_schema()
    training = config["$defs"]["training_settings"]["properties"]
    assert set(training) - names == set(PARAM_KEYS)  # scheduling, not RunSpec fields
    for key in set(training) & names:
        assert schema["properties"][key] == training[key], key
    task = config["$defs"]["task"]["properties"]
    for key in ("max_train", "max_eval", "seq_len"):
        assert schema["properties"][key]["minimum"] == task[key]["minimum"] == 1
        assert schema["properties"][key]["type"] == ["integer", "null"]
    model = schema["properties"]["model"]["properties"]
    assert set(model) == set(config["$defs"]["model_settings"]["properties"]) | {"retention"}
    RunSpec(task="listops", preset="rmaat").validate()  # the dataclass defaults are valid


@pytest.mark.parametrize("name", ["config.yaml", "test.yaml", "paper.yaml"])
def test_every_planned_run_spec_passes_the_file_check(name, monkeypatch):
    """What the plan writes to spec.json is what the reader accepts (paths from the
    project root)."""
    monkeypatch.chdir(REPO)
    config = validate_config(yaml.safe_load((REPO / "config" / name).read_text()))
    for task, variant, seed in run_names(config, missing_ok=True):
        spec = run_spec(config, task, variant, seed)
        assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
