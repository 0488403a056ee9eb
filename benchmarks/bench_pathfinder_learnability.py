"""Is generated Pathfinder-32 learnable at a CPU budget? Two measurements on fresh images.

    python -m benchmarks.bench_pathfinder_learnability [--n 40000] [--level easy]
        [--epochs 4] [--workers 2] [--seed 7] [--out results/benchmarks/pathfinder_learnability]

1. Marker connectivity with the generator's ground truth. Threshold the image (> 30 of
   255), dilate by 0, 1 or 2 px, label connected components (8-neighbourhood) and ask
   whether the two marker centres fall in one component. If the label were visible to
   such a local rule, P(connected | positive) would be high and P(connected | negative)
   low. In Pathfinder the two target snakes start ``seed_distance`` apart, so a
   negative's markers are one dash gap away from being connected: the difference is a
   gap of about one pixel at 32 px.
2. A small CNN (5 conv layers with batch norm, global max pool; far better suited to
   images than a sequence model) trained with Adam on 90 % of the images, accuracy on the
   other 10 % after each epoch. It shows how many optimiser steps even a convolutional
   network spends at chance before it finds the task (without batch norm the same network
   stayed at exactly ln 2 training loss for 6 epochs).

Prints both and writes ``<out>.csv`` (one row per CNN epoch) and ``<out>.json`` (settings,
connectivity statistics, CNN accuracies, wall times). This is the evidence behind the
statement in docs/benchmarks.md that Pathfinder-32 cannot leave chance within the default
CPU budget.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from torch import nn
from tqdm import tqdm

from lra.pathfinder_generator import make_pathfinder_image
from lra.pathfinder_params import lra_params
from pipeline.io import atomic_write, atomic_write_text

CHUNK = 500  # images per generator task


def _chunk(task: tuple[int, str, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images [n, 32, 32] uint8, labels [n], marker centres [n, 2, 2] of one chunk."""
    seed, level, index, count = task
    params = lra_params(32, level)
    rng = np.random.default_rng([seed, 32, index])
    samples = [make_pathfinder_image(params, rng) for _ in range(count)]
    return (np.stack([s.image for s in samples]), np.array([s.label for s in samples]),
            np.array([[s.origin, s.terminal] for s in samples]))


def generate(n: int, level: str, seed: int, workers: int) -> tuple[np.ndarray, ...]:
    """n images of one level with labels and marker centres (y, x)."""
    tasks = [(seed, level, i, min(CHUNK, n - start))
             for i, start in enumerate(range(0, n, CHUNK))]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = list(tqdm(pool.imap(_chunk, tasks), total=len(tasks), desc="generate",
                          unit="chunk"))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


def connectivity(images: np.ndarray, labels: np.ndarray, markers: np.ndarray,
                 threshold: int = 30) -> list[dict]:
    """P(markers in one component | label) for dilations of 0, 1 and 2 px."""
    rows = []
    for dilation in (0, 1, 2):
        same = np.zeros(len(images), dtype=bool)
        for k, image in enumerate(images):
            on = image > threshold
            if dilation:
                on = ndimage.binary_dilation(on, iterations=dilation)
            comp, _ = ndimage.label(on, structure=np.ones((3, 3)))
            a, b = comp[tuple(markers[k, 0])], comp[tuple(markers[k, 1])]
            same[k] = a > 0 and a == b
        rows.append({"dilation_px": dilation,
                     "p_connected_pos": round(float(same[labels == 1].mean()), 4),
                     "p_connected_neg": round(float(same[labels == 0].mean()), 4),
                     "rule_accuracy": round(float((same == (labels == 1)).mean()), 4)})
    return rows


def small_cnn() -> nn.Module:
    """Five 3x3 conv layers (32-32-64-64-64 channels) with batch norm, two max pools,
    global max pool."""
    def conv(a: int, b: int) -> list[nn.Module]:
        return [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU()]
    return nn.Sequential(*conv(1, 32), *conv(32, 32), nn.MaxPool2d(2), *conv(32, 64),
                         *conv(64, 64), nn.MaxPool2d(2), *conv(64, 64),
                         nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 2))


def train_cnn(images: np.ndarray, labels: np.ndarray, epochs: int, seed: int,
              batch_size: int = 32, lr: float = 1e-3) -> list[dict]:
    """Train on the first 90 %, report accuracy on the last 10 % after every epoch."""
    torch.manual_seed(seed)
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 255.0
    y = torch.tensor(labels)
    split = int(0.9 * len(x))
    net, rows, start = small_cnn(), [], time.perf_counter()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for epoch in range(epochs):
        net.train()
        order, loss_sum, steps = torch.randperm(split), 0.0, 0
        for i in tqdm(range(0, split - batch_size + 1, batch_size), desc=f"cnn epoch {epoch}",
                      leave=False):
            idx = order[i:i + batch_size]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
            loss_sum, steps = loss_sum + loss.item(), steps + 1
        net.eval()
        with torch.no_grad():
            pred = torch.cat([net(x[i:i + 512]).argmax(1) for i in range(split, len(x), 512)])
        rows.append({"epoch": epoch + 1, "train_loss": round(loss_sum / steps, 4),
                     "val_acc": round(float((pred == y[split:]).float().mean()), 4),
                     "val_majority": round(float(max(y[split:].float().mean(),
                                                     1 - y[split:].float().mean())), 4),
                     "wall_s": round(time.perf_counter() - start, 1)})
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=40_000, help="images to generate")
    parser.add_argument("--level", default="easy", choices=("easy", "intermediate", "hard"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", default="results/benchmarks/pathfinder_learnability")
    args = parser.parse_args(argv)
    if args.n < 20 or args.epochs < 1:
        parser.error("--n must be >= 20 and --epochs >= 1")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    images, labels, markers = generate(args.n, args.level, args.seed, args.workers)
    gen_s = time.perf_counter() - start
    conn = connectivity(images, labels, markers)
    for row in conn:
        print("connectivity", row, flush=True)
    cnn = train_cnn(images, labels, args.epochs, args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"n_images": args.n, "level": args.level, "resolution": 32, "seed": args.seed,
               "generate_wall_s": round(gen_s, 1), "connectivity_threshold": 30,
               "connectivity": conn, "cnn": cnn,
               "note": "generated Pathfinder-32 (not the LRA release); CPU"}
    atomic_write_text(out.with_suffix(".json"), json.dumps(summary, indent=1))
    table = pd.DataFrame(cnn).assign(n_images=args.n, level=args.level)
    atomic_write(out.with_suffix(".csv"), lambda tmp: table.to_csv(tmp, index=False))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
