"""Atomic file writes: the one way every stage writes a file that another step reads.

A writer fills a temporary file next to the target, which is then renamed onto it
(``os.replace``). A crash or an exception half-way leaves the previous complete file (or no
file) in place and no partial file behind, so Snakemake and the stages never read a torn file.

    atomic_write("results/fig.png", lambda tmp: fig.savefig(tmp, dpi=110))
    atomic_write_json("results/retention/baseline.json", payload)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_json", "atomic_write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], writer: Callable[[Path], Any]) -> None:
    """Call ``writer(tmp)`` with a temporary path next to ``path``, then rename it onto ``path``.

    The temporary name keeps the suffixes of ``path`` (``.csv.gz``, ``.png``), so writers that
    choose a format by extension behave as for the final name. The parent directory is
    created if needed; the file gets the usual permissions (0666 minus the umask) and is
    flushed to disk before the rename. If ``writer`` raises, the temporary file is removed,
    ``path`` is left as it was and the exception propagates.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.",
                                suffix=".tmp" + "".join(target.suffixes), dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:  # the writer may have closed its own handle: sync here
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], payload: Any, *, indent: int | None = 2,
                      sort_keys: bool = False) -> None:
    """Serialise ``payload`` as JSON (a trailing newline; NaN and infinity raise
    ``ValueError`` before any file is touched) and write it to ``path`` atomically."""
    text = json.dumps(payload, indent=indent, sort_keys=sort_keys, allow_nan=False) + "\n"
    atomic_write_text(path, text)
