"""Majority vote: seeded generator, labels re-derived from the text, loader, cache, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from lra.cli import main as lra_main
from lra.errors import DataFormatError
from lra.majority import (
    MAJORITY_IDS,
    MajoritySettings,
    generate_majority,
    generate_majority_release,
)
from lra.tasks import get_task, load_splits
from train.plan import ExperimentError, check_generated_settings

SMALL = MajoritySettings(n_train=80, n_val=20, n_test=20, length=96, n_votes=6, n_classes=3,
                         n_filler=3, seed=5)


def rederive(source: str, n_votes: int, length: int) -> int:
    """The label counted from the text alone: one vote per stretch, the strict mode wins."""
    words = source.split()
    assert len(words) == length
    positions = [i for i, w in enumerate(words) if w.startswith("a")]
    assert len(positions) == n_votes
    for k, pos in enumerate(positions):  # vote k lies in the k-th of n_votes equal stretches
        assert k * length / n_votes - 0.5 <= pos < (k + 1) * length / n_votes + 0.5
    counts: dict[int, int] = {}
    for pos in positions:
        c = int(words[pos][1:])
        counts[c] = counts.get(c, 0) + 1
    top = sorted(counts.values(), reverse=True)
    assert len(top) == 1 or top[0] > top[1], "the generator never writes a tied vote"
    return max(counts, key=counts.__getitem__)


def test_labels_rederived_and_spread() -> None:
    splits = generate_majority(SMALL)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [80, 20, 20]
    labels = []
    for rows in splits.values():
        for source, target in rows:
            assert rederive(source, SMALL.n_votes, SMALL.length) == target
            labels.append(target)
    assert set(labels) == {0, 1, 2}  # every class occurs


def test_seeded() -> None:
    assert generate_majority(SMALL) == generate_majority(SMALL)
    other = MajoritySettings(**{**SMALL.__dict__, "seed": 6})
    assert generate_majority(other) != generate_majority(SMALL)


def test_two_classes_balanced_enough() -> None:
    s = MajoritySettings(n_train=400, n_val=1, n_test=1, length=64, n_votes=9, n_classes=2,
                         n_filler=1, seed=0)
    labels = np.array([t for _, t in generate_majority(s)["train"]])
    assert 0.4 < labels.mean() < 0.6


def test_release_loader_cache_and_cli(tmp_path: Path) -> None:
    root = tmp_path / "maj"
    rc = lra_main(["generate", "majority", "--quiet", "--out", str(root), "--train", "30",
                   "--val", "10", "--test", "10", "--length", "40", "--votes", "5",
                   "--classes", "2", "--seed", "3"])
    assert rc in (0, None)
    digest = hashlib.sha256((root / "majority_train.tsv").read_bytes()).hexdigest()
    generate_majority_release(root, MajoritySettings(n_train=30, n_val=10, n_test=10,
                                                     length=40, n_votes=5, seed=3))
    assert hashlib.sha256((root / "majority_train.tsv").read_bytes()).hexdigest() == digest
    splits = load_splits("majority", root=root, cache_dir=tmp_path / "cache")
    assert len(splits["train"].labels) == 30
    first = (root / "majority_train.tsv").read_text().splitlines()[1].split("\t")
    ids = [MAJORITY_IDS[w] for w in first[0].split()]
    assert splits["train"].labels[0] == int(first[1])
    assert np.array_equal(splits["train"].example(0), ids)
    again = load_splits("majority", root=root, cache_dir=tmp_path / "cache")
    assert np.array_equal(again["train"].labels, splits["train"].labels)
    assert get_task("majority").num_classes == 10 and not get_task("majority").lra


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="odd n_votes"):
        MajoritySettings(n_votes=8, n_classes=2)
    with pytest.raises(ValueError, match="cannot hold"):
        MajoritySettings(length=4, n_votes=5)
    with pytest.raises(ExperimentError, match="experiment.tasks.majority.generate"):
        check_generated_settings("majority", {"votes": 4, "classes": 2})
    (tmp_path / "majority_train.tsv").write_text("x")
    with pytest.raises(ValueError, match="did not write"):
        generate_majority_release(tmp_path, SMALL)
    bad = tmp_path / "bad"
    generate_majority_release(bad, SMALL)
    text = (bad / "majority_val.tsv").read_text().replace("f0", "zz", 1)
    (bad / "majority_val.tsv").write_text(text)
    with pytest.raises(DataFormatError, match="unknown token"):
        load_splits("majority", root=bad, cache_dir=None)
