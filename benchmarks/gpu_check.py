"""One command that proves the GPU path and measures the paper's memory and speed at its
sizes: correctness on the device, peak memory, step time, the public RMT's replay.

    python -m benchmarks.gpu_check                # on a CUDA machine (estimated 2-4 min on an H100)
    python -m benchmarks.gpu_check --smoke        # the same code on a CPU at tiny sizes
    bash .ci/gpu_check.sh                         # on a lent GPU machine (docs/gpu.md)

Sections, in this order, each skipped with a recorded reason once --budget-s is spent:

1. correctness: AMRB's gradients equal plain BPTT's with dropout on (the replay restores the
   CUDA RNG state), float32 (max relative difference <= 1e-5) and float64 (<= 1e-8), for
   rmaat, rmt and rlt;
2. training: the real training loop (train.loop) on a small generated ListOps task under
   bf16 autocast: the loss falls; a run killed twice and resumed equals an uninterrupted
   one (deterministic algorithms where torch has them; the device's own run-to-run
   difference is measured by a second uninterrupted run);
3. speed_claim: benchmarks.bench_speed_claim at the paper's setting, 16 segments x 512
   tokens (also written as speed_claim.csv);
4. points: peak memory (torch.cuda.max_memory_allocated after a reset, and its growth over
   the step) of rmaat+amrb, rmaat+bptt, rmt+bptt and the public RMT's memory-replay backprop
   (rmt_public+mrbp, where recurrent-memory-transformer-pytorch is installed) at 16, 32 and
   64 segments of 512 tokens, and their step time (forward, loss, backward, AdamW step;
   CUDA events after warm-up, median of --repeats) at 512- and 1,024-token segments, 16 and
   64 segments. Out of memory is recorded as such (and larger sizes of that system are
   skipped).

GPU sizes: config/paper.yaml's LRA model and batch (d_model 128, 4 layers, 4 heads, 16 memory
tokens, dropout 0.1, batch 32; the paper publishes no model size), one sequence of
segments x 512 (or 1,024) tokens per sample, under bf16 autocast as train.loop trains on CUDA.
--smoke: the same code on a CPU with one thread at tiny sizes (512 -> 16 and 1,024 -> 32
tokens per segment, 16/32/64 -> 2/3/4 segments, d_model 16, 1 layer, batch 2); memory there
is the resident-set growth of benchmarks.measure, and the absolute peak is not measured.

Writes gpu_check.csv and gpu_check.md (and speed_claim.csv) into --out. Exit status: 0 when
every check passes, 1 when one fails or errors (the files are written first), 2 for bad
input or no CUDA device without --smoke.
"""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import RESULTS
from benchmarks.bench_speed_claim import PAPER_MODEL, SpeedSizes
from benchmarks.device_checks import GradSizes, TrainSizes
from benchmarks.gpu_report import make_row, ratio_rows, sizes_label, write_report

SECTIONS = ("correctness", "training", "speed_claim", "points")
SYSTEMS = ("rmaat+amrb", "rmaat+bptt", "rmt+bptt", "rmt_public+mrbp")
DEFAULT_OUT = RESULTS / "gpu"


@dataclass(frozen=True)
class Profile:
    """The sizes of one run of the check (GPU or smoke)."""

    model: SpeedSizes  # batch and model of the memory/time points and the speed claim
    segment_lens: tuple[int, ...]  # tokens per segment of the timed points (512, 1024)
    memory_segments: tuple[int, ...]  # segments of the memory points, at segment_lens[0]
    time_segments: tuple[int, ...]  # segments of the timed points, at every segment_len
    repeats: int  # timed steps per point
    speed_repeats: int  # interleaved rounds of the speed claim
    grad: GradSizes
    train: TrainSizes
    budget_s: float  # default --budget-s


GPU = Profile(model=SpeedSizes(**PAPER_MODEL), segment_lens=(512, 1024),
              memory_segments=(16, 32, 64), time_segments=(16, 64), repeats=5,
              speed_repeats=10,
              grad=GradSizes(batch=4, segments=6, segment_len=64, d_model=64, n_heads=4,
                             mem_tokens=4),
              train=TrainSizes(n_train=512, n_eval=128, max_length=120, seq_len=128,
                               segment_len=32, d_model=64, n_layers=2, n_heads=4,
                               mem_tokens=4, batch=32, epochs=4),
              budget_s=420.0)
