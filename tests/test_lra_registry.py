"""The task registry (lra.tasks.TASKS) and the shared generated-token-task code: one entry per
task, tied to the config schema, and the same reading rules for every generated task."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lra.errors import DataFormatError
from lra.inspect import inspect_task
from lra.majority import MajoritySettings
from lra.recall import RecallSettings
from lra.tasks import GENERATED, TASKS, get_task, load_splits

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
SMALL = {"recall": RecallSettings(n_train=12, n_val=4, n_test=4, length=32, n_pairs=2,
                                  n_keys=4, n_values=3, n_filler=2, seed=1),
         "majority": MajoritySettings(n_train=12, n_val=4, n_test=4, length=30, n_votes=5,
                                      n_classes=3, n_filler=2, seed=1)}


def test_schema_task_names_are_the_registry():
    names = SCHEMA["properties"]["experiment"]["properties"]["tasks"]["propertyNames"]["enum"]
    assert sorted(names) == sorted(TASKS)


def test_schema_generate_block_takes_every_generator_option():
    allowed = set(SCHEMA["$defs"]["task"]["properties"]["generate"]["properties"])
    for task in GENERATED.values():
        flags = {opt.flag for opt in task.all_options()} - {"seed"}  # the run's seed
        assert flags <= allowed, (task.name, flags - allowed)


def test_every_entry_reads_keys_and_decodes():
    for name, spec in TASKS.items():
        assert spec.name == name and callable(spec.files) and callable(spec.read)
        settings = spec.cache_settings("easy")
        assert settings["max_tokens"] == spec.max_tokens
        assert ("level" in settings) == spec.by_level
        # an image task has a side and no text decoder; every other task decodes its ids
        assert (spec.image_side is None) == (spec.decode is not None), name
        if spec.image_side is not None:
            assert spec.image_side ** 2 <= spec.seq_len
        if spec.class_names is not None:
            assert len(spec.class_names) == spec.num_classes, name
    assert set(GENERATED) == {"recall", "majority"}
    for name, task in GENERATED.items():
        assert get_task(name).generator is task and get_task(name).vocab_size == task.vocab_size
        assert task.vocab[0] == "<pad>" and len(set(task.vocab)) == task.vocab_size


@pytest.mark.parametrize("name", ["recall", "majority"])
def test_generated_release_reads_back_and_decodes_to_its_text(name, tmp_path):
    task = GENERATED[name]
    paths = task.write_release(tmp_path, SMALL[name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{name}_{s}.tsv" for s in ("train", "val", "test")] + [task.marker])
    rows = task.generate(SMALL[name])
    splits = load_splits(name, tmp_path, progress=False)
    for split, data in splits.items():
        assert [task.decode(data.example(i)) for i in range(len(data))] == [
            source for source, _ in rows[split]]
        assert list(data.labels) == [label for _, label in rows[split]]
    assert paths["train"].read_bytes().startswith(b"Source\tTarget\r\n")
    summary = inspect_task(get_task(name), splits, tmp_path / "inspect", examples=1)
    assert summary["splits"]["train"]["examples"] == SMALL[name].n_train
    examples = (tmp_path / "inspect" / "examples.txt").read_text()
    assert rows["train"][0][0][:200] in examples


@pytest.mark.parametrize("name", ["recall", "majority"])
@pytest.mark.parametrize("line, problem", [
    ("f0 f1", "expected 2 tab-separated fields, got 1"),
    ("f0 f1\tx", "target 'x' is not an integer"),
    ("f0 f1\t10", "label 10 outside 0..9"),
    ("f0 zz\t1", "unknown token 'zz'"),
    ("<pad> f0\t1", "unknown token '<pad>'"),
    (" ".join(["f0"] * 4097) + "\t1", "4097 tokens exceed 4096"),
])
def test_generated_readers_name_file_line_and_problem(name, line, problem, tmp_path):
    GENERATED[name].write_release(tmp_path, SMALL[name])
    path = tmp_path / f"{name}_test.tsv"
    path.write_text(f"Source\tTarget\nf0\t1\n{line}\n")
    with pytest.raises(DataFormatError, match=rf"{name}_test.tsv: line 3: {problem}"):
        load_splits(name, tmp_path, progress=False)


def test_settings_from_config_keys_match_the_command_line():
    assert GENERATED["recall"].settings_from({"pairs": 2, "keys": 4, "train": 5, "n": 9}) == (
        RecallSettings(n_pairs=2, n_keys=4, n_train=5))
    assert GENERATED["majority"].settings_from({"votes": 3, "classes": 3}) == (
        MajoritySettings(n_votes=3, n_classes=3))
    with pytest.raises(ValueError, match="odd n_votes"):
        GENERATED["majority"].settings_from({"votes": 4})


def test_strict_tokens_recheck_covers_both_listops_tasks():
    assert get_task("listops").unknown_id == get_task("listops_long").unknown_id == 1
    assert all(spec.unknown_id is None for name, spec in TASKS.items()
               if name not in ("listops", "listops_long"))


def test_an_entry_without_a_reader_or_a_rendering_is_refused():
    from lra.tasks import TaskSpec

    text = get_task("text")
    with pytest.raises(ValueError, match="needs files and read"):
        TaskSpec("new", "New", 8, 8, 2, 4, decode=text.decode)
    with pytest.raises(ValueError, match="not both or neither"):
        TaskSpec("new", "New", 8, 8, 2, 4, files=text.files, read=text.read)
