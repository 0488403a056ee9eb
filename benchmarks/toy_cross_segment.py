"""Can memory carry information across segments? A toy task for the recurrent presets.

    python -m benchmarks.toy_cross_segment [--steps 400]
        [--out results/benchmarks/toy_cross_segment.csv]

Label = class of the first token (one of 4; the other 63 tokens are random distractors),
4 segments of 16 tokens: the answer sits in segment 1 and the classifier reads the last,
so only memory can carry it. d_model 32, 2 layers, 4 memory tokens, AdamW lr 3e-3,
batch 32, no dropout, full BPTT; accuracy on 1,000 fresh sequences (chance 0.25).

Runs rmt, rlt and rmaat variants (write scale m = astro_m, RF mode) and writes one CSV
row per variant. Seeded: the same numbers on every run on one machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from model import build_model
from model.drivers import backward
from model.retention import write_retention_json

VOCAB, CLASSES, LENGTH, SEGMENT = 16, 4, 64, 16

VARIANTS = [  # (name, preset, model overrides)
    ("rmt", "rmt", {}),
    ("rlt", "rlt", {}),
    ("rmaat (paper: m = 100 d, scalar RF)", "rmaat", {}),
    ("rmaat m = 100 d, RF none", "rmaat", {"rf_mode": "none"}),
    ("rmaat m = 1, scalar RF", "rmaat", {"astro_m": 1.0}),
    ("rmaat m = 1, gated RF", "rmaat", {"astro_m": 1.0, "rf_mode": "gated"}),
    ("rmaat m = 1, RF none", "rmaat", {"astro_m": 1.0, "rf_mode": "none"}),
]


def batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens [n, 64] (ids 4..15, first token = label) and labels [n] in 0..3."""
    tokens = torch.randint(CLASSES, VOCAB, (n, LENGTH), generator=gen)
    labels = torch.randint(0, CLASSES, (n,), generator=gen)
    tokens[:, 0] = labels
    return tokens, labels


def accuracy_after_training(preset: str, overrides: dict, retention: str, steps: int) -> float:
    """Train one model for ``steps`` steps and return its accuracy on fresh sequences."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = {"d_model": 32, "n_layers": 2, "n_heads": 4, "num_mem_tokens": 4,
             "segment_len": SEGMENT, "dropout": 0.0, **overrides}
    if model.get("rf_mode", "scalar") != "none":
        model["retention"] = retention
    net = build_model(preset, vocab_size=VOCAB, num_classes=CLASSES, **model)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)
    for _ in range(steps):
        tokens, labels = batch(32, gen)
        opt.zero_grad()
        backward(net, tokens, labels, driver="bptt")
        opt.step()
    net.eval()
    tokens, labels = batch(1000, torch.Generator().manual_seed(99))
    with torch.no_grad():
        return float((net(tokens).argmax(-1) == labels).float().mean())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default="results/benchmarks/toy_cross_segment.csv")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        retention = str(write_retention_json(Path(tmp) / "rf.json", 8))
        for name, preset, overrides in VARIANTS:
            start = time.perf_counter()
            acc = accuracy_after_training(preset, overrides, retention, args.steps)
            rows.append({"variant": name, "preset": preset, "overrides": str(overrides),
                         "steps": args.steps, "accuracy": round(acc, 3), "chance": 0.25,
                         "wall_s": round(time.perf_counter() - start, 1)})
            print(f"{name:40s} accuracy {acc:.3f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(f".{out.name}.tmp")
    pd.DataFrame(rows).to_csv(tmp_out, index=False)
    tmp_out.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
