"""Does the memory stay bounded over 64 segments? Every preset x handoff x norm x RF mode.

    python -m benchmarks.bench_memory_norm [--retention results/retention/baseline.json]
        [--segments 64] [--out-dir results/benchmarks]

Input: the first 8 Fashion-MNIST test images (real task input, pixel tokens 0..255; Debian
package dataset-fashion-mnist) cut into ``--segments`` segments of 12 pixels (64 x 12 = 768
of the 784 pixels). Models at initialisation (seed 0, eval mode, float64): d_model 64,
2 layers, 4 heads, 4 memory tokens, rf_T fixed with rf_segments = the number of segments.

Memory norm at segment t: the L2 norm of each memory token handed on after segment t
(mem_{t+1}, [D]), averaged over tokens and images. ``ratio_64_1`` = norm after the last
segment / norm after segment 1; a configuration is *bounded* when the ratio is <= 3.
``preset_default`` marks the memory settings each preset uses by default.

The retention file must hold the T used and the 'streaming' entry; without ``--retention``
(or when the file is older than the streaming entry) the demo schedule of
``model.retention.write_retention_json`` (saturating exponential, tau = 4 cycles) is used,
and the CSV says which. Outputs: memory_norm.csv (one row per configuration and segment),
memory_norm_summary.csv, memory_norm.png; the summary table on stdout.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from benchmarks import RESULTS, print_table, save_figure, write_csv
from lra.fashion_mnist import DEBIAN_DIR, read_idx_pair, source_files
from model import build_model
from model.presets import RECURRENT_PRESETS, resolved_settings

PRESET_NAMES = RECURRENT_PRESETS  # rmt, rlt, rmaat
HANDOFFS = ("residual", "normed")
NORMS = ("pre", "post")
RF_MODES = ("none", "scalar", "gated", "delta", "streaming")
SEGMENT, IMAGES, BOUND = 12, 8, 3.0


def fashion_tokens(n_tokens: int, root: str | Path = DEBIAN_DIR) -> torch.Tensor:
    """The first IMAGES test images as pixel tokens [IMAGES, n_tokens] (ids 0..255)."""
    paths = source_files(root)
    images, _ = read_idx_pair(paths[2], paths[3])
    return torch.as_tensor(images[:IMAGES, :n_tokens].astype("int64"))


def usable_retention(path: str | None, segments: int, tmp: Path) -> tuple[str, str]:
    """(path, description): ``path`` if it holds T = segments and 'streaming', else a demo."""
    if path and Path(path).is_file():
        data = json.loads(Path(path).read_text())
        if str(segments) in data.get("schedules", {}) and "streaming" in data:
            return path, path
    demo = tmp / "demo.json"
    from model.retention import write_retention_json

    write_retention_json(demo, segments)
    return str(demo), "demo schedule (saturating exponential, tau = 4 cycles)"


@torch.no_grad()
def memory_norms(preset: str, overrides: dict, tokens: torch.Tensor) -> list[float]:
    """Mean L2 norm of the memory tokens handed on after each segment."""
    torch.manual_seed(0)
    net = build_model(preset, vocab_size=256, num_classes=10, d_model=64, n_layers=2,
                      n_heads=4, num_mem_tokens=4, segment_len=SEGMENT, dropout=0.1,
                      **overrides).double().eval()
    plan = net.plan(tokens, None)
    state = net.initial_state(plan)
    norms = []
    for t in range(plan.num_segments):
        state = net.step(plan, t, state)
        norms.append(float(state[0].norm(dim=-1).mean()))
    return norms


def _sig(x: float) -> float:
    """x rounded to 4 significant digits."""
    return float(f"{x:.4g}")


def is_default(preset: str, handoff: str, norm: str, rf_mode: str) -> bool:
    """True for the memory settings the preset uses without overrides."""
    defaults = resolved_settings(preset, {})
    return (defaults["memory_handoff"] == handoff and defaults["norm"] == norm
            and defaults["rf_mode"] == rf_mode)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--retention", default="results/retention/baseline.json")
    parser.add_argument("--segments", type=int, default=64)
    parser.add_argument("--fashion-root", default=str(DEBIAN_DIR))
    parser.add_argument("--out-dir", default=str(RESULTS))
    args = parser.parse_args(argv)
    if not 2 <= args.segments <= 784 // SEGMENT:
        parser.error(f"--segments must lie in [2, {784 // SEGMENT}]")
    torch.set_num_threads(1)
    tokens = fashion_tokens(args.segments * SEGMENT, args.fashion_root)
    rows, summary = [], []
    with tempfile.TemporaryDirectory() as tmp:
        retention, source = usable_retention(args.retention, args.segments, Path(tmp))
        for preset in PRESET_NAMES:
            for handoff in HANDOFFS:
                for norm in NORMS:
                    for rf_mode in RF_MODES:
                        kw = {"memory_handoff": handoff, "norm": norm, "rf_mode": rf_mode,
                              "rf_T": "fixed", "rf_segments": args.segments,
                              "retention": retention}
                        norms = memory_norms(preset, kw, tokens)
                        config = {"preset": preset, "handoff": handoff, "norm": norm,
                                  "rf_mode": rf_mode}
                        rows += [{**config, "segment": t + 1, "memory_norm": v}
                                 for t, v in enumerate(norms)]
                        ratio = norms[-1] / norms[0]
                        summary.append({
                            **config, "preset_default": is_default(preset, handoff, norm,
                                                                   rf_mode),
                            "norm_1": _sig(norms[0]),
                            "norm_16": _sig(norms[min(15, len(norms) - 1)]),
                            f"norm_{args.segments}": _sig(norms[-1]),
                            f"ratio_{args.segments}_1": _sig(ratio),
                            "bounded": ratio <= BOUND, "retention": source})
    out = Path(args.out_dir)
    write_csv(out / "memory_norm.csv", rows)
    write_csv(out / "memory_norm_summary.csv", summary)
    plot(rows, out / "memory_norm.png", args.segments)
    print_table([{k: v for k, v in r.items() if k != "retention"} for r in summary])
    defaults = [r for r in summary if r["preset_default"]]
    print(f"retention: {source}")
    print("preset defaults bounded (norm at the last segment <= 3x segment 1): "
          + ", ".join(f"{r['preset']} {r[f'ratio_{args.segments}_1']}x" for r in defaults))
    print(f"wrote {out / 'memory_norm.csv'}, memory_norm_summary.csv, memory_norm.png")


def plot(rows: list[dict], path: Path, segments: int) -> None:
    """One panel per preset and norm: memory norm vs segment (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5), sharex=True, sharey=True)
    colors = dict(zip(RF_MODES, plt.cm.tab10.colors, strict=False))
    for i, norm in enumerate(NORMS):
        for j, preset in enumerate(PRESET_NAMES):
            ax = axes[i, j]
            for handoff in HANDOFFS:
                for rf_mode in RF_MODES:
                    ys = [r["memory_norm"] for r in rows if r["preset"] == preset
                          and r["handoff"] == handoff and r["norm"] == norm
                          and r["rf_mode"] == rf_mode]
                    ax.plot(range(1, segments + 1), ys, color=colors[rf_mode],
                            ls="-" if handoff == "normed" else "--",
                            label=f"{rf_mode}, {handoff}")
            ax.set_yscale("log")
            ax.set_title(f"{preset}, {norm}-norm")
            ax.grid(alpha=0.3)
            if i == 1:
                ax.set_xlabel("segment t")
            if j == 0:
                ax.set_ylabel("mean ||mem_{t+1}|| per memory token")
    axes[1, 2].legend(fontsize=7, ncol=2, loc="center right")
    fig.suptitle(f"Memory norm over {segments} segments of Fashion-MNIST at initialisation "
                 "(solid: normed handoff, dashed: residual)")
    save_figure(fig, path)
    plt.close(fig)


if __name__ == "__main__":
    main()
