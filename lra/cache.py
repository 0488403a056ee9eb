"""Preprocess-once cache of tokenised splits, keyed by the source files and the settings.

Layout: `<cache_dir>/<task>-<key>/` holds `<split>.<field>.npy` (tokens, offsets, labels and,
for Retrieval, tokens2 and offsets2) and `manifest.json`. The key is a SHA-256 over the task
name, the tokenisation settings, a format version and, for every source file, its path
relative to the data root, its size in bytes and its modification time (ns).

When an entry is written, the entries it supersedes (same task, data root and settings,
other source files) are deleted, so regenerating data does not pile up old caches.

Writes are atomic: everything, the manifest last, goes into a hidden temporary folder that
is renamed into place with `os.replace`. A run killed at any point leaves either no folder
under the final name or a complete one; a folder without a valid manifest, or whose files
do not have the sizes the manifest records, is never trusted and is rebuilt.

Content: the manifest holds the SHA-256 of every array file, checked in full whenever the
entry is opened (also memory-mapped). A file changed after it was written (e.g. labels
rewritten at the same size) makes the entry untrusted: it is rebuilt from the sources, with a
warning naming the file. Cost: one read of the files at the speed of SHA-256 (measured
475 MB/s on a 2-core CPU): a few milliseconds for a default task's 0.4 MB, about 7 s for
Path-X's 3.3 GB, no more than the digest of the same splits every training run computes.
Entries of format version 1 had no hashes; the version is part of the key, so they are
rebuilt (and removed as superseded) on first use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .splits import TokenSplit

CACHE_FORMAT_VERSION = 2  # 2: the manifest holds the SHA-256 of every array file
MANIFEST = "manifest.json"
_FIELDS = ("tokens", "offsets", "labels", "tokens2", "offsets2")
_CHUNK = 1 << 22  # bytes hashed per read

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of the bytes of ``path``, read in chunks of 4 MiB."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fingerprint_sources(root: Path, paths: Iterable[Path]) -> list[list]:
    """[[path relative to root, size in bytes, mtime in ns], ...] sorted by path."""
    rows = []
    for path in paths:
        st = os.stat(path)
        try:
            rel = str(Path(path).relative_to(root))
        except ValueError:
            rel = str(path)
        rows.append([rel, st.st_size, st.st_mtime_ns])
    return sorted(rows)


def cache_key(task: str, settings: dict, sources: list[list]) -> str:
    """16 hex digits identifying (task, settings, source fingerprint, format version)."""
    blob = json.dumps(
        {"task": task, "settings": settings, "sources": sources, "v": CACHE_FORMAT_VERSION},
        sort_keys=True,
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _read_manifest(folder: Path, key: str) -> dict | None:
    """The manifest of a complete cache folder for `key`, or None if it cannot be trusted."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("key") != key or manifest.get("complete") is not True:
        return None
    files, hashes = manifest.get("files"), manifest.get("sha256")
    if not isinstance(files, dict) or not isinstance(hashes, dict) or set(hashes) != set(files):
        return None  # written before the hashes existed (or not by this module)
    for name, size in files.items():
        file = folder / name
        if not file.is_file() or file.stat().st_size != size:
            return None
    for name in sorted(files):
        if file_sha256(folder / name) != hashes[name]:
            log.warning("token cache %s was changed after it was written (SHA-256 differs "
                        "from its manifest); not used, it is rebuilt from the sources",
                        folder / name)
            return None
    return manifest


def read_cache(folder: Path, key: str, mmap: bool = False) -> dict[str, TokenSplit] | None:
    """Splits stored in `folder` if it is a complete cache for `key` whose files all have
    the SHA-256 its manifest records, else None (never a changed file)."""
    manifest = _read_manifest(folder, key)
    if manifest is None:
        return None
    splits = {}
    for split in manifest["splits"]:
        arrays = {}
        for field in _FIELDS:
            file = folder / f"{split}.{field}.npy"
            if f"{split}.{field}.npy" in manifest["files"]:
                arrays[field] = np.load(file, mmap_mode="r" if mmap else None)
        splits[split] = TokenSplit(**arrays)
    return splits


def write_cache(folder: Path, key: str, splits: dict[str, TokenSplit], info: dict) -> None:
    """Write `splits` to `folder` atomically (temporary folder + manifest last + rename)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files, hashes = {}, {}
        for split, data in splits.items():
            for field in _FIELDS:
                array = getattr(data, field)
                if array is None:
                    continue
                name = f"{split}.{field}.npy"
                _save_array(tmp / name, np.asarray(array))
                files[name] = (tmp / name).stat().st_size
                hashes[name] = file_sha256(tmp / name)
        manifest = {
            "key": key,
            "complete": True,
            "splits": list(splits),
            "counts": {split: len(data) for split, data in splits.items()},
            "files": files,
            "sha256": hashes,
            **info,
        }
        _write_text_synced(tmp / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        if folder.exists():  # an untrusted leftover under the final name
            shutil.rmtree(folder)
        try:
            os.replace(tmp, folder)
        except OSError:
            if _read_manifest(folder, key) is None:  # not a concurrent writer's good copy
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())


def _write_text_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def prune_superseded(cache_dir: Path, task: str, key: str, settings: dict,
                     root: Path) -> list[Path]:
    """Delete the entries that ``key`` replaces: same task, root and settings, other source
    files (the data were regenerated or changed). Entries made with other settings (another
    sequence length or level) are kept. Returns the deleted folders.
    """
    removed = []
    for folder in sorted(cache_dir.glob(f"{task}-*")):
        if folder.name == f"{task}-{key}" or not folder.is_dir():
            continue
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            continue  # not ours to judge: leave it
        same = (manifest.get("task") == task and manifest.get("root") == str(root)
                and manifest.get("settings") == json.loads(json.dumps(settings)))
        if same:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def load_or_build(
    cache_dir: Path | str,
    task: str,
    settings: dict,
    root: Path,
    sources: list[Path],
    build: Callable[[], dict[str, TokenSplit]],
    mmap: bool = False,
) -> dict[str, TokenSplit]:
    """Read the cached splits of (task, settings, sources), or build, cache and return them."""
    fingerprint = fingerprint_sources(root, sources)
    key = cache_key(task, settings, fingerprint)
    folder = Path(cache_dir) / f"{task}-{key}"
    cached = read_cache(folder, key, mmap=mmap)
    if cached is not None:
        return cached
    splits = build()
    write_cache(folder, key, splits, {"task": task, "settings": settings, "root": str(root)})
    prune_superseded(Path(cache_dir), task, key, settings, root)
    if mmap:
        cached = read_cache(folder, key, mmap=True)
        if cached is not None:
            return cached
    return splits
