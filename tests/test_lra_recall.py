"""Associative recall and long ListOps: seeded generators, labels re-derived, loaders, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from lra.cli import main as lra_main
from lra.errors import DataFormatError
from lra.listops_generator import ListOpsSettings, generate_listops_release
from lra.recall import (
    RECALL_VOCAB,
    RecallSettings,
    generate_recall,
    generate_recall_release,
)
from lra.tasks import get_task, load_splits

from .test_lra_listops import evaluate, length, parse

SMALL = RecallSettings(n_train=60, n_val=20, n_test=20, length=256, n_pairs=4, n_keys=8,
                       n_values=4, n_filler=3, seed=7)


def rederive(source: str) -> tuple[int, list[int]]:
    """Label and pair positions read back from the text alone (not the generator's code)."""
    words = source.split()
    assert words[-2] == "?" and words[-1].startswith("k")
    pairs = {}
    positions = []
    for i, w in enumerate(words[:-2]):
        if w.startswith("k"):
            assert words[i + 1].startswith("v"), "a key is always followed by its value"
            assert w not in pairs, "keys are distinct within an example"
            pairs[w] = int(words[i + 1][1:])
            positions.append(i)
        elif not w.startswith("v"):
            assert w.startswith("f")
    return pairs[words[-1]], positions


def test_labels_rederived_and_pairs_spread():
    splits = generate_recall(SMALL)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [60, 20, 20]
    body = SMALL.length - 2
    for rows in splits.values():
        for source, target in rows:
            assert len(source.split()) == SMALL.length
            label, positions = rederive(source)
            assert label == target and 0 <= target < SMALL.n_values
            assert len(positions) == SMALL.n_pairs
            # pair i lies in the i-th quarter of the body: the pairs span the whole sequence
            for i, pos in enumerate(positions):
                assert i * body / SMALL.n_pairs - 1 <= pos < (i + 1) * body / SMALL.n_pairs
    labels = [t for rows in splits.values() for _, t in rows]
    assert len(set(labels)) == SMALL.n_values  # every class occurs


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.tsv")}


def test_seeded_determinism(tmp_path):
    generate_recall_release(tmp_path / "a", SMALL)
    generate_recall_release(tmp_path / "b", SMALL)
    generate_recall_release(tmp_path / "c", RecallSettings(**{**SMALL.__dict__, "seed": 8}))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


@pytest.mark.parametrize("kw, message", [
    ({"n_pairs": 9, "n_keys": 8}, "every pair needs its own key"),
    ({"length": 9, "n_pairs": 4}, "cannot hold 4 pairs"),
    ({"n_values": 11}, "n_values must lie in 2..10"),
    ({"n_keys": 33, "n_pairs": 2}, "n_keys must lie in 1..32"),
    ({"n_filler": 0}, "n_filler must lie in 1..16"),
    ({"length": 5000}, "exceeds the task's 4096 tokens"),
])
def test_impossible_settings_rejected(kw, message):
    with pytest.raises(ValueError, match=message):
        RecallSettings(**kw)


def test_loader_round_trip_and_cache(tmp_path):
    generate_recall_release(tmp_path / "data", SMALL)
    splits = load_splits("recall", tmp_path / "data", tmp_path / "cache", progress=False)
    rows = generate_recall(SMALL)
    for name, split in splits.items():
        assert list(split.labels) == [t for _, t in rows[name]]
        first = " ".join(RECALL_VOCAB[i] for i in split.example(0))
        assert first == rows[name][0][0]
    assert get_task("recall").vocab_size == len(RECALL_VOCAB)
    again = load_splits("recall", tmp_path / "data", tmp_path / "cache", progress=False)
    assert np.array_equal(again["test"].tokens, splits["test"].tokens)


def test_loader_errors_name_file_and_line(tmp_path):
    paths = generate_recall_release(tmp_path, SMALL)
    text = paths["val"].read_text().splitlines()
    text[2] = text[2].replace("f0", "zz", 1) if "f0" in text[2] else "zz " + text[2]
    paths["val"].write_text("\n".join(text) + "\n")
    with pytest.raises(DataFormatError, match=r"recall_val.tsv: line 3: unknown token 'zz'"):
        load_splits("recall", tmp_path, progress=False)
    paths["val"].write_text("Source\tTarget\n")
    with pytest.raises(DataFormatError, match="recall_val.tsv: line 2: the split holds no"):
        load_splits("recall", tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="python -m lra generate recall"):
        load_splits("recall", tmp_path / "missing", progress=False)


def test_refuses_to_overwrite_foreign_files(tmp_path):
    (tmp_path / "recall_train.tsv").write_text("Source\tTarget\nk1 v1 ? k1\t1\n")
    with pytest.raises(ValueError, match="did not write"):
        generate_recall_release(tmp_path, SMALL)
    assert "k1 v1" in (tmp_path / "recall_train.tsv").read_text()


def test_cli_generate(tmp_path, capsys):
    out = tmp_path / "r"
    assert lra_main(["generate", "recall", "--out", str(out), "--train", "5", "--val", "2",
                     "--test", "2", "--length", "64", "--pairs", "2", "--seed", "3"]) == 0
    assert len((out / "recall_train.tsv").read_text().splitlines()) == 6
    assert lra_main(["generate", "recall", "--out", str(out), "--length", "5",
                     "--pairs", "2"]) == 2
    assert "cannot hold 2 pairs" in capsys.readouterr().err


def test_long_listops_lengths_and_labels(tmp_path):
    settings = ListOpsSettings(n_train=30, n_val=5, n_test=5, min_length=256, max_length=1024,
                               max_depth=10, max_args=10, seed=1)
    generate_listops_release(tmp_path / "listops-1000", settings, progress=False)
    splits = load_splits("listops_long", tmp_path, progress=False)
    assert get_task("listops_long").seq_len == 1024
    for name in ("train", "val", "test"):
        lines = (tmp_path / "listops-1000" / f"basic_{name}.tsv").read_text().splitlines()[1:]
        for line, n_tokens, label in zip(lines, splits[name].lengths, splits[name].labels,
                                         strict=True):
            source, target = line.split("\t")
            tree = parse(source)
            assert evaluate(tree) == int(target) == label  # re-derived by an own evaluator
            assert 256 < length(tree) == n_tokens < 1024
