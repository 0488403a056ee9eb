"""The paper's speed claim as the paper tested it: training step time of rmaat over rmt at
16 segments x 512 tokens.

    python -m benchmarks.bench_speed_claim                  # 16 x 512 tokens, CPU-sized model
    python -m benchmarks.bench_speed_claim --quick          # batch 1, 3 repeats: a DAG job
    python -m benchmarks.bench_speed_claim --paper-model    # config/paper.yaml's model, batch 32

The paper reports RMAAT training 1.73x faster than RMT on LRA Retrieval, whose pairs it cuts
into 16 segments of 512 tokens. Here each system is its preset with the preset's defaults:
``rmaat`` (astromorphic attention, scalar RF, AMRB) and ``rmt`` (softmax attention, BPTT),
at the same sizes, one sequence of segments x segment-len tokens per sample (a classifier,
no dual encoder: the pair's 16 segments in a row). Default sizes (CPU): batch 2, 4 memory
tokens, d_model 64, 2 layers, 4 heads, dropout 0.1, vocabulary 256, 10 classes, the sizes
of ``bench_peers``; ``--paper-model``: batch 32, 16 memory tokens, d_model 128, 4 layers
(config/paper.yaml's LRA model and batch).

A training step is zero_grad, forward, loss, backward with the preset's driver, and an AdamW
step, under bf16 autocast on CUDA (as ``train.loop`` trains there) and in float32 elsewhere.
Both systems are built, each warmed up by one full step, then timed in ``--repeats``
interleaved rounds (each system once per round, so that load from other processes hits both
alike). Time: CUDA events on a GPU; on a CPU the process's CPU seconds with ``--threads``
torch threads (default 1: robust to other jobs on a shared machine; wall-clock is written
too). speedup_vs_baseline = median step time of rmt + BPTT / median step time of the system.

Output: ``--out`` (default results/benchmarks/speed_claim.csv), one row per system; the
columns are described in docs/gpu.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import RESULTS, print_table, write_csv

PAPER_SPEEDUP = 1.73  # RMAAT over RMT, LRA Retrieval, 16 segments x 512 tokens (the paper)
BASELINE = "rmt"  # the preset whose step time is the denominator
CLAIMED = "rmaat"  # the preset the paper says is faster


@dataclass(frozen=True)
class SpeedSizes:
    """Sizes of the timed training step: counts of samples, segments, tokens, channels."""

    segments: int = 16
    segment_len: int = 512  # tokens per segment (memory tokens not counted)
    batch: int = 2
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    mem_tokens: int = 4
    dropout: float = 0.1
    vocab: int = 256
    classes: int = 10


#: config/paper.yaml's LRA model and batch (the GPU sizes of ``gpu_check`` too).
PAPER_MODEL = {"batch": 32, "d_model": 128, "n_layers": 4, "n_heads": 4, "mem_tokens": 16}


def claim_systems() -> tuple[str, str]:
    """("rmaat+<its default driver>", "rmt+<its default driver>"): ("rmaat+amrb",
    "rmt+bptt") with the presets of model/presets.py."""
    from model.presets import PRESETS

    return (f"{CLAIMED}+{PRESETS[CLAIMED]['driver']}",
            f"{BASELINE}+{PRESETS[BASELINE]['driver']}")


def peers_args(sizes: SpeedSizes, retention: str, **extra: Any) -> argparse.Namespace:
    """``bench_peers``'s arguments at ``sizes`` (its ``make_step`` builds the systems)."""
    from benchmarks import bench_peers

    args = bench_peers.parse_args([])
    args.__dict__.update(segment_len=sizes.segment_len, batch=sizes.batch,
                         d_model=sizes.d_model, layers=sizes.n_layers, heads=sizes.n_heads,
                         mem_tokens=sizes.mem_tokens, dropout=sizes.dropout,
                         vocab=sizes.vocab, classes=sizes.classes, retention=retention,
                         **{"autocast": "auto", **extra})
    return args


def measure(sizes: SpeedSizes, device: Any, repeats: int, systems: Sequence[str],
            retention: str) -> dict[str, dict[str, Any]]:
    """Per system: {'times': [(seconds, CPU seconds)] of ``repeats`` timed steps, 'params',
    'autocast'}; systems are timed in interleaved rounds after one warm-up step each."""
    from benchmarks.bench_peers import make_step, system_by_name
    from benchmarks.measure import event_timed

    args = peers_args(sizes, retention)
    steps: dict[str, Callable[[], None]] = {}
    out: dict[str, dict[str, Any]] = {}
    n = sizes.segments * sizes.segment_len
    for name in systems:
        step, info = make_step(args, system_by_name(name), sizes.segments, device,
                               optimizer_step=True)
        steps[name] = lambda step=step: step(sizes.batch, n)
        out[name] = {"times": [], "params": info["params"], "autocast": info["autocast"]}
    for name in systems:  # warm-up
        event_timed(steps[name], device)
    for _ in range(repeats):
        for name in systems:
            out[name]["times"].append(event_timed(steps[name], device))
    return out