SMOKE = Profile(model=SpeedSizes(batch=2, d_model=16, n_layers=1, n_heads=2, mem_tokens=2),
                segment_lens=(16, 32), memory_segments=(2, 3, 4), time_segments=(2, 4),
                repeats=2, speed_repeats=2, grad=GradSizes(), train=TrainSizes(),
                budget_s=300.0)


class Budget:
    """Seconds left of the run's time budget; a step is allowed when its predicted seconds
    fit into what is left. ``clock`` returns seconds (monotonic)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock, self.start = seconds, clock, clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def allows(self, predicted_s: float = 0.0) -> bool:
        return self.remaining() > predicted_s

    def why_not(self, predicted_s: float = 0.0) -> str:
        return (f"time budget: {self.remaining():.0f} s of --budget-s {self.seconds:.0f} left, "
                f"about {predicted_s:.0f} s needed")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="run the same code on a CPU at tiny sizes (seconds); no CUDA needed")
    p.add_argument("--out", type=Path, default=None,
                   help=f"output folder (default {DEFAULT_OUT}; --smoke: {DEFAULT_OUT}/smoke)")
    p.add_argument("--budget-s", type=float, default=None,
                   help=f"time budget in seconds: measurements that would not fit are skipped "
                        f"with a recorded reason (default {GPU.budget_s:.0f}; --smoke "
                        f"{SMOKE.budget_s:.0f})")
    p.add_argument("--repeats", type=int, default=None,
                   help=f"timed steps per point (default {GPU.repeats}; --smoke "
                        f"{SMOKE.repeats})")
    p.add_argument("--batch", type=int, default=None,
                   help=f"samples per step of the memory and time points (default "
                        f"{GPU.model.batch}; --smoke {SMOKE.model.batch})")
    p.add_argument("--skip", nargs="+", choices=SECTIONS, default=[], metavar="SECTION",
                   help=f"sections not to run: {', '.join(SECTIONS)}")
    args = p.parse_args(argv)
    for name in ("budget_s", "repeats", "batch"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


def profile_from_args(args: argparse.Namespace) -> Profile:
    """The GPU or smoke profile with the command line's overrides."""
    prof = SMOKE if args.smoke else GPU
    if args.repeats:
        prof = replace(prof, repeats=args.repeats)
    if args.batch:
        prof = replace(prof, model=replace(prof.model, batch=args.batch))
    if args.budget_s:
        prof = replace(prof, budget_s=args.budget_s)
    return prof


def is_oom(err: BaseException) -> bool:
    """True for running out of device or host memory (CUDA's OutOfMemoryError, MemoryError,
    or the CPU allocator's failure)."""
    import torch

    text = str(err).lower()
    return (isinstance(err, torch.cuda.OutOfMemoryError | MemoryError)
            or "out of memory" in text or "can't allocate memory" in text)


def free_memory(device: Any) -> None:
    """Drop what the last point left: garbage, and CUDA's cached blocks."""
    gc.collect()
    if device.type == "cuda":
        import torch

        torch.cuda.empty_cache()


