"""The preprocess cache: keyed by files and settings, atomic, never trusts a half write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import lra.cache as cache
from lra.splits import TokenSplit
from lra.tasks import load_splits


def write_listops(root: Path, n: int = 3) -> Path:
    folder = root / "listops-1000"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        rows = [f"( ( ( [MAX {i} ) 9 ) ] )\t9" for i in range(n)]
        (folder / f"basic_{split}.tsv").write_text("Source\tTarget\n" + "\n".join(rows) + "\n")
    return folder


class CountingReads:
    """Counts how often the raw files are tokenised (i.e. the cache was not used)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        import lra.tasks as tasks

        original = tasks.read_splits

        def counting(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(tasks, "read_splits", counting)


def folders(cache_dir: Path) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir()) if cache_dir.exists() else []


def test_second_load_reads_cache(tmp_path, monkeypatch):
    write_listops(tmp_path)
    reads = CountingReads(monkeypatch)
    first = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    second = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 1
    for split in first:
        assert np.array_equal(first[split].tokens, second[split].tokens)
        assert np.array_equal(first[split].labels, second[split].labels)
    (entry,) = folders(tmp_path / "cache")
    manifest = json.loads((tmp_path / "cache" / entry / "manifest.json").read_text())
    assert manifest["complete"] and manifest["counts"] == {"train": 3, "val": 3, "test": 3}


def test_changed_source_rebuilds(tmp_path, monkeypatch):
    folder = write_listops(tmp_path)
    reads = CountingReads(monkeypatch)
    load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    path = folder / "basic_val.tsv"
    path.write_text(path.read_text() + "( ( [MIN 1 ) ] )\t1\n")
    splits = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 2 and len(splits["val"]) == 4
    assert len(folders(tmp_path / "cache")) == 1  # the superseded entry is gone


