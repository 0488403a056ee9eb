"""The folders the workflow writes must be usable before any job starts.

``results/``, ``data/`` and ``logs/`` (and the configured cache and generated-data folders)
may be links to another disk. A link whose target is gone (a scratch disk not mounted, a
folder deleted), a link that points to itself, or a file where a folder belongs made
Snakemake fail in the middle of a run with a traceback or an unclear "failed to create
output directory". :func:`check_output_folders` finds them at the start, naming the link,
its target and what to do.
"""

from __future__ import annotations

import errno
import os
import shlex
from pathlib import Path
from typing import Any

#: Folders every run writes, relative to the working directory.
WORKFLOW_FOLDERS = ("results", "data", "logs")


class FolderError(ValueError):
    """A folder the workflow writes cannot be used (broken link, file in its place)."""


def folder_problem(path: str | Path) -> str | None:
    """Why ``path`` (or a folder above it) cannot hold the workflow's files; None when it
    can, also when it does not exist yet (it is created). Relative paths are taken from the
    working directory."""
    parts = Path(path).parts
    for i in range(1, len(parts) + 1):
        here = Path(*parts[:i])
        name, q = str(here), shlex.quote(str(here))
        if os.path.islink(here):
            target = os.readlink(here)
            if here.is_dir():
                continue
            try:
                os.stat(here)
            except OSError as err:
                if err.errno == errno.ELOOP:
                    return (f"'{name}' is a link that loops ({name} -> {target} -> ...); "
                            f"replace it by a folder (rm {q}; mkdir {q}) or link it to "
                            f"an existing folder")
                if err.errno in (errno.ENOENT, errno.ENOTDIR):
                    return (f"'{name}' is a link to '{target}', which does not exist (a disk "
                            f"that is not mounted, or a deleted folder?); mount or create "
                            f"'{target}', or replace the link by a folder "
                            f"(rm {q}; mkdir {q})")
                raise
            return (f"'{name}' is a link to '{target}', which is not a folder; link it to a "
                    f"folder or replace it by one (rm {q}; mkdir {q})")
        if not here.exists():
            return None  # created when needed, with everything below it
        if not here.is_dir():
            return f"'{name}' is a file, not a folder; move it away so the folder can be created"
    return None


def check_output_folders(config: dict[str, Any]) -> None:
    """Raise :class:`FolderError` when a folder the workflow writes cannot be used:
    ``results``, ``data``, ``logs``, ``simulation.cache_dir`` and the roots of generated
    tasks (``experiment.tasks.<task>.root`` with ``source: generate``)."""
    folders = [(name, name) for name in WORKFLOW_FOLDERS]
    folders.append(("simulation.cache_dir", (config.get("simulation") or {}).get("cache_dir")))
    for task, spec in ((config.get("experiment") or {}).get("tasks") or {}).items():
        if spec.get("source") == "generate":
            folders.append((f"experiment.tasks.{task}.root", spec.get("root")))
    for key, path in folders:
        problem = folder_problem(path) if path else None
        if problem:
            where = "" if key == path else f"config key '{key}' ({path}): "
            raise FolderError(f"{where}{problem}; nothing was run")
