"""Step time and peak memory of every preset x driver and of the public RMT, side by side.

    python -m benchmarks.bench_peers                        # 4, 8, 16, 32, 64 segments
    python -m benchmarks.bench_peers --segments 4 16 --systems rmaat+amrb rmt+bptt

Systems: each recurrent preset (rmt, rlt, rmaat) with each driver (bptt, checkpoint, amrb);
each whole-sequence preset (transformer, linear_transformer, at) with bptt only (one
segment: the three drivers do the same work); and the public RMT package
(``recurrent-memory-transformer-pytorch``, the optional extra ``[peers]``) with full BPTT
(``rmt_public+bptt``) and with its own memory-replay backprop (``rmt_public+mrbp``). Without
the package its rows are skipped with a message. The softmax ``transformer`` is run only
up to ``--whole-max-tokens`` tokens (its attention is quadratic in the sequence length).

Same sizes: batch 2, segments of 512 tokens + 4 memory tokens, d_model 64, 2 layers,
4 heads (head width 16), dropout 0.1, vocabulary 256, one CPU thread, same seeds. The public
RMT is a language model (loss on every next token) and ours are classifiers; it is built
non-causal like ours, without XL memories (RMT's recurrence is the memory tokens alone) and
with plain residuals (``num_residual_streams=1``; the package's default hyper-connections
are a later addition, not part of RMT), dropout on its FFN. Parameter counts are matched on
the trunk (the transformer blocks, where the per-token compute is): the peer's FFN width is
solved so that its blocks hold as many parameters as ours. The totals differ by the peer's
learned position table (S x D) and language-model output layer (D x V + V); both counts are
in the CSV.

One fresh process per point (system, T): set-up, a warm-up step on one sample of two
segments, one step on the real input whose peak memory is measured, then ``--repeats`` timed
steps; the median is reported (``benchmarks.measure``). CPU: peak RSS growth, measured with
glibc's 64 KiB mmap threshold (resident memory follows the live tensors, as in
``bench_memory``), then the threshold is raised to the 32 MiB that glibc's adaptive
threshold grows to, for the timed steps (a 64 KiB threshold makes every large tensor a fresh
mapping and about doubles step times). CUDA: ``max_memory_allocated`` growth, and the steps
run under bf16 autocast (``--autocast auto``).

Outputs in ``--out`` (results/benchmarks): peers.csv, peers.png, peers.md (the tables, the
command, the machine and the timing noise). Ratios are taken from medians of one run; on a
CPU from CPU time (``time.process_time``, one thread: robust to other load), on CUDA from
wall-clock time.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import shlex
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import run_worker, set_live_rss, step_peak_mb, timed, worker_env
from pipeline.io import atomic_write_text

PEER_PACKAGE = "recurrent_memory_transformer_pytorch"
PEER_DIST = "recurrent-memory-transformer-pytorch"
PEER_PRESET = "rmt_public"
PEER_DRIVERS = ("bptt", "mrbp")  # full BPTT; the package's memory-replay backprop
QUADRATIC_PRESETS = ("transformer",)  # whole-sequence softmax: capped by --whole-max-tokens
BASELINE = "rmt+bptt"  # the denominator of the speed ratios in the tables


@dataclass(frozen=True)
class System:
    """One benchmarked system: a preset (ours or the public RMT) trained with one driver."""

    preset: str
    driver: str

    @property
    def name(self) -> str:
        """``preset+driver``, the key used on the command line and in the CSV."""
        return f"{self.preset}+{self.driver}"

    @property
    def is_peer(self) -> bool:
        """True for the public RMT package."""
        return self.preset == PEER_PRESET


def all_systems(with_peer: bool = True) -> list[System]:
    """Recurrent presets x every driver, whole-sequence presets x bptt, then the peer."""
    from model import PRESETS
    from model.config import DRIVERS

    out = []
    for preset, defaults in PRESETS.items():
        drivers = DRIVERS if defaults["recurrent"] else ("bptt",)
        out += [System(preset, d) for d in drivers]
    if with_peer:
        out += [System(PEER_PRESET, d) for d in PEER_DRIVERS]
    return out


def system_by_name(name: str) -> System:
    """The :class:`System` called ``name`` ("preset+driver"); ValueError listing the names."""
    for s in all_systems():
        if s.name == name:
            return s
    raise ValueError(f"unknown system {name!r}; allowed: "
                     f"{', '.join(s.name for s in all_systems())}")


def peer_skip_message() -> str | None:
    """None when the public RMT package can be imported, else why its rows are skipped."""
    if importlib.util.find_spec(PEER_PACKAGE) is not None:
        return None
    return (f"public RMT skipped: the package {PEER_DIST} is not installed "
            "(install the optional extra: pip install -e '.[peers]')")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--segments", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    p.add_argument("--systems", nargs="+", default=None,
                   help="preset+driver names (default: all, see the module docstring)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--segment-len", type=int, default=512)
    p.add_argument("--mem-tokens", type=int, default=4)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5, help="timed steps after the warm-up (>= 5)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--whole-max-tokens", type=int, default=8192,
                   help="longest input for the quadratic whole-sequence transformer")
    p.add_argument("--autocast", choices=("auto", "on", "off"), default="auto",
                   help="bf16 autocast; auto = on CUDA only")
    p.add_argument("--out", type=Path, default=None, help="default results/benchmarks")
    p.add_argument("--worker", nargs=2, metavar=("SYSTEM", "T"), help=argparse.SUPPRESS)
    p.add_argument("--retention", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    for name in args.systems or []:
        try:
            system_by_name(name)
        except ValueError as err:
            p.error(str(err))
    return args


# --- building the systems (worker side) ------------------------------------------------------
def _trunk_params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def build_ours(args: argparse.Namespace, system: System, device: Any,
               n_seg: int) -> tuple[Any, dict]:
    """Our preset at the benchmark sizes for inputs of n_seg segments (the task's T of a
    fixed RF schedule): (model, parameter counts)."""
    import torch

    from model import build_model

    torch.manual_seed(0)
    net = build_model(system.preset, vocab_size=args.vocab, num_classes=args.classes,
                      d_model=args.d_model, n_layers=args.layers, n_heads=args.heads,
                      segment_len=args.segment_len, num_mem_tokens=args.mem_tokens,
                      dropout=args.dropout, retention=args.retention,
                      rf_segments=n_seg).to(device).train()
    return net, {"params": _trunk_params(net), "trunk_params": _trunk_params(net.blocks)}


def peer_kwargs(args: argparse.Namespace, ff_mult: float = 4.0) -> dict[str, Any]:
    """Constructor arguments of the public RMT at the benchmark sizes (module docstring)."""
    return dict(dim=args.d_model, num_tokens=args.vocab, depth=args.layers,
                num_memory_tokens=args.mem_tokens, seq_len=args.segment_len, heads=args.heads,
                dim_head=args.d_model // args.heads, ff_mult=ff_mult, ff_dropout=args.dropout,
                causal=False, use_xl_memories=False, num_residual_streams=1)


def build_peer(args: argparse.Namespace, device: Any, ours_trunk: int) -> tuple[Any, dict]:
    """The public RMT with its FFN width solved to match ``ours_trunk`` block parameters."""
    import torch
    from recurrent_memory_transformer_pytorch import (
        RecurrentMemoryTransformer,
        RecurrentMemoryTransformerWrapper,
    )

    d, layers = args.d_model, args.layers
    probe = RecurrentMemoryTransformer(**peer_kwargs(args))
    inner4 = int(d * 4.0 * 2 / 3)  # the package's GEGLU width for ff_mult 4
    # Its FFN holds 3 * d * inner + d parameters per layer (no biases): solve for inner.
    inner = max(1, inner4 + round((ours_trunk - _trunk_params(probe.layers)) / (3 * d * layers)))
    ff_mult = (inner + 0.5) * 3 / (2 * d)  # the package computes int(d * ff_mult * 2 / 3)
    torch.manual_seed(0)
    core = RecurrentMemoryTransformer(**peer_kwargs(args, ff_mult))
    net = RecurrentMemoryTransformerWrapper(core).to(device).train()
    return net, {"params": _trunk_params(net), "trunk_params": _trunk_params(core.layers),
                 "peer_ff_mult": round(ff_mult, 4)}


def make_step(args: argparse.Namespace, system: System, n_seg: int,
              device: Any, optimizer_step: bool = False) -> tuple[Callable[[int, int], None], dict]:
    """A closure ``step(batch, tokens)`` running one training step (zero_grad, forward,
    loss, backward; with ``optimizer_step`` also an AdamW step, lr 1e-4, as the training
    loop takes) on the first ``batch`` samples and ``tokens`` tokens, and the counts."""
    import torch

    from model.drivers import backward

    use_autocast = args.autocast == "on" or (args.autocast == "auto" and device.type == "cuda")
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, args.vocab, (args.batch, n_seg * args.segment_len + 1),
                           generator=g).to(device)
    labels = torch.randint(0, args.classes, (args.batch,), generator=g).to(device)
    # The peer's sizes are matched to the blocks of our rmt (the RMT of the shared shell).
    net, counts = build_ours(args, System("rmt", "bptt") if system.is_peer else system, device,
                             n_seg)
    if system.is_peer:
        net, counts = build_peer(args, device, counts["trunk_params"])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4) if optimizer_step else None

    def step(b: int, n: int) -> None:
        net.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_autocast):
            if not system.is_peer:
                backward(net, tokens[:b, :n], labels[:b], None, driver=system.driver)
            elif system.driver == "mrbp":  # the package shifts the labels itself: n + 1 tokens
                net(tokens[:b, :n + 1], memory_replay_backprop=True)
            else:
                net(tokens[:b, :n + 1], return_loss=True)[0].backward()
        if opt is not None:
            opt.step()

    return step, {**counts, "autocast": use_autocast}


def worker(args: argparse.Namespace, system: System, n_seg: int) -> dict:
    """One point in this fresh process: peak memory of one step, then the timed repeats."""
    import torch

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    live = device.type == "cpu" and set_live_rss(True)
    step, info = make_step(args, system, n_seg, device)
    n = n_seg * args.segment_len
    step(1, args.segment_len + 2)  # library warm-up: one sample, two segments (second of 2)
    peak = step_peak_mb(lambda: step(args.batch, n), device)
    if live:
        set_live_rss(False)
    times = [timed(lambda: step(args.batch, n), device) for _ in range(args.repeats)]
    walls, cpus = [w for w, _ in times], [c for _, c in times]
    return {"system": system.name, "segments": n_seg, "peak_mb": round(peak, 2),
            "peak_live_rss": live, **info,
            "step_s": round(statistics.median(walls), 4),
            "step_cpu_s": round(statistics.median(cpus), 4),
            "step_min_s": round(min(walls), 4), "step_max_s": round(max(walls), 4),
            "step_cpu_min_s": round(min(cpus), 4), "step_cpu_max_s": round(max(cpus), 4)}


# --- driving the workers ---------------------------------------------------------------------
def skipped(args: argparse.Namespace, system: System, n_seg: int) -> str | None:
    """Why the point (system, T) is not run, or None."""
    tokens = n_seg * args.segment_len
    if system.preset in QUADRATIC_PRESETS and tokens > args.whole_max_tokens:
        return f"{tokens} tokens > --whole-max-tokens {args.whole_max_tokens} (quadratic)"
    return None


def run_all(args: argparse.Namespace) -> tuple[list[dict], list[str]]:
    """Rows of every point (one process each), and the notes on what was skipped."""
    import torch

    from model.retention import write_retention_json

    notes: list[str] = []
    message = peer_skip_message()
    if message:
        print(message, flush=True)
        notes.append(message)
    names = args.systems or [s.name for s in all_systems()]
    systems = [s for s in map(system_by_name, names) if not (s.is_peer and message)]
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name() if cuda else \
        f"CPU ({platform.machine()}, {args.threads} thread{'s' if args.threads > 1 else ''})"
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.retention is None:
            args.retention = str(write_retention_json(Path(tmp) / "rf.json",
                                                      max(64, *args.segments)))
        passthrough = _argv_without_systems(sys.argv[1:])
        for n_seg in args.segments:
            for system in systems:
                why = skipped(args, system, n_seg)
                if why:
                    notes.append(f"{system.name} at T={n_seg} skipped: {why}")
                    continue
                row = run_worker("benchmarks.bench_peers",
                                 [*passthrough, "--retention", args.retention, "--worker",
                                  system.name, str(n_seg)],
                                 worker_env(args.threads, live_rss=False))
                rows.append({"system": system.name, "preset": system.preset,
                             "driver": system.driver, "segments": n_seg,
                             "tokens": n_seg * args.segment_len, "batch": args.batch,
                             "device": device, **{k: v for k, v in row.items()
                                                  if k not in ("system", "segments")}})
                r = rows[-1]
                print(f"  T={n_seg:3d} {system.name:26s} step {r['step_s']:.3f} s "
                      f"(CPU {r['step_cpu_s']:.3f} s)  peak {r['peak_mb']:8.1f} MB", flush=True)
    return rows, notes


def _argv_without_systems(argv: Sequence[str]) -> list[str]:
    """Command-line arguments for the workers: the sizes, not the list of systems/segments."""
    out, skip = [], False
    for a in argv:
        if a in ("--systems", "--segments", "--out"):
            skip = True
            continue
        if skip and not a.startswith("--"):
            continue
        skip = False
        out.append(a)
    return out


# --- tables, targets, plot (pure, tested) ----------------------------------------------------
def time_key(rows: Sequence[dict]) -> str:
    """The time column the ratios use: CPU time on a CPU, wall-clock time on CUDA."""
    return "step_cpu_s" if not rows or str(rows[0]["device"]).startswith("CPU") else "step_s"


def markdown_table(rows: Sequence[dict]) -> str:
    """One line per system, one column per T: 'time s (x vs rmt+bptt) / peak MB'.

    Missing points (skipped) show as '-'. Systems keep the order of first appearance.
    """
    if not rows:
        return "(no rows)\n"
    key = time_key(rows)
    segs = sorted({r["segments"] for r in rows})
    by = {(r["system"], r["segments"]): r for r in rows}
    systems = list(dict.fromkeys(r["system"] for r in rows))
    head = "| system | params | " + " | ".join(
        f"T={s} ({s * rows[0]['tokens'] // rows[0]['segments']:,} tok)" for s in segs) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(segs)]
    for name in systems:
        cells = []
        params = next(r["params"] for r in rows if r["system"] == name)
        for s in segs:
            r, ref = by.get((name, s)), by.get((BASELINE, s))
            if r is None:
                cells.append("-")
                continue
            speed = f" ({ref[key] / r[key]:.2f}x)" if ref else ""
            cells.append(f"{r[key]:.3f} s{speed} / {r['peak_mb']:.0f} MB")
        lines.append(f"| {name} | {params:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def targets(rows: Sequence[dict]) -> list[dict]:
    """The issue's targets, each {'target', 'value', 'goal', 'met'}; those whose points are
    missing are left out. Speed-ups are baseline time / rmaat+amrb time (higher is better),
    memory ratios rmaat+amrb peak / other peak (lower is better)."""
    key = time_key(rows)
    by = {(r["system"], r["segments"]): r for r in rows}
    out = []

    def add(target: str, value: float, goal: float, higher: bool) -> None:
        out.append({"target": target, "value": round(value, 3), "goal": goal,
                    "met": value >= goal if higher else value <= goal})

    a16, a64 = by.get(("rmaat+amrb", 16)), by.get(("rmaat+amrb", 64))
    for s, goal in ((16, 1.73), (64, 2.0)):
        a, r = by.get(("rmaat+amrb", s)), by.get(("rmt+bptt", s))
        if a and r:
            add(f"speed-up of rmaat+amrb over rmt+bptt at T={s}", r[key] / a[key], goal, True)
    b16 = by.get(("rmaat+bptt", 16))
    if a16 and b16:
        add("peak of rmaat+amrb / rmaat+bptt at T=16", a16["peak_mb"] / b16["peak_mb"],
            0.25, False)
    if a16 and a64:
        add("peak of rmaat+amrb at T=64 / at T=16", a64["peak_mb"] / a16["peak_mb"], 1.2, False)
    p16 = by.get((f"{PEER_PRESET}+mrbp", 16))
    if a16 and p16:
        add("speed-up of rmaat+amrb over rmt_public+mrbp at T=16", p16[key] / a16[key], 3.0,
            True)
        add("peak of rmaat+amrb / rmt_public+mrbp at T=16", a16["peak_mb"] / p16["peak_mb"],
            0.25, False)
    return out


def noise_summary(rows: Sequence[dict]) -> str:
    """How noisy the timing was: spread (max - min) / median of the repeats, and how much
    wall-clock exceeded CPU time (waiting for a core on a shared machine)."""
    timed_rows = [r for r in rows if "step_max_s" in r and r["step_s"] > 0]
    if not timed_rows:
        return "no timed points"
    wall = [(r["step_max_s"] - r["step_min_s"]) / r["step_s"] for r in timed_rows]
    cpu = [(r["step_cpu_max_s"] - r["step_cpu_min_s"]) / r["step_cpu_s"] for r in timed_rows
           if r["step_cpu_s"] > 0]
    wait = [r["step_s"] / r["step_cpu_s"] for r in timed_rows if r["step_cpu_s"] > 0]
    return (f"spread (max - min) / median of the repeats: wall-clock median "
            f"{statistics.median(wall):.0%}, worst {max(wall):.0%}; CPU time median "
            f"{statistics.median(cpu):.0%}, worst {max(cpu):.0%}; wall / CPU time median "
            f"{statistics.median(wait):.2f} (1.00 = a core to itself)")


def report_markdown(rows: Sequence[dict], notes: Sequence[str], command: str) -> str:
    """The markdown report: command, machine, table, targets, noise, skipped points."""
    key = time_key(rows)
    what = "CPU time" if key == "step_cpu_s" else "wall-clock time"
    lines = [f"Command: `{command}`", "",
             f"Device: {rows[0]['device'] if rows else '?'}; batch "
             f"{rows[0]['batch'] if rows else '?'}. Cells: median {what} of one training step "
             f"(speed-up vs {BASELINE} in brackets) / peak memory growth of one step.", "",
             markdown_table(rows), "| target | value | goal | met |", "|---|---:|---:|---|"]
    for t in targets(rows):
        lines.append(f"| {t['target']} | {t['value']:.3f} | {t['goal']} | "
                     f"{'yes' if t['met'] else 'no'} |")
    lines += ["", f"Timing noise: {noise_summary(rows)}."]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def report(rows: list[dict], notes: list[str], out: Path, command: str) -> None:
    """CSV, plot, markdown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks import print_table, save_figure, write_csv

    if not rows:
        print("nothing was measured", *notes, sep="\n")
        return
    write_csv(out / "peers.csv", rows)
    key = time_key(rows)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for name in dict.fromkeys(r["system"] for r in rows):
        pts = sorted((r for r in rows if r["system"] == name), key=lambda r: r["segments"])
        style = "o-" if name.startswith("rmaat") else ("s:" if "public" in name else "x--")
        line = axes[0].plot([r["segments"] for r in pts], [r[key] for r in pts], style,
                            label=name)[0]
        axes[1].plot([r["segments"] for r in pts], [r["peak_mb"] for r in pts], style,
                     color=line.get_color(), label=name)
    unit = "GPU max_memory_allocated" if key == "step_s" else "peak RSS growth"
    axes[0].set(ylabel=f"{'CPU' if key == 'step_cpu_s' else 'wall'} time per step (s)",
                title="Training step time")
    axes[1].set(ylabel=f"{unit} (MB)", title="Peak memory of one training step")
    segs = sorted({r["segments"] for r in rows})
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(segs, [str(s) for s in segs])
        ax.minorticks_off()
        ax.set_xlabel(f"segments T of {rows[0]['tokens'] // rows[0]['segments']} tokens")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    save_figure(fig, out / "peers.png")
    text = report_markdown(rows, notes, command)
    atomic_write_text(out / "peers.md", text)
    print_table([{k: r[k] for k in ("system", "segments", "step_s", "step_cpu_s", "peak_mb",
                                    "params")} for r in rows])
    print(text)
    print(f"wrote {out / 'peers.csv'}, {out / 'peers.png'} and {out / 'peers.md'}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        name, n_seg = args.worker
        print(json.dumps(worker(args, system_by_name(name), int(n_seg))))
        return
    out = args.out or Path("results") / "benchmarks"
    command = "python -m benchmarks.bench_peers " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    rows, notes = run_all(args)
    report(rows, notes, out, command.strip())


if __name__ == "__main__":
    main()
