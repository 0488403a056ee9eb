"""Peak memory and step time of BPTT, checkpointing and AMRB vs the number of segments.

    python -m benchmarks.bench_memory                      # 2, 4, 8, 16, 32 segments
    python -m benchmarks.bench_memory --segments 2 16 --repeats 2

All runs use the same model and inputs (same seeds). A training step is zero_grad + driver
(forward, loss, backward). Default size: rmaat, batch 4, segments of 256 tokens + 8 memory
tokens, d_model 128, 2 layers, 4 heads, dropout 0.1, one CPU thread.

Step time: one process per T runs every driver once (warm-up), then ``--repeats`` rounds
of all drivers interleaved; the reported time is the minimum over rounds (the median is
written too), with glibc's default allocator settings; ``*_cpu_s`` is the minimum CPU time
of the process (``time.process_time``), robust to other load when one thread is used.
This is done with the configured dropout and again with dropout 0 (on a CPU, drawing
dropout masks is a large part of the forward time, and AMRB draws them twice). The machine
may be shared: compare ratios measured in the same process.

Memory measurement
    One fresh process per (driver, T): set-up (model, inputs), a warm-up step on one sample
    of two segments (initialises thread pools, the autograd engine and kernels on every
    code path of the driver; a fraction of the measured step's activations), baseline, one
    training step on the real input, peak.
    CPU:  peak resident set size of the process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``,
          a high-water mark) after that step minus its value just before it. ``peak_mb`` is
          measured with ``MALLOC_MMAP_THRESHOLD_=65536``, so that glibc maps every block
          over 64 KiB on its own and unmaps it when freed: resident memory then follows the
          live tensors (the CPU analogue of CUDA's allocated memory). ``peak_glibc_default_mb``
          repeats it with glibc's default (adaptive) threshold, where freed blocks stay in
          the heap and fragmentation adds an allocator-dependent amount.
    CUDA: ``torch.cuda.max_memory_allocated()`` during the step minus the memory allocated
          before it.
Outputs: results/benchmarks/memory.csv and memory.png; a table and the targets on stdout
(AMRB peak at 16 segments <= 1/8 of BPTT's; AMRB step time <= 1.35x BPTT).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.measure import run_worker, step_peak_mb, timed, worker_env

DRIVERS = ("bptt", "checkpoint", "amrb")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--segments", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    p.add_argument("--drivers", nargs="+", default=list(DRIVERS), choices=DRIVERS)
    p.add_argument("--preset", default="rmaat")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--segment-len", type=int, default=256)
    p.add_argument("--mem-tokens", type=int, default=8)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--repeats", type=int, default=3, help="timed rounds after a warm-up")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--out", type=Path, default=None, help="default results/benchmarks")
    p.add_argument("--worker", nargs=2, metavar=("DRIVER", "T"), help=argparse.SUPPRESS)
    p.add_argument("--retention", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _setup(args: argparse.Namespace, n_seg: int):
    """Model and inputs, identical (same seeds) in every process."""
    import torch

    from model import build_model

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = build_model(args.preset, vocab_size=256, num_classes=10, d_model=args.d_model,
                      n_layers=args.layers, n_heads=args.heads, segment_len=args.segment_len,
                      num_mem_tokens=args.mem_tokens, dropout=args.dropout,
                      retention=args.retention, rf_segments=n_seg).to(device).train()
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 256, (args.batch, n_seg * args.segment_len), generator=g)
    labels = torch.randint(0, 10, (args.batch,), generator=g)
    return net, tokens.to(device), labels.to(device), device


def _timed_step(net, tokens, labels, driver: str, device) -> tuple[float, float]:
    """(wall-clock seconds, CPU seconds of this process) of one training step."""
    from model.drivers import backward

    net.zero_grad(set_to_none=True)
    return timed(lambda: backward(net, tokens, labels, None, driver=driver), device)


def memory_worker(args: argparse.Namespace, driver: str, n_seg: int) -> dict:
    """Peak memory of one training step, in this fresh process."""
    net, tokens, labels, device = _setup(args, n_seg)
    # Library warm-up on one sample of two segments (the second of 2 tokens): initialises
    # thread pools, the autograd engine and kernels on every code path of the driver; its
    # activations are a fraction of the measured step's, so it does not hide its peak.
    _timed_step(net, tokens[:1, :args.segment_len + 2], labels[:1], driver, device)
    peak_mb = step_peak_mb(lambda: _timed_step(net, tokens, labels, driver, device), device)
    return {"driver": driver, "segments": n_seg, "peak_mb": round(peak_mb, 2)}


def time_worker(args: argparse.Namespace, n_seg: int) -> list[dict]:
    """Step times of all drivers on the same model and inputs, interleaved round by round
    (so that load from other processes on a shared machine hits every driver alike); with
    the configured dropout, then again with dropout 0."""
    import torch

    net, tokens, labels, device = _setup(args, n_seg)
    rows = {d: {"driver": d, "segments": n_seg} for d in args.drivers}
    for key, p in (("", args.dropout), ("_nodrop", 0.0)):
        for module in net.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = p
        times: dict[str, list[tuple[float, float]]] = {d: [] for d in args.drivers}
        for d in args.drivers:  # warm-up
            _timed_step(net, tokens, labels, d, device)
        for _ in range(args.repeats):
            for d in args.drivers:
                times[d].append(_timed_step(net, tokens, labels, d, device))
        for d, ts in times.items():
            rows[d][f"step{key}_s"] = round(min(w for w, _ in ts), 4)
            rows[d][f"step{key}_median_s"] = round(statistics.median(w for w, _ in ts), 4)
            rows[d][f"step{key}_cpu_s"] = round(min(c for _, c in ts), 4)
    return list(rows.values())


def _run_worker(args: argparse.Namespace, *worker_args: str, glibc_default: bool = False):
    return run_worker("benchmarks.bench_memory",
                      [*args.passthrough, "--worker", *worker_args, "--retention", args.retention],
                      worker_env(args.threads, live_rss=not glibc_default))


def run_all(args: argparse.Namespace) -> list[dict]:
    """One fresh process per (T, driver, allocator setting) for memory, one per T for the
    interleaved timing."""
    import torch

    from model.retention import write_retention_json

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.retention is None:
            args.retention = str(
                write_retention_json(Path(tmp) / "rf.json", max(64, max(args.segments))))
        args.passthrough = [a for a in sys.argv[1:] if a != "--worker"]
        device = "cuda" if torch.cuda.is_available() else "cpu"
        for n_seg in args.segments:
            timing = {r["driver"]: r for r in _run_worker(args, "time", str(n_seg),
                                                          glibc_default=True)}
            for driver in args.drivers:
                live = _run_worker(args, driver, str(n_seg))["peak_mb"]
                glibc = _run_worker(args, driver, str(n_seg), glibc_default=True)["peak_mb"]
                row = {"driver": driver, "segments": n_seg,
                       "tokens": n_seg * args.segment_len, "batch": args.batch,
                       "device": device, "peak_mb": live, "peak_glibc_default_mb": glibc,
                       **{k: v for k, v in timing[driver].items() if k.startswith("step")}}
                print(f"  T={n_seg:3d} {driver:10s} peak {live:8.1f} MB ({glibc:8.1f} MB "
                      f"glibc default)  step {row['step_s']:.3f} s (CPU {row['step_cpu_s']:.3f}"
                      f" s), without dropout {row['step_nodrop_s']:.3f} s", flush=True)
                rows.append(row)
    return rows


def report(rows: list[dict], out: Path) -> None:
    """CSV, plot, table and the targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks import print_table, save_figure, write_csv

    by = {(r["driver"], r["segments"]): r for r in rows}
    segs = sorted({r["segments"] for r in rows})
    for r in rows:
        ref = by.get(("bptt", r["segments"]))
        r["mem_vs_bptt"] = round(r["peak_mb"] / ref["peak_mb"], 4) if ref else float("nan")
        r["time_vs_bptt"] = round(r["step_s"] / ref["step_s"], 4) if ref else float("nan")
        r["time_nodrop_vs_bptt"] = (round(r["step_nodrop_s"] / ref["step_nodrop_s"], 4)
                                    if ref else float("nan"))
        r["cpu_time_vs_bptt"] = (round(r["step_cpu_s"] / ref["step_cpu_s"], 4)
                                 if ref else float("nan"))
    write_csv(out / "memory.csv", rows)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for driver in DRIVERS:
        pts = [by[(driver, s)] for s in segs if (driver, s) in by]
        if not pts:
            continue
        xs = [r["segments"] for r in pts]
        line = axes[0].plot(xs, [r["peak_mb"] for r in pts], "o-", label=driver)[0]
        axes[0].plot(xs, [r["peak_glibc_default_mb"] for r in pts], "x:",
                     color=line.get_color(), label=f"{driver}, glibc default")
        axes[1].plot(xs, [r["step_cpu_s"] for r in pts], "o-", color=line.get_color(),
                     label=driver)
        axes[1].plot(xs, [r["step_nodrop_cpu_s"] for r in pts], "x--", color=line.get_color(),
                     label=f"{driver}, dropout 0")
    unit = "GPU max_memory_allocated" if rows[0]["device"] == "cuda" else "peak RSS increase"
    axes[0].set(yscale="log", ylabel=f"{unit} (MB)", title="Peak memory of one training step")
    axes[1].set(ylabel="CPU time per step (s)", title="Time of one training step")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(segs, [str(s) for s in segs])
        ax.minorticks_off()
        ax.set_xlabel("segments T")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    save_figure(fig, out / "memory.png")
    print_table(rows)
    if ("amrb", 16) in by and ("bptt", 16) in by:
        for col in ("peak_mb", "peak_glibc_default_mb"):
            m = by[("amrb", 16)][col] / by[("bptt", 16)][col]
            print(f"target AMRB peak memory at 16 segments <= 1/8 of BPTT ({col}): "
                  f"1/{1 / m:.2f} -> {'met' if m <= 1 / 8 else 'MISSED'}")
    for col in ("step_s", "step_cpu_s", "step_nodrop_s", "step_nodrop_cpu_s"):
        ratios = [(s, by[("amrb", s)][col] / by[("bptt", s)][col]) for s in segs
                  if ("amrb", s) in by and ("bptt", s) in by]
        if ratios:
            worst = max(x for _, x in ratios)
            print(f"target AMRB step time <= 1.35x BPTT ({col}): "
                  + ", ".join(f"T={s}: {x:.2f}x" for s, x in ratios)
                  + f" -> {'met' if worst <= 1.35 else 'MISSED'} (max {worst:.2f}x)")
    print(f"wrote {out / 'memory.csv'} and {out / 'memory.png'}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        kind, n_seg = args.worker[0], int(args.worker[1])
        result = time_worker(args, n_seg) if kind == "time" else \
            memory_worker(args, kind, n_seg)
        print(json.dumps(result))
        return
    out = args.out or Path("results") / "benchmarks"
    report(run_all(args), out)


if __name__ == "__main__":
    main()