def test_only_superseded_entries_are_pruned(tmp_path):
    """Same settings + new sources replaces the old entry; other settings stay cached."""
    folder = write_listops(tmp_path)
    sources = sorted(folder.iterdir())
    split = TokenSplit(tokens=np.arange(4, dtype=np.uint16), offsets=np.array([0, 2, 4]),
                       labels=np.array([0, 1]))
    build = lambda: {"train": split}  # noqa: E731
    cache_dir = tmp_path / "cache"
    for seq_len in (8, 16):
        cache.load_or_build(cache_dir, "listops", {"seq_len": seq_len}, tmp_path, sources, build)
    old = folders(cache_dir)
    assert len(old) == 2
    stat = sources[0].stat()
    os.utime(sources[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    cache.load_or_build(cache_dir, "listops", {"seq_len": 8}, tmp_path, sources, build)
    now = folders(cache_dir)
    assert len(now) == 2 and len(set(now) & set(old)) == 1  # seq_len 16 kept, 8 replaced
    keep = next(iter(set(now) & set(old)))
    assert json.loads((cache_dir / keep / "manifest.json").read_text())["settings"] == {
        "seq_len": 16}


def test_mtime_alone_changes_key(tmp_path):
    folder = write_listops(tmp_path)
    sources = sorted(folder.iterdir())
    key = cache.cache_key("listops", {}, cache.fingerprint_sources(tmp_path, sources))
    stat = sources[0].stat()
    os.utime(sources[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert key != cache.cache_key("listops", {}, cache.fingerprint_sources(tmp_path, sources))
    assert key != cache.cache_key(
        "listops", {"max_tokens": 1}, cache.fingerprint_sources(tmp_path, sources)
    )


def test_interrupted_write_leaves_nothing_trusted(tmp_path, monkeypatch):
    write_listops(tmp_path)
    reads = CountingReads(monkeypatch)
    real_save = cache._save_array
    saved = []

    def dying_save(path, array):
        if len(saved) == 4:  # killed half way through the arrays
            raise KeyboardInterrupt("simulated kill")
        saved.append(path)
        real_save(path, array)

    monkeypatch.setattr(cache, "_save_array", dying_save)
    with pytest.raises(KeyboardInterrupt):
        load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert folders(tmp_path / "cache") == []  # no folder under a final name, temp removed
    monkeypatch.setattr(cache, "_save_array", real_save)
    splits = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 2 and len(splits["train"]) == 3
    assert len(folders(tmp_path / "cache")) == 1


def test_killed_process_leftovers_are_not_trusted(tmp_path, monkeypatch):
    """A hard kill leaves a temp folder, or (old writer) a final folder without manifest."""
    write_listops(tmp_path)
    reads = CountingReads(monkeypatch)
    load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    (entry,) = folders(tmp_path / "cache")
    final = tmp_path / "cache" / entry
    # 1. manifest missing: rebuilt
    (final / "manifest.json").unlink()
    load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 2 and (final / "manifest.json").is_file()
    # 2. an array file cut short after the manifest was written: size mismatch, rebuilt
    tokens = final / "train.tokens.npy"
    tokens.write_bytes(tokens.read_bytes()[:-5])
    splits = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 3 and len(splits["train"].tokens) == splits["train"].offsets[-1]
    # 3. a stray temporary folder from a killed writer is ignored
    (tmp_path / "cache" / f".{entry}.tmp-999-deadbeef").mkdir()
    load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 3


def test_manifest_from_other_key_not_trusted(tmp_path):
    split = TokenSplit(np.arange(4, dtype=np.uint8), np.array([0, 2, 4]), np.array([0, 1]))
    folder = tmp_path / "x"
    cache.write_cache(folder, "key-a", {"train": split}, {})
    assert cache.read_cache(folder, "key-a") is not None
    assert cache.read_cache(folder, "key-b") is None
    loaded = cache.read_cache(folder, "key-a", mmap=True)["train"]
    assert isinstance(loaded.tokens, np.memmap) and loaded.example(1).tolist() == [2, 3]


def test_pairs_survive_the_cache(tmp_path):
    folder = tmp_path / "tsv_data"
    folder.mkdir()
    for name in ("train", "eval", "test"):
        rows = ["1.0\ta\tb\tfirst doc\tsecond document", "0.0\tc\td\tx\tyz"]
        (folder / f"new_aan_pairs.{name}.tsv").write_text("\n".join(rows) + "\n")
    built = load_splits("retrieval", tmp_path, tmp_path / "cache", progress=False)
    cached = load_splits("retrieval", tmp_path, tmp_path / "cache", mmap=True, progress=False)
    for split in ("train", "val", "test"):
        assert cached[split].paired
        assert np.array_equal(cached[split].example2(0), built[split].example2(0))
        assert cached[split].labels.tolist() == [1, 0]


def _entry(cache_dir: Path) -> Path:
    (entry,) = folders(cache_dir)
    return cache_dir / entry


def test_a_cached_array_changed_at_the_same_size_is_rebuilt_not_used(tmp_path, monkeypatch,
                                                                        caplog):
    """Test labels rewritten in the cache (same dtype, same size) used to train and evaluate
    without a word; the manifest's SHA-256 of every file catches it and the entry is rebuilt
    from the sources, with a warning naming the file."""
    write_listops(tmp_path, n=4)
    reads = CountingReads(monkeypatch)
    first = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    labels = _entry(tmp_path / "cache") / "test.labels.npy"
    size = labels.stat().st_size
    np.save(labels, (first["test"].labels + 1) % 10)
    assert labels.stat().st_size == size  # the old size check cannot see it
    with caplog.at_level("WARNING", logger="lra.cache"):
        again = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 2
    assert np.array_equal(again["test"].labels, first["test"].labels)
    assert "test.labels.npy" in caplog.text and "SHA-256" in caplog.text
    for mmap in (False, True):  # the rebuilt entry is trusted again, also memory-mapped
        load_splits("listops", tmp_path, tmp_path / "cache", mmap=mmap, progress=False)
    assert reads.calls == 2


def test_read_cache_refuses_a_changed_file(tmp_path):
    split = TokenSplit(np.arange(4, dtype=np.uint8), np.array([0, 2, 4]), np.array([0, 1]))
    folder = tmp_path / "x"
    cache.write_cache(folder, "key-a", {"train": split}, {})
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["sha256"]) == set(manifest["files"]) == {
        "train.tokens.npy", "train.offsets.npy", "train.labels.npy"}
    np.save(folder / "train.tokens.npy", np.arange(4, dtype=np.uint8)[::-1])
    assert cache.read_cache(folder, "key-a") is None
    assert cache.read_cache(folder, "key-a", mmap=True) is None


def test_caches_without_hashes_are_rebuilt(tmp_path, monkeypatch):
    """Entries written before the hashes existed: the old format version's entry is replaced
    (another key, same task, root and settings), and a manifest without hashes under the
    current key is not trusted."""
    write_listops(tmp_path)
    monkeypatch.setattr(cache, "CACHE_FORMAT_VERSION", 1)
    load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    old = _entry(tmp_path / "cache")
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["sha256"]  # as the version-1 writer left it
    (old / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.undo()
    reads = CountingReads(monkeypatch)
    load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 1 and folders(tmp_path / "cache") != [old.name]
    new = _entry(tmp_path / "cache")
    manifest = json.loads((new / "manifest.json").read_text())
    del manifest["sha256"]
    (new / "manifest.json").write_text(json.dumps(manifest))
    splits = load_splits("listops", tmp_path, tmp_path / "cache", progress=False)
    assert reads.calls == 2 and len(splits["train"]) == 3
    assert "sha256" in json.loads((new / "manifest.json").read_text())
