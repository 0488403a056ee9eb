"""`inspect`: what a tokenised task holds, as files a person can open.

Writes to the output folder: summary.json (counts, label balance, length statistics),
lengths.csv and lengths.png (token-length histogram per split), examples.txt (a few decoded
examples) and, for image tasks, grid.png (samples, one row per class, labelled).
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .splits import TokenSplit  # noqa: E402
from .tasks import TaskSpec  # noqa: E402


def summarize(spec: TaskSpec, splits: dict[str, TokenSplit]) -> dict:
    """Counts, label balance and token-length statistics per split (JSON-ready)."""
    summary: dict = {"task": spec.name, "title": spec.display_name, "lra": spec.lra, "splits": {}}
    for name, split in splits.items():
        lengths = split.lengths
        counts = np.bincount(split.labels, minlength=spec.num_classes)
        summary["splits"][name] = {
            "examples": len(split),
            "label_counts": counts.tolist(),
            "label_fractions": np.round(counts / max(len(split), 1), 4).tolist(),
            "length_min": int(lengths.min()) if len(split) else 0,
            "length_mean": round(float(lengths.mean()), 1) if len(split) else 0.0,
            "length_max": int(lengths.max()) if len(split) else 0,
            "truncated_at_max_tokens": int((lengths >= spec.max_tokens).sum()),
        }
    return summary


def decode(spec: TaskSpec, ids: np.ndarray, limit: int = 300) -> str:
    """A readable rendering of one example's ids, cut to `limit` characters."""
    if spec.decode is None:
        side = spec.image_side
        return f"{side}x{side} image, pixel mean {float(np.mean(ids)):.1f}, max {int(np.max(ids))}"
    out = spec.decode(ids)
    return out if len(out) <= limit else out[:limit] + " ..."


def write_length_histogram(spec: TaskSpec, splits: dict[str, TokenSplit], out: Path) -> None:
    """lengths.csv (bin edges and counts per split) and lengths.png."""
    edges = np.linspace(0, spec.max_tokens, 41)
    rows = ["bin_start,bin_end," + ",".join(splits)]
    hists = {name: np.histogram(s.lengths, bins=edges)[0] for name, s in splits.items()}
    for i in range(len(edges) - 1):
        counts = ",".join(str(hists[name][i]) for name in splits)
        rows.append(f"{edges[i]:.0f},{edges[i + 1]:.0f},{counts}")
    (out / "lengths.csv").write_text("\n".join(rows) + "\n")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, split in splits.items():
        ax.hist(split.lengths, bins=edges, histtype="step", label=f"{name} (n={len(split)})")
    ax.set_xlabel("tokens per example")
    ax.set_ylabel("examples")
    ax.set_title(f"{spec.display_name}: sequence lengths")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "lengths.png", dpi=100)
    plt.close(fig)


def write_image_grid(
    spec: TaskSpec, split: TokenSplit, path: Path, per_class: int | None = None
) -> None:
    """PNG grid of samples of `split`, one row per class, each titled with its label."""
    side = spec.image_side
    if side is None:
        raise ValueError(f"{spec.name} is not an image task: no image grid")
    per_class = per_class or (8 if spec.num_classes == 2 else 4)
    names = spec.class_names or [str(c) for c in range(spec.num_classes)]
    classes = [c for c in range(spec.num_classes) if (split.labels == c).any()]
    if not classes:
        raise ValueError(f"{spec.name}: no examples to draw")
    tile = max(1.3, side / 64)  # inches per image: larger for Path-X
    fig, axes = plt.subplots(
        len(classes),
        per_class,
        figsize=(tile * per_class, (tile + 0.3) * len(classes)),
        squeeze=False,
    )
    for row, c in enumerate(classes):
        index = np.flatnonzero(split.labels == c)[:per_class]
        for col in range(per_class):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(index):
                image = split.example(int(index[col]))[: side * side].reshape(side, side)
                ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                ax.set_title(f"{c}: {names[c]}", fontsize=7)
    fig.suptitle(f"{spec.display_name}: samples by label", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def inspect_task(
    spec: TaskSpec, splits: dict[str, TokenSplit], out_dir: Path | str, examples: int = 3
) -> dict:
    """Write the inspection files for `splits` to `out_dir`; returns the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(spec, splits)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    write_length_histogram(spec, splits, out)
    lines = [f"{spec.display_name}: first {examples} examples per split", ""]
    for name, split in splits.items():
        for i in range(min(examples, len(split))):
            lines.append(
                f"[{name} {i}] label {int(split.labels[i])}: {decode(spec, split.example(i))}"
            )
            if split.paired:
                lines.append(f"    second document: {decode(spec, split.example2(i))}")
    (out / "examples.txt").write_text("\n".join(lines) + "\n")
    if spec.image_side is not None:
        write_image_grid(spec, splits["train"], out / "grid.png")
    return summary
