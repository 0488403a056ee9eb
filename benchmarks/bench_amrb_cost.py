"""What an AMRB step costs, and the fastest it could be: a cost model measured on this machine.

    python -m benchmarks.bench_amrb_cost                  # T = 4, 16, 64 segments of 512 tokens
    python -m benchmarks.bench_amrb_cost --segments 16 --segment-len 512 1024 2048

AMRB (memory replay) runs every segment but the last twice: once without a graph to find the
memory entering each segment, once more with a graph during the backward replay. So one AMRB
step costs about one BPTT step plus (T-1)/T of a forward pass without a graph::

    t_amrb  ~  t_bptt + (T-1)/T * t_forward

For each recurrent preset and T this script measures t_bptt, t_amrb and t_forward (median CPU
seconds of one training step, one torch thread, same sizes as ``bench_peers``: batch 2,
512-token segments + 4 memory tokens, d_model 64, 2 layers, 4 heads, dropout 0.1), prints the
predicted t_amrb next to the measured one, and the speed-up of rmaat + AMRB over rmt + BPTT
that the cost model predicts: ``t_bptt(rmt) / (t_bptt(rmaat) + (T-1)/T * t_forward(rmaat))``.
No replay can beat it by much while it recomputes each segment once; only a cheaper rmaat
step (forward and backward) raises it. Outputs: results/benchmarks/
amrb_cost.csv and amrb_cost.md. Peak memory is ``bench_peers``'s business, not measured here.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm import tqdm

from benchmarks import RESULTS, print_table, write_csv
from model import build_model
from model.config import needs_retention
from model.drivers import backward
from model.presets import resolved_settings
from model.retention import write_retention_json
from pipeline.io import atomic_write_text

PRESETS = ("rmt", "rlt", "rmaat")
MODES = ("bptt", "amrb", "forward")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--segments", type=int, nargs="+", default=[4, 16, 64])
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    p.add_argument("--segment-len", type=int, nargs="+", default=[512],
                   help="tokens per segment (several: one table block each)")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5, help="timed steps after one warm-up")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.repeats < 1 or min(args.segments) < 1 or min(args.segment_len) < 1:
        p.error("--repeats, --segments and --segment-len must be positive")
    return args


def make_step(args: argparse.Namespace, preset: str, n_seg: int, seg_len: int, mode: str,
              retention: Path) -> Callable[[], None]:
    """One training step of ``preset`` on n_seg segments of seg_len tokens (``mode`` bptt /
    amrb), or one forward pass without a graph (``forward``)."""
    torch.manual_seed(0)
    kwargs = dict(vocab_size=256, num_classes=10, d_model=args.d_model, n_layers=args.layers,
                  n_heads=4, segment_len=seg_len, num_mem_tokens=4, dropout=0.1,
                  rf_segments=n_seg)
    if needs_retention(resolved_settings(preset, kwargs)):
        kwargs["retention"] = str(retention)
    net = build_model(preset, **kwargs).train()
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 256, (2, n_seg * seg_len), generator=g)
    labels = torch.randint(0, 10, (2,), generator=g)

    def step() -> None:
        net.zero_grad(set_to_none=True)
        if mode == "forward":
            with torch.no_grad():
                net(tokens)
        else:
            backward(net, tokens, labels, None, driver=mode)

    return step


def median_cpu_seconds(step: Callable[[], None], repeats: int) -> float:
    """Median CPU seconds of ``repeats`` calls after one warm-up call."""
    step()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return statistics.median(times)


def cost_rows(times: dict[tuple[str, int, int, str], float], presets: list[str],
              segments: list[int], segment_lens: list[int]) -> list[dict]:
    """One row per (segment length, T, preset): measured times (keys of ``times``: preset,
    T, segment length, mode), the predicted AMRB time and, for rmaat, the predicted and
    measured speed-up over rmt + BPTT (when both were measured)."""
    rows = []
    for seg_len, n_seg, preset in itertools.product(segment_lens, segments, presets):
        bptt, amrb, fwd = (times[(preset, n_seg, seg_len, m)] for m in MODES)
        predicted = bptt + fwd * (n_seg - 1) / n_seg
        row = {"preset": preset, "segment_len": seg_len, "segments": n_seg,
               "bptt_s": bptt, "amrb_s": amrb,
               "forward_s": fwd, "amrb_predicted_s": predicted,
               "amrb_over_bptt": amrb / bptt}
        if preset == "rmaat" and ("rmt", n_seg, seg_len, "bptt") in times:
            rmt = times[("rmt", n_seg, seg_len, "bptt")]
            row["speedup_vs_rmt_bptt"] = rmt / amrb
            row["speedup_predicted_vs_rmt_bptt"] = rmt / predicted
            row["bptt_speedup_vs_rmt_bptt"] = rmt / bptt
        rows.append(row)
    return rows


def markdown(rows: list[dict], command: str) -> str:
    head = ("| preset | segment | T | BPTT step | AMRB step | forward (no graph) | "
            "AMRB predicted | AMRB / BPTT | rmaat+AMRB over rmt+BPTT: measured / cost model |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
    lines = []
    for r in rows:
        speed = (f"{r['speedup_vs_rmt_bptt']:.2f}× / {r['speedup_predicted_vs_rmt_bptt']:.2f}×"
                 if "speedup_vs_rmt_bptt" in r else "")
        lines.append(f"| {r['preset']} | {r['segment_len']} | {r['segments']} | "
                     f"{r['bptt_s']:.3f} s | "
                     f"{r['amrb_s']:.3f} s | {r['forward_s']:.3f} s | "
                     f"{r['amrb_predicted_s']:.3f} s | {r['amrb_over_bptt']:.2f} | {speed} |")
    return (f"`{command}` ({platform.machine()} CPU, one torch thread; median CPU seconds "
            f"per step)\n\n" + head + "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    torch.set_num_threads(1)
    times: dict[tuple[str, int, int, str], float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        retention = Path(scratch) / "rf.json"
        write_retention_json(retention, max_segments=max(args.segments))
        points = list(itertools.product(args.segment_len, args.segments, args.presets, MODES))
        for seg_len, n_seg, preset, mode in tqdm(points, desc="bench_amrb_cost",
                                                 disable=not sys.stderr.isatty()):
            key = (preset, n_seg, seg_len, mode)
            times[key] = median_cpu_seconds(
                make_step(args, preset, n_seg, seg_len, mode, retention), args.repeats)
            print(f"{preset:6s} segment {seg_len:5d} T={n_seg:3d} {mode:8s} "
                  f"{times[key]:.3f} s", flush=True)
    rows = cost_rows(times, args.presets, args.segments, args.segment_len)
    print_table(rows)
    given = sys.argv[1:] if argv is None else argv
    command = "python -m benchmarks.bench_amrb_cost " + " ".join(given)
    write_csv(args.out / "amrb_cost.csv", rows)
    atomic_write_text(args.out / "amrb_cost.md", markdown(rows, command.strip()))
    return rows


if __name__ == "__main__":
    main()