class Runner:
    """Runs the sections and collects the rows."""

    def __init__(self, prof: Profile, device: Any, budget: Budget, retention: str,
                 out: Path) -> None:
        self.prof, self.device, self.budget = prof, device, budget
        self.retention, self.out = retention, out
        self.rows: list[dict[str, Any]] = []
        self.cuda = device.type == "cuda"
        from benchmarks.provenance import device_name

        self.device_name = device_name(device)
        self.step_s: dict[str, tuple[int, float]] = {}  # system -> (tokens, seconds) last
        self.oom_at: dict[str, int] = {}  # system -> fewest tokens that ran out of memory

    def add(self, section: str, name: str, kind: str, outcome: str, **kw: Any) -> None:
        self.rows.append(make_row(section, name, kind, outcome, device=self.device_name, **kw))

    # --- 1. correctness -------------------------------------------------------------------
    def correctness(self) -> None:
        import torch

        from benchmarks.device_checks import amrb_matches_bptt

        g = self.prof.grad
        for dtype in (torch.float32, torch.float64):
            for preset in ("rmaat", "rmt", "rlt"):
                kw = dict(system=f"{preset}+amrb", batch=g.batch, segments=g.segments,
                          segment_len=g.segment_len, unit="max rel. diff",
                          sizes=sizes_label(g.batch, g.segments, g.segment_len, g.d_model,
                                            g.n_layers, g.n_heads, g.mem_tokens)
                          + f" dropout={g.dropout} {str(dtype).removeprefix('torch.')}")
                name = f"amrb_equals_bptt_{str(dtype).removeprefix('torch.')}"
                if not self.budget.allows(5):
                    self.add("correctness", name, "check", "error", note=self.budget.why_not(5),
                             **kw)
                    continue
                try:
                    res = amrb_matches_bptt(preset, self.device, dtype, g, self.retention)
                    self.add("correctness", name, "check", "pass" if res["passed"] else "fail",
                             value=res["value"], note=res["note"], **kw)
                except Exception as err:  # noqa: BLE001 - recorded, the next check runs
                    self.add("correctness", name, "check", "error", note=_error(err), **kw)

    # --- 2. training loop -----------------------------------------------------------------
    def training(self) -> None:
        from benchmarks.device_checks import (
            forced_autocast,
            listops_task,
            loss_falls,
            resume_matches,
        )

        t = self.prof.train
        n_seg = -(-t.seq_len // t.segment_len)
        kw = dict(system="rmaat+amrb", batch=t.batch, segments=n_seg, segment_len=t.segment_len,
                  sizes=f"ListOps n_train={t.n_train} seq_len={t.seq_len} "
                        + sizes_label(t.batch, n_seg, t.segment_len, t.d_model, t.n_layers,
                                      t.n_heads, t.mem_tokens))
        checks = (("bf16_training_loss_falls", loss_falls, "last / first epoch loss"),
                  ("resume_equals_uninterrupted", resume_matches, "max rel. diff"))
        if not self.budget.allows(15):  # not even worth generating the task
            for name, _, _ in checks:
                self.add("training", name, "check", "error", note=self.budget.why_not(15), **kw)
            return
        try:
            # bf16 autocast also on a CPU (--smoke); on CUDA the loop's own rule switches it on
            with listops_task(t) as task, forced_autocast(not self.cuda):
                for name, check, unit in checks:
                    if not self.budget.allows(15):
                        self.add("training", name, "check", "error",
                                 note=self.budget.why_not(15), **kw)
                        continue
                    try:
                        res = check(task, self.device, t)
                        self.add("training", name, "check", "pass" if res["passed"] else
                                 "fail", value=res["value"], unit=unit, note=res["note"], **kw)
                    except Exception as err:  # noqa: BLE001 - recorded, the next check runs
                        self.add("training", name, "check", "error", note=_error(err), **kw)
        except Exception as err:  # noqa: BLE001 - the task could not be made: both fail
            for name, _, _ in checks:
                if not any(r["name"] == name for r in self.rows):
                    self.add("training", name, "check", "error", note=_error(err), **kw)

    # --- 3. the paper's speed claim ----------------------------------------------------------
    def speed_claim(self) -> None:
        from benchmarks.bench_speed_claim import PAPER_SPEEDUP
        from benchmarks.bench_speed_claim import run as run_speed

        sizes = replace(self.prof.model, segments=self.prof.memory_segments[0],
                        segment_len=self.prof.segment_lens[0])  # 16 x 512 on a GPU
        label = sizes_label(sizes.batch, sizes.segments, sizes.segment_len, sizes.d_model,
                            sizes.n_layers, sizes.n_heads, sizes.mem_tokens)
        kw = dict(sizes=label, batch=sizes.batch, segments=sizes.segments,
                  segment_len=sizes.segment_len)
        predicted = 2 * (self.prof.speed_repeats + 1) * self._predict("rmt+bptt", sizes)
        if not self.budget.allows(predicted):
            self.add("speed_claim", "speedup", "ratio", "skipped",
                     note=self.budget.why_not(predicted), **kw)
            return
        try:
            rows = run_speed(sizes, self.device, self.prof.speed_repeats,
                             self.out / "speed_claim.csv")
        except Exception as err:  # noqa: BLE001 - recorded
            self.add("speed_claim", "speedup", "ratio", "oom" if is_oom(err) else "error",
                     note=_error(err), **kw)
            free_memory(self.device)
            return
        for r in rows:
            self.step_s[r["system"]] = (sizes.batch * r["tokens"], r["step_median_s"])
            self.add("speed_claim", "step_time", "measurement", "ok", system=r["system"],
                     value=r["step_median_s"], unit="s",
                     note=f"median of {r['repeats']} ({r['time_kind']}, autocast "
                          f"{r['autocast']}; min {r['step_min_s']}, max {r['step_max_s']})",
                     **kw)
        claimed = next(r for r in rows if r["preset"] == "rmaat")
        self.add("speed_claim", "speedup", "ratio", "ok", system=claimed["system"],
                 value=claimed["speedup_vs_baseline"], unit="x",
                 note=f"{claimed['baseline']} / {claimed['system']} median step time; paper: "
                      f"{PAPER_SPEEDUP}x (Retrieval, 16 x 512 tokens)", **kw)

    # --- 4. memory and time points ------------------------------------------------------------
    def points(self) -> None:
        from benchmarks.bench_peers import peer_skip_message

        prof = self.prof
        timed = {(n, t) for n in prof.segment_lens for t in prof.time_segments}
        pts = timed | {(prof.segment_lens[0], t) for t in prof.memory_segments}
        systems = list(SYSTEMS)
        skip_peer = peer_skip_message()
        if skip_peer:
            systems.remove("rmt_public+mrbp")
            self.add("points", "peer", "measurement", "skipped", system="rmt_public+mrbp",
                     note=skip_peer)
        for seg_len, n_seg in sorted(pts, key=lambda p: (p[0] * p[1], p[0])):
            for system in systems:
                self.point(system, n_seg, seg_len, (seg_len, n_seg) in timed)

    def _predict(self, system: str, sizes: SpeedSizes) -> float:
        """Seconds of one step of ``system`` at ``sizes``, scaled by tokens from its last
        measured step (0 when none was measured yet)."""
        tokens, seconds = self.step_s.get(system, (0, 0.0))
        n = sizes.batch * sizes.segments * sizes.segment_len
        return seconds * n / tokens if tokens else 0.0

    def point(self, system: str, n_seg: int, seg_len: int, timing: bool) -> None:
        """Peak memory (and step time when ``timing``) of one system at one size."""
        from benchmarks.bench_peers import make_step, system_by_name
        from benchmarks.bench_speed_claim import peers_args
        from benchmarks.measure import event_timed, peak_allocated_mb, set_live_rss, step_peak_mb

        sizes = replace(self.prof.model, segments=n_seg, segment_len=seg_len)
        label = sizes_label(sizes.batch, n_seg, seg_len, sizes.d_model, sizes.n_layers,
                            sizes.n_heads, sizes.mem_tokens)
        kw = dict(system=system, sizes=label, batch=sizes.batch, segments=n_seg,
                  segment_len=seg_len)
        names = ["peak_memory", "peak_memory_growth"] + (["step_time"] if timing else [])
        tokens = sizes.batch * n_seg * seg_len
        predicted = (2 + (self.prof.repeats if timing else 0)) * self._predict(system, sizes)
        why = None
        if system in self.oom_at and tokens >= self.oom_at[system]:
            why = f"ran out of memory at {self.oom_at[system]:,} tokens per step or fewer"
        elif not self.budget.allows(predicted):
            why = self.budget.why_not(predicted)
        if why:
            for name in names:
                self.add("points", name, "measurement", "skipped", note=why, **kw)
            return
        step = run = None
        done: list[str] = []
        try:
            # bf16 autocast also on a CPU (--smoke): the GPU's code path
            step, info = make_step(peers_args(sizes, self.retention, autocast="on"),
                                   system_by_name(system), n_seg, self.device,
                                   optimizer_step=True)
            n = n_seg * seg_len
            run = lambda: step(sizes.batch, n)  # noqa: E731
            step(1, seg_len + 2)  # library warm-up: one sample, two segments (second of 2)
            live = not self.cuda and set_live_rss(True)
            growth = step_peak_mb(run, self.device)
            peak = peak_allocated_mb(self.device)
            if live:
                set_live_rss(False)
            how = (f"{'bf16 autocast' if info['autocast'] else 'float32'}, "
                   f"{info['params']:,} parameters")
            if peak is None:  # a CPU: one row says so, not one per point
                if not any(r["name"] == "peak_memory" for r in self.rows):
                    self.add("points", "peak_memory", "measurement", "skipped",
                             note="not measured on a CPU (no allocator peak counter); see "
                                  "peak_memory_growth")
            else:
                self.add("points", "peak_memory", "measurement", "ok", value=round(peak, 1),
                         unit="MiB", note=f"max_memory_allocated during the step; {how}", **kw)
            done.append("peak_memory")
            self.add("points", "peak_memory_growth", "measurement", "ok",
                     value=round(growth, 1), unit="MiB",
                     note=("max_memory_allocated minus allocated before the step" if self.cuda
                           else "resident-set growth (64 KiB mmap threshold)") + f"; {how}",
                     **kw)
            done.append("peak_memory_growth")
            if timing:
                times = [event_timed(run, self.device)[0]]
                self.step_s[system] = (tokens, times[0])
                while len(times) < self.prof.repeats and self.budget.allows(times[0]):
                    times.append(event_timed(run, self.device)[0])
                median = statistics.median(times)
                self.step_s[system] = (tokens, median)
                cut = "" if len(times) == self.prof.repeats else \
                    f" (cut from {self.prof.repeats} by the time budget)"
                self.add("points", "step_time", "measurement", "ok", value=round(median, 6),
                         unit="s", note=f"median of {len(times)}{cut}, "
                         f"{'CUDA events' if self.cuda else 'wall-clock'}; min {min(times):.4g}"
                         f", max {max(times):.4g}; {how}", **kw)
                done.append("step_time")
        except Exception as err:  # noqa: BLE001 - recorded, the next point runs
            oom = is_oom(err)
            if oom:
                self.oom_at[system] = min(tokens, self.oom_at.get(system, tokens))
            for name in names:
                if name not in done:
                    self.add("points", name, "measurement", "oom" if oom else "error",
                             note=_error(err), **kw)
        finally:
            step = run = None  # noqa: F841 - drop the model and inputs before freeing
            free_memory(self.device)


def _error(err: BaseException) -> str:
    """One line: the exception's type, message and where it was raised."""
    where = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}{at}"[:400]