def speed_rows(measured: dict[str, dict[str, Any]], sizes: SpeedSizes, env: dict[str, str],
               cuda: bool) -> list[dict[str, Any]]:
    """One CSV row per system (docs/gpu.md): the median, min and max step time (CUDA-event
    seconds on a GPU, CPU seconds elsewhere), the wall-clock median, and the speed-up over
    the baseline's median (empty when the baseline was not measured)."""
    _, baseline = claim_systems()
    pick = 0 if cuda else 1  # (seconds, CPU seconds)
    medians = {name: statistics.median(t[pick] for t in m["times"])
               for name, m in measured.items()}
    rows = []
    for name, m in measured.items():
        used = [t[pick] for t in m["times"]]
        preset, driver = name.split("+")
        speedup = (medians[baseline] / medians[name]
                   if baseline in medians and medians[name] > 0 else None)
        rows.append({
            **{k: env[k] for k in ("date", "commit", "dirty", "device", "torch", "cuda")},
            "system": name, "preset": preset, "driver": driver, "baseline": baseline,
            **asdict(sizes), "tokens": sizes.segments * sizes.segment_len,
            "autocast": "bf16" if m["autocast"] else "off", "params": m["params"],
            "repeats": len(used), "time_kind": "cuda_events" if cuda else "cpu_process_time",
            "step_median_s": round(medians[name], 9), "step_min_s": round(min(used), 9),
            "step_max_s": round(max(used), 9),
            "wall_median_s": round(statistics.median(t[0] for t in m["times"]), 9),
            "speedup_vs_baseline": round(speedup, 4) if speedup is not None else "",
            "paper_speedup": PAPER_SPEEDUP if preset == CLAIMED else "",
        })
    return rows


def run(sizes: SpeedSizes, device: Any, repeats: int, out: Path) -> list[dict[str, Any]]:
    """Measure both systems at ``sizes`` on ``device`` and write the CSV ``out``; the rows."""
    from benchmarks.provenance import environment
    from model.retention import write_retention_json

    with tempfile.TemporaryDirectory() as tmp:
        retention = str(write_retention_json(Path(tmp) / "rf.json", max(64, sizes.segments)))
        measured = measure(sizes, device, repeats, claim_systems(), retention)
    rows = speed_rows(measured, sizes, environment(device), device.type == "cuda")
    write_csv(out, rows)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_speed_claim", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    d = SpeedSizes()
    p.add_argument("--segments", type=int, default=d.segments)
    p.add_argument("--segment-len", type=int, default=d.segment_len, help="tokens per segment")
    p.add_argument("--batch", type=int, default=None, help=f"samples per step ({d.batch})")
    p.add_argument("--d-model", type=int, default=None, help=f"width ({d.d_model})")
    p.add_argument("--layers", type=int, default=None, help=f"blocks ({d.n_layers})")
    p.add_argument("--heads", type=int, default=None, help=f"attention heads ({d.n_heads})")
    p.add_argument("--mem-tokens", type=int, default=None, help=f"memory tokens ({d.mem_tokens})")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds after the warm-up "
                   "(5; --quick 3)")
    p.add_argument("--quick", action="store_true",
                   help="batch 1 and 3 repeats: a job of the default run on a 2-core CPU")
    p.add_argument("--paper-model", action="store_true",
                   help="config/paper.yaml's model and batch (d_model 128, 4 layers, 16 memory "
                        "tokens, batch 32): for a GPU")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when available")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    p.add_argument("--out", type=Path, default=RESULTS / "speed_claim.csv", help="the CSV")
    args = p.parse_args(argv)
    for name in ("segments", "segment_len", "batch", "d_model", "layers", "heads", "repeats",
                 "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.mem_tokens is not None and args.mem_tokens < 1:
        p.error(f"--mem-tokens must be >= 1, got {args.mem_tokens}")
    return args


def sizes_from_args(args: argparse.Namespace) -> tuple[SpeedSizes, int]:
    """(sizes, repeats) from the command line: defaults, then --quick or --paper-model, then
    explicit options."""
    sizes = SpeedSizes(segments=args.segments, segment_len=args.segment_len)
    repeats = 5
    if args.quick:
        sizes, repeats = replace(sizes, batch=1), 3
    if args.paper_model:
        sizes = replace(sizes, **PAPER_MODEL)
    explicit = {"batch": args.batch, "d_model": args.d_model, "n_layers": args.layers,
                "n_heads": args.heads, "mem_tokens": args.mem_tokens}
    sizes = replace(sizes, **{k: v for k, v in explicit.items() if v is not None})
    if sizes.d_model % sizes.n_heads:
        raise ValueError(f"--d-model {sizes.d_model} must be divisible by --heads "
                         f"{sizes.n_heads}")
    return sizes, args.repeats or repeats


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    import torch

    args = parse_args(argv)
    try:
        sizes, repeats = sizes_from_args(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from err
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda, but torch sees no CUDA device", file=sys.stderr)
        raise SystemExit(2)
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        rows = run(sizes, device, repeats, args.out)
    finally:
        torch.set_num_threads(threads)
    print_table([{k: r[k] for k in ("system", "device", "tokens", "batch", "time_kind",
                                    "step_median_s", "speedup_vs_baseline")} for r in rows])
    claimed = next(r for r in rows if r["preset"] == CLAIMED)
    print(f"{claimed['system']} over {claimed['baseline']} at {sizes.segments} x "
          f"{sizes.segment_len} tokens: {claimed['speedup_vs_baseline']}x (paper "
          f"{PAPER_SPEEDUP}x); wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
