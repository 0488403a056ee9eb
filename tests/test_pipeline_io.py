"""pipeline.io: the one atomic write."""

from __future__ import annotations

import json
import os
import stat

import pytest

from pipeline.io import atomic_write, atomic_write_json, atomic_write_text


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]  # no temporary left


def test_failure_keeps_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.csv"
    atomic_write_text(target, "complete\n")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "complete\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_temporary_keeps_suffixes_and_file_gets_umask_permissions(tmp_path):
    seen = []
    atomic_write(tmp_path / "t.csv.gz", lambda tmp: (seen.append(tmp.name), tmp.write_bytes(b"x")))
    assert seen[0].endswith(".csv.gz") and seen[0] != "t.csv.gz"
    mode = stat.S_IMODE(os.stat(tmp_path / "t.csv.gz").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_json_rejects_nan_before_touching_the_file(tmp_path):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"a": 1.5})
    assert target.read_text() == json.dumps({"a": 1.5}, indent=2) + "\n"
    with pytest.raises(ValueError):
        atomic_write_json(target, {"a": float("nan")})
    assert json.loads(target.read_text()) == {"a": 1.5}