def run_check(args: argparse.Namespace, device: Any, command: str) -> list[dict[str, Any]]:
    """Every section not skipped, then the ratios and the files; returns the rows."""
    import tempfile

    from benchmarks.provenance import environment
    from model.retention import write_retention_json

    prof = profile_from_args(args)
    out = args.out or (DEFAULT_OUT / "smoke" if args.smoke else DEFAULT_OUT)
    budget = Budget(prof.budget_s)
    with tempfile.TemporaryDirectory() as tmp:
        retention = str(write_retention_json(Path(tmp) / "rf.json", 64))
        runner = Runner(prof, device, budget, retention, out)
        env = environment(device)
        for key in ("device", "torch", "cuda", "cudnn", "python", "date", "commit", "dirty"):
            runner.add("info", key, "info", "", note=env[key])
        runner.add("info", "command", "info", "", note=command)
        runner.add("info", "profile", "info", "", note=(
            "smoke (CPU, tiny sizes)" if args.smoke else "gpu (config/paper.yaml model)")
            + f"; budget {prof.budget_s:.0f} s; repeats {prof.repeats}")
        for section in SECTIONS:
            if section in args.skip:
                runner.add(section, section, "info", "", note="skipped: --skip")
                continue
            print(f"[{budget.elapsed():6.1f} s] {section}", flush=True)
            getattr(runner, section)()
        runner.rows += ratio_rows(runner.rows, runner.device_name)
        runner.add("info", "elapsed_s", "info", "", note=f"{budget.elapsed():.1f}")
    csv_path, md_path = write_report(runner.rows, out)
    print(f"wrote {csv_path} and {md_path}", flush=True)
    return runner.rows


def main(argv: list[str] | None = None) -> int:
    """Run the check; the exit status (module docstring)."""
    args = parse_args(argv)
    # cuBLAS reads this when its first handle is made: deterministic matrix products for the
    # resume check (before any CUDA work; a value already set is kept).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    if not args.smoke and not torch.cuda.is_available():
        print("error: no CUDA device is visible to torch "
              f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}). "
              "This check measures the GPU path and does not fall back to a CPU: run it on a "
              "GPU machine (docs/gpu.md), or add --smoke to run the same code on a CPU at "
              "tiny sizes.", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.smoke else "cuda")
    command = "python -m benchmarks.gpu_check " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    threads = torch.get_num_threads()
    if args.smoke:
        torch.set_num_threads(1)
    try:
        rows = run_check(args, device, command.strip())
    finally:
        torch.set_num_threads(threads)
    failed = [r for r in rows if r["kind"] == "check" and r["outcome"] != "pass"]
    for r in failed:
        print(f"FAILED {r['name']} {r['system']}: {r['outcome']} ({r['note']})",
              file=sys.stderr)
    print(f"{sum(r['kind'] == 'check' for r in rows) - len(failed)} checks passed, "
          f"{len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
