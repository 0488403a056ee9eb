"""One writer per run folder: ``train run`` holds an exclusive lock on ``<folder>/.lock``.

The lock is ``fcntl.flock`` on that file, held from before the first file of the run is read
or moved until the process ends. The kernel releases it when its holder ends, however it
ends (a normal exit, an exception, ``kill -9``, the out-of-memory killer), so the lock of a
dead process never blocks. The file holds who took it (pid, host, start time, command
line): a second process is refused with an error naming the holder, and a holder that ended
without releasing the lock (killed) leaves its details behind, which the next holder logs
as a warning when it takes the lock over. A process that forked a child which is still
running keeps the lock through it; the error then says that the pid it names is gone.

The file is never deleted: removing a lock file that another process has open would give
two holders of two different files.

``flock`` works on local file systems and on NFS (Linux turns it into a POSIX record lock);
where a file system refuses locks, the run goes ahead without the guarantee and says so.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.folders import FolderError, folder_problem

log = logging.getLogger(__name__)

#: Name of the lock file inside a run folder.
LOCK_NAME = ".lock"


class RunFolderBusy(ValueError):
    """Another running process holds the run folder's lock (the CLI exits with code 2)."""


def holder_info() -> dict[str, Any]:
    """Who this process is, as written into the lock file (start time in local ISO format)."""
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join([sys.executable, *sys.argv])}


def describe_holder(info: dict[str, Any] | None, raw: str = "") -> str:
    """'pid 123 on host h (started ..., command ...)', or what the file says if not JSON."""
    if not info:
        return f"an unknown process (lock file content: {raw.strip()[:200]!r})" if raw.strip() \
            else "another process (it has not written its details yet)"
    return (f"pid {info.get('pid')} on host {info.get('host')} (started {info.get('started')}, "
            f"command: {info.get('command')})")


def read_holder(path: str | Path) -> tuple[dict[str, Any] | None, str]:
    """(parsed details, raw text) of a lock file; (None, "") when empty or missing."""
    try:
        raw = Path(path).read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return None, ""
    try:
        info = json.loads(raw)
    except ValueError:
        return None, raw
    return (info if isinstance(info, dict) else None), raw


def _pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError, OverflowError):
        return True  # someone else's process, or no pid to check: assume alive
    return True


def busy_message(folder: Path, info: dict[str, Any] | None, raw: str) -> str:
    """The error of a second writer: the folder, the holder and what to do."""
    lock = folder / LOCK_NAME
    text = (f"run folder {folder} is in use: {describe_holder(info, raw)} holds its lock "
            f"({lock}). A second run there would overwrite the first one's checkpoints and "
            f"results, so nothing was changed. Wait until it ends, or stop it")
    if info and info.get("pid") is not None:
        text += f" (kill {info['pid']} on host {info.get('host')})"
    text += ", then rerun."
    if info and info.get("host") == socket.gethostname() and not _pid_alive(info.get("pid")):
        text += (f" Pid {info.get('pid')} is no longer running, but a process it started still "
                 f"holds the lock: find it with `fuser -v {lock}`.")
    return text


@contextmanager
def run_folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the exclusive lock of run folder ``folder`` (created if missing) for the block.

    Raises :class:`RunFolderBusy` at once, naming the holder, when a running process holds
    it, and :class:`pipeline.folders.FolderError` when the folder lies under a broken link.
    Yields the lock file's path.
    """
    folder = Path(folder)
    problem = folder_problem(folder)
    if problem:
        raise FolderError(f"run folder {folder}: {problem}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        locked = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunFolderBusy(busy_message(folder, *read_holder(path))) from None
            log.warning("cannot lock %s (%s; a file system without locks?): running without "
                        "the one-writer-per-folder guarantee", path, err)
            locked = False
        if locked:
            previous, raw = read_holder(path)
            if previous or raw.strip():
                log.warning("%s: the previous holder, %s, ended without releasing its lock "
                            "(killed?); taking it over", folder, describe_holder(previous, raw))
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder_info()) + "\n").encode(), 0)
        try:
            yield path
        finally:
            if locked:
                os.ftruncate(fd, 0)  # a clean release leaves no holder behind
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
