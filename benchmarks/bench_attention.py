"""Forward + backward time of softmax, linear and astromorphic attention vs sequence length.

    python -m benchmarks.bench_attention                        # 1K, 2K, 4K, 8K, 16K tokens
    python -m benchmarks.bench_attention --lengths 1024 8192 --repeats 2

What is timed: the attention core of ``model/attention.py`` (``softmax_attention``, i.e.
``scaled_dot_product_attention``; ``linear_attention``; ``astromorphic_attention`` with
alpha = 0.25, m = 100 * d_model and the positional H_astro term), on q, k, v of shape
[batch, heads, N, head_dim] (default 1 x 4 x N x 64, float32, no padding), one call plus
``backward`` of a fixed random output gradient. The q/k/v and output projections are the
same for all three and are left out. Each length runs all attentions once (warm-up), then
``--repeats`` interleaved rounds; the minimum over rounds is reported (median written too),
as wall-clock time and as CPU time of the process (robust to other load with one thread).
Softmax is skipped at a length where its time, extrapolated quadratically from the previous
length, would exceed ``--max-softmax-s`` (the row is written with ``skipped``).

Outputs: results/benchmarks/attention.csv and attention.png; a table and the targets on stdout
(astromorphic >= 10x faster than softmax at 8K tokens, within 1.3x of linear attention).
``--markdown PATH`` also writes the table as markdown headed by the command, the date, the
git commit and the device, for a committed copy (``docs/measured/attention.md``).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from model.attention import astromorphic_attention, linear_attention, softmax_attention

KINDS = ("softmax", "linear", "astromorphic")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--max-softmax-s", type=float, default=60.0,
                   help="skip softmax where its predicted time per call exceeds this")
    p.add_argument("--out", type=Path, default=Path("results") / "benchmarks")
    p.add_argument("--markdown", type=Path, default=None,
                   help="also write the table as markdown with its command, date, commit and "
                        "device (e.g. docs/measured/attention.md)")
    return p.parse_args(argv)


def attention_fn(kind: str, heads: int, d_model: int):
    """The attention core as a function of (q, k, v)."""
    if kind == "softmax":
        return softmax_attention
    if kind == "linear":
        return linear_attention
    decay = torch.tensor([2.0 ** (-8.0 * (i + 1) / heads) for i in range(heads)])
    return lambda q, k, v: astromorphic_attention(q, k, v, alpha=0.25, m=100.0 * d_model,
                                                  decay=decay)


def time_call(fn, q, k, v, grad) -> tuple[float, float]:
    """(wall-clock, process CPU) seconds for fn(q, k, v) and its backward."""
    for x in (q, k, v):
        x.grad = None
    t0, c0 = time.perf_counter(), time.process_time()
    fn(q, k, v).backward(grad)
    if q.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0, time.process_time() - c0


def run(args: argparse.Namespace) -> list[dict]:
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    d_model = args.heads * args.head_dim
    fns = {k: attention_fn(k, args.heads, d_model) for k in KINDS}
    rows, last_softmax = [], None  # (N, seconds) of the last softmax measurement
    for n in args.lengths:
        g = torch.Generator().manual_seed(n)
        shape = (args.batch, args.heads, n, args.head_dim)
        q, k, v, grad = (torch.randn(shape, generator=g).to(device) for _ in range(4))
        for x in (q, k, v):
            x.requires_grad_(True)
        kinds = list(KINDS)
        if last_softmax and last_softmax[1] * (n / last_softmax[0]) ** 2 > args.max_softmax_s:
            kinds.remove("softmax")
        times: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
        for kind in kinds:  # warm-up
            time_call(fns[kind], q, k, v, grad)
        for _ in range(args.repeats):
            for kind in kinds:
                times[kind].append(time_call(fns[kind], q, k, v, grad))
        for kind in KINDS:
            ts = times.get(kind)
            rows.append({"attention": kind, "tokens": n, "device": device.type,
                         "fwd_bwd_s": round(min(w for w, _ in ts), 5) if ts else "skipped",
                         "fwd_bwd_median_s": round(statistics.median(w for w, _ in ts), 5)
                         if ts else "skipped",
                         "fwd_bwd_cpu_s": round(min(c for _, c in ts), 5) if ts else "skipped"})
        if "softmax" in times:
            last_softmax = (n, min(w for w, _ in times["softmax"]))
        print(f"  N={n:6d}  " + "  ".join(
            f"{kind} {min(w for w, _ in times[kind]):.4f} s" if kind in times else
            f"{kind} skipped" for kind in KINDS), flush=True)
    return rows


def report(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks import print_table, save_figure, write_csv

    write_csv(out / "attention.csv", rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    for kind in KINDS:
        pts = [(r["tokens"], r["fwd_bwd_s"]) for r in rows
               if r["attention"] == kind and r["fwd_bwd_s"] != "skipped"]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=kind)
    ax.set(xscale="log", yscale="log", xlabel="tokens N", ylabel="forward + backward (s)",
           title=f"Attention core, {rows[0]['device']}")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, out / "attention.png")
    print_table(rows)
    for col in ("fwd_bwd_s", "fwd_bwd_cpu_s"):
        at = {(r["attention"], r["tokens"]): r[col] for r in rows}
        n = 8192
        if ("astromorphic", n) in at:
            astro, soft, lin = at[("astromorphic", n)], at[("softmax", n)], at[("linear", n)]
            if soft != "skipped":
                print(f"target astromorphic >= 10x faster than softmax at 8K ({col}): "
                      f"{soft / astro:.1f}x -> {'met' if soft / astro >= 10 else 'MISSED'}")
            print(f"target astromorphic within 1.3x of linear at 8K ({col}): {astro / lin:.2f}x"
                  f" -> {'met' if astro / lin <= 1.3 else 'MISSED'}")
        ratios = [f"{r['tokens']}: {r[col] / at[('linear', r['tokens'])]:.2f}x"
                  for r in rows if r["attention"] == "astromorphic"]
        print(f"astromorphic / linear at every length ({col}): " + ", ".join(ratios))
    print(f"wrote {out / 'attention.csv'} and {out / 'attention.png'}")


def _ratio(a: Any, b: Any) -> str:
    """a / b to two decimals, or ``-`` where either was skipped."""
    return "-" if "skipped" in (a, b) else f"{a / b:.2f}"


def markdown_report(rows: list[dict], command: str, env: dict[str, str],
                    shape: str = "[batch, heads, N, head_dim]") -> str:
    """The rows of :func:`run` as a markdown page: provenance first (command, UTC date, git
    commit and whether the tree had changes, device, torch), then one line per length with
    the CPU seconds of forward + backward (minimum over the rounds) and the two ratios the
    targets use. ``shape`` names the q, k, v shape. Seconds; ratios are dimensionless."""
    lines = ["# Attention core: forward + backward time", "",
             f"Written by `{command}` on {env['date']} from commit {env['commit']} (uncommitted "
             f"changes: {env['dirty']}), on {env['device']}, torch {env['torch']}. Do not edit: "
             "rerun the command.", "",
             "CPU seconds of the process (minimum over the rounds; robust to other load with "
             f"one thread) for one call and its backward on float32 q, k, v of shape {shape}. "
             "Targets: softmax / astromorphic >= 10 at 8,192 "
             "tokens, astromorphic / linear <= 1.3.", "",
             "| tokens | softmax (s) | linear (s) | astromorphic (s) | softmax / astromorphic "
             "| astromorphic / linear |",
             "|---:|---:|---:|---:|---:|---:|"]
    cpu = {(r["attention"], r["tokens"]): r["fwd_bwd_cpu_s"] for r in rows}
    for n in sorted({r["tokens"] for r in rows}):
        soft, lin, astro = (cpu[(kind, n)] for kind in KINDS)
        cells = [f"{x:.4f}" if x != "skipped" else "skipped" for x in (soft, lin, astro)]
        lines.append(f"| {n:,} | {' | '.join(cells)} | {_ratio(soft, astro)} "
                     f"| {_ratio(astro, lin)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rows = run(args)
    report(rows, args.out)
    if args.markdown is not None:
        from benchmarks.provenance import environment
        from pipeline.io import atomic_write_text

        env = environment(torch.device(rows[0]["device"]))
        command = shlex.join(["python", "-m", "benchmarks.bench_attention",
                              *(sys.argv[1:] if argv is None else argv)])
        shape = f"[{args.batch}, {args.heads}, N, {args.head_dim}]"
        atomic_write_text(args.markdown, markdown_report(rows, command, env, shape))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
