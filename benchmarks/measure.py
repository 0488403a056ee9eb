"""Measuring one training step in a fresh worker process: peak memory and step time.

Shared by ``bench_memory`` and ``bench_peers`` (one owner of the measurement rules).

Peak memory of a step (:func:`step_peak_mb`)
    CPU:  peak resident set size of the process (``ru_maxrss``, a high-water mark) after the
          step minus its value just before it. The high-water mark is first reset to the
          current resident size (Linux ``/proc/self/clear_refs``), so that earlier peaks
          (imports, a warm-up step) do not hide part of the step's; where that is not
          possible the earlier high-water mark stays and the growth is a lower bound. Run
          the worker with :func:`worker_env` ``(live_rss=True)`` (or call
          :func:`set_live_rss`): glibc then maps every block over 64 KiB on its own and
          unmaps it when freed, so resident memory follows the live tensors (the CPU
          analogue of CUDA's allocated memory). With glibc's default adaptive threshold,
          freed blocks stay in the heap and fragmentation adds an allocator-dependent amount.
    CUDA: ``torch.cuda.max_memory_allocated()`` during the step minus the memory allocated
          before it.
Step time (:func:`timed`; :func:`event_timed` with CUDA events)
    wall-clock seconds (after ``torch.cuda.synchronize()`` on CUDA) and CPU seconds of the
    process (``time.process_time``; with one thread, robust to other load on the machine).
    Time with glibc's default allocator settings (or ``set_live_rss(False)``): the 64 KiB
    threshold makes every large tensor a fresh mapping (page faults) and about doubles CPU
    step times.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

LIVE_RSS_MMAP_THRESHOLD = 64 * 1024  # bytes; MALLOC_MMAP_THRESHOLD_ of memory workers


def rss_peak_mb() -> float:
    """High-water mark of this process's resident set size, in MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> bool:
    """Reset this process's resident-set high-water mark to its current resident size
    (Linux >= 4.0: write 5 to /proc/self/clear_refs). False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def synchronize(device: Any) -> None:
    """Wait for queued CUDA work on ``device`` (a torch.device); no-op on a CPU."""
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: Any) -> tuple[float, float]:
    """Run ``fn()`` once: (wall-clock seconds, CPU seconds of this process)."""
    synchronize(device)
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    synchronize(device)
    return time.perf_counter() - t0, time.process_time() - c0


def event_timed(fn: Callable[[], Any], device: Any) -> tuple[float, float]:
    """Run ``fn()`` once: (seconds, CPU seconds of this process). On CUDA the seconds are
    the GPU's own time between two CUDA events recorded around ``fn`` on the current stream
    (after a synchronize, so no earlier work is counted); elsewhere wall-clock, as
    :func:`timed`."""
    if getattr(device, "type", "cpu") != "cuda":
        return timed(fn, device)
    import torch

    torch.cuda.synchronize(device)
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    c0 = time.process_time()
    start.record()
    fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1000.0, time.process_time() - c0  # elapsed_time: ms


def step_peak_mb(fn: Callable[[], Any], device: Any) -> float:
    """Peak memory growth of running ``fn()`` once, in MiB (see the module docstring).

    Run a library warm-up (kernels, thread pools, the autograd engine) before this call.
    """
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    reset_peak_rss()
    base = rss_peak_mb()
    fn()
    return rss_peak_mb() - base


def peak_allocated_mb(device: Any) -> float | None:
    """CUDA: the most memory allocated on ``device`` since the last reset of the peak
    statistics (the one :func:`step_peak_mb` made), in MiB: parameters, optimiser state and
    inputs included. None on a CPU (no such counter)."""
    if getattr(device, "type", "cpu") != "cuda":
        return None
    import torch

    return torch.cuda.max_memory_allocated(device) / 2**20


def worker_env(threads: int, live_rss: bool) -> dict[str, str]:
    """Environment of a worker process: ``threads`` OpenMP threads; with ``live_rss`` the
    64 KiB glibc mmap threshold (memory workers), else glibc's default (timing workers)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    if live_rss:
        env["MALLOC_MMAP_THRESHOLD_"] = str(LIVE_RSS_MMAP_THRESHOLD)
    return env


def run_worker(module: str, argv: Sequence[str], env: dict[str, str]) -> Any:
    """Run ``python -m module *argv`` in a fresh process; return the JSON of its last line.

    Raises RuntimeError with the worker's stderr if it fails.
    """
    cmd = [sys.executable, "-m", module, *argv]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"worker {' '.join(argv)} failed (exit {done.returncode}):\n"
                           f"{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# mallopt(3) parameters of glibc (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
GLIBC_MAX_MMAP_THRESHOLD = 32 * 2**20  # bytes; ceiling of glibc's adaptive threshold (64-bit)


def set_live_rss(live: bool) -> bool:
    """Switch this process's glibc allocator between the two settings of the module docstring.

    ``live=True``: the 64 KiB mmap threshold of memory workers (as ``worker_env``);
    ``live=False``: the timing setting, the mmap threshold at the 32 MiB ceiling that glibc's
    adaptive threshold grows to and a trim threshold twice that (what the default settles
    at once the large blocks of a step have been freed). Returns False where glibc's
    ``mallopt`` is unavailable (then nothing changes).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        return False
    mmap = LIVE_RSS_MMAP_THRESHOLD if live else GLIBC_MAX_MMAP_THRESHOLD
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * mmap))
