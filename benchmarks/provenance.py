"""Where a benchmark's numbers come from: date, git commit, device and library versions.

Shared by ``bench_speed_claim`` and ``gpu_check``. The commit is read with ``git``; where the
tree is no git checkout (a copy on a lent GPU machine), from the environment variable
``GPU_CHECK_COMMIT`` (``.ci/gpu_check.sh`` sets it from the stamp that ``--prepare`` wrote),
else it is ``unknown``.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
COMMIT_ENV = "GPU_CHECK_COMMIT"  # "<sha> [dirty]" where the tree is not a git checkout


def utc_now() -> str:
    """The current time, UTC, ISO 8601 to the second (e.g. ``2026-11-20T14:03:07Z``)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def git_state(repo: Path = REPO) -> tuple[str, str]:
    """(commit, dirty) of the checkout at ``repo``: the full SHA and ``yes``/``no`` (tracked
    files changed or untracked files present); ``("<sha>", "unknown")`` or
    ``("unknown", "unknown")`` from :data:`COMMIT_ENV` or nothing where git cannot tell."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                              text=True, check=True, timeout=30).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=repo,
                                capture_output=True, text=True, check=True,
                                timeout=30).stdout
        return head, "yes" if status.strip() else "no"
    except (OSError, subprocess.SubprocessError):
        pass
    stamp = os.environ.get(COMMIT_ENV, "").split()
    if stamp:
        return stamp[0], "yes" if "dirty" in stamp[1:] else "no (stamped)"
    return "unknown", "unknown"


def device_name(device: Any, threads: int | None = None) -> str:
    """A readable name of a torch device: the GPU's name, or ``CPU (<arch>, <n> threads)``."""
    import torch

    if getattr(device, "type", "cpu") == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads() if threads is None else threads
    return f"CPU ({platform.machine()}, {n} thread{'s' if n != 1 else ''})"


def environment(device: Any) -> dict[str, str]:
    """Date, commit, dirty flag, device and versions (torch, CUDA, cuDNN, Python) as strings;
    CUDA and cuDNN are ``none`` on a CPU-only torch."""
    import torch

    commit, dirty = git_state()
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"date": utc_now(), "commit": commit, "dirty": dirty,
            "device": device_name(device), "torch": torch.__version__,
            "cuda": str(torch.version.cuda or "none"), "cudnn": str(cudnn or "none"),
            "python": platform.python_version()}
