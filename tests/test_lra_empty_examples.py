"""An empty example (no token) is refused when the files are read, naming the file and the
line: `python -m lra preprocess` used to accept it, and training failed later with "rows
[...] of the input have no real token", naming neither. Small files in the official formats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lra.tasks as tasks
from lra.cli import main
from lra.errors import DataFormatError
from lra.splits import TokenSplit


def _listops(root: Path, bad: str) -> Path:
    folder = root / "listops-1000"
    folder.mkdir(parents=True)
    for split in ("train", "val", "test"):
        rows = ["( ( [MAX 2 ) 9 ] )\t9", "( [MIN 1 ] )\t1"]
        if split == "val":
            rows.insert(1, bad)
        (folder / f"basic_{split}.tsv").write_text("Source\tTarget\n" + "\n".join(rows) + "\n")
    return folder / "basic_val.tsv"


def _generated(name: str, good: str, label: int):
    def write(root: Path, bad: str) -> Path:
        root.mkdir(parents=True)
        for split in ("train", "val", "test"):
            rows = [f"{good}\t{label}", f"{good}\t{label}"]
            if split == "test":
                rows.insert(1, bad)
            (root / f"{name}_{split}.tsv").write_text("Source\tTarget\n" + "\n".join(rows)
                                                      + "\n")
        return root / f"{name}_test.tsv"
    return write


def _aan(root: Path, bad: str) -> Path:
    folder = root / "tsv_data"
    folder.mkdir(parents=True)
    for name in ("train", "eval", "test"):
        rows = ["1.0\ta\tb\tfirst doc\tsecond doc", "0.0\tc\td\tx\tyz"]
        if name == "train":
            rows.insert(1, bad)
        (folder / f"new_aan_pairs.{name}.tsv").write_text("\n".join(rows) + "\n")
    return folder / "new_aan_pairs.train.tsv"


@pytest.mark.parametrize(("task", "write", "bad", "line"), [
    ("listops", _listops, "\t3", 3),
    ("listops", _listops, "   \t3", 3),
    ("listops", _listops, "( ( ) )\t3", 3),  # parentheses are not tokens
    ("recall", _generated("recall", "k0 f0 ? k0", 1), "\t1", 3),
    ("majority", _generated("majority", "a0 f0 a0", 0), "  \t0", 3),
    ("retrieval", _aan, "1.0\ta\tb\t\tsecond doc", 2),
    ("retrieval", _aan, "0\ta\tb\tfirst doc\t", 2),
], ids=["listops-empty", "listops-blank", "listops-parens", "recall", "majority",
        "retrieval-text1", "retrieval-text2"])
def test_preprocess_refuses_an_empty_example_naming_file_and_line(tmp_path, capsys, task,
                                                                    write, bad, line):
    path = write(tmp_path / "data", bad)
    assert main(["preprocess", task, "--root", str(tmp_path / "data"),
                 "--cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: line {line}: " in err and "empty example" in err, err
    assert not any((tmp_path / "cache").glob(f"{task}-*/manifest.json"))  # nothing cached


def test_an_empty_review_file_is_refused_by_name(tmp_path, capsys):
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            sub = tmp_path / "aclImdb" / split / label
            sub.mkdir(parents=True)
            (sub / "0_8.txt").write_text("a fine film")
    empty = tmp_path / "aclImdb" / "test" / "neg" / "1_2.txt"
    empty.write_bytes(b"")
    assert main(["preprocess", "text", "--root", str(tmp_path), "--cache",
                 str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert f"{empty}: " in err and "empty example" in err


def test_a_message_without_a_body_is_refused_by_name(tmp_path, capsys):
    data = tmp_path / "data"
    for group, n in (("easy-ham-1", 5), ("spam-1", 5)):
        (data / group).mkdir(parents=True)
        for i in range(n):
            (data / group / f"{i:05d}.abc.txt").write_bytes(
                b"From: x\nSubject: y\n\nbody " + str(i).encode())
    headers_only = data / "spam-1" / "00009.abc.txt"
    headers_only.write_bytes(b"From: x\nSubject: only headers\n")
    assert main(["preprocess", "spam_assassin", "--root", str(tmp_path), "--cache",
                 str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert f"{headers_only}: " in err and "empty example" in err


def test_any_loader_or_cache_with_an_empty_example_is_refused(tmp_path, monkeypatch):
    """The backstop behind the loaders (and for caches written before this check): the
    split and the example's index are named."""
    split = TokenSplit(np.array([3, 4, 5], dtype=np.uint8), np.array([0, 2, 2, 3]),
                       np.array([0, 1, 0]))
    reader = lambda *args: {"train": split, "val": split, "test": split}  # noqa: E731
    spec = tasks.get_task("recall")
    monkeypatch.setitem(tasks.TASKS, "recall", type(spec)(**{
        **{f: getattr(spec, f) for f in spec.__dataclass_fields__}, "read": reader,
        "files": lambda root, level: []}))
    with pytest.raises(DataFormatError, match=r"train split: example 1: .*no token"):
        tasks.load_splits("recall", tmp_path, tmp_path / "cache", progress=False)
    with pytest.raises(DataFormatError, match=r"train split: example 1: .*no token"):
        tasks.load_splits("recall", tmp_path, None, progress=False)
