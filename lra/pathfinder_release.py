"""Write a Pathfinder level in the LRA release layout, in parallel, seeded per shard.

Layout (as `pathfinder32/curv_contour_length_14/` of lra_release):
  <out>/<level dir>/imgs/<k>/sample_<i>.png   8-bit gray, resolution x resolution
  <out>/<level dir>/metadata/<k>.npy           text lines despite the suffix, one per image:
      imgs/<k> sample_<i>.png <i> <label> <continuity> <contour_length> <distractor_length>
      <paddle_length> <paddle_thickness> <margin> <number of paddle contrasts>
  <out>/<level dir>/truth/<k>.npz              optional: path_bits (n, H, W) uint32 with bit
      k set on snake k's centre line (0, 1 targets), origins, terminals (n, 2) (y, x), labels
  <out>/<level dir>/generator.json             the parameters, seed and shard size used
Shard k is generated with the NumPy Generator seeded by (seed, resolution, level, k), so the
files do not depend on the number of worker processes. A shard's metadata file is written
last (temporary name + os.replace) and marks it complete: an interrupted run is resumed by
running the same command again; finished shards are skipped.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from pipeline.io import atomic_write_text

from .pathfinder_generator import make_pathfinder_image
from .pathfinder_params import LEVEL_DIRS, LEVELS, PathfinderParams, lra_params

DEFAULT_PER_SHARD = 1_000  # images per metadata file


def shard_rng(seed: int, resolution: int, level: str, shard: int) -> np.random.Generator:
    """The Generator of one shard: independent streams for every (seed, res, level, shard)."""
    return np.random.default_rng([seed, resolution, list(LEVELS).index(level), shard])


def metadata_line(shard: int, index: int, label: int, margin: int, p: PathfinderParams) -> str:
    """One metadata line in the release format (fields separated by single spaces)."""
    fields = [
        f"imgs/{shard}",
        f"sample_{index}.png",
        index,
        label,
        p.continuity,
        p.contour_length,
        p.distractor_length,
        p.paddle_length,
        p.paddle_thickness,
        margin,
        len(p.paddle_contrast),
    ]
    return " ".join(str(f) for f in fields)


def _generate_shard(task: tuple) -> tuple[int, int, float]:
    level_dir, resolution, level, shard, count, seed, save_truth = task
    level_dir = Path(level_dir)
    meta_path = level_dir / "metadata" / f"{shard}.npy"
    if meta_path.exists():
        return shard, 0, 0.0
    start = time.perf_counter()
    params = lra_params(resolution, level)
    rng = shard_rng(seed, resolution, level, shard)
    img_dir = level_dir / "imgs" / str(shard)
    img_dir.mkdir(parents=True, exist_ok=True)
    lines, truth = [], {"path_bits": [], "origins": [], "terminals": [], "labels": []}
    for i in range(count):
        sample = make_pathfinder_image(params, rng)
        Image.fromarray(sample.image, mode="L").save(img_dir / f"sample_{i}.png")
        lines.append(metadata_line(shard, i, sample.label, sample.margin, params))
        if save_truth:
            truth["path_bits"].append(sample.path_bits)
            truth["origins"].append(sample.origin)
            truth["terminals"].append(sample.terminal)
            truth["labels"].append(sample.label)
    if save_truth:
        truth_dir = level_dir / "truth"
        truth_dir.mkdir(exist_ok=True)
        tmp = truth_dir / f".{shard}.tmp-{os.getpid()}.npz"
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in truth.items()})
        os.replace(tmp, truth_dir / f"{shard}.npz")
    tmp = meta_path.with_name(f".{shard}.npy.tmp-{os.getpid()}")
    tmp.write_text("".join(line + "\n" for line in lines))
    os.replace(tmp, meta_path)  # last: marks the shard complete
    return shard, count, time.perf_counter() - start


def generate_pathfinder_release(
    out_dir: Path | str,
    resolution: int = 32,
    level: str = "hard",
    n_images: int = 200_000,
    workers: int = 1,
    seed: int = 0,
    per_shard: int = DEFAULT_PER_SHARD,
    save_truth: bool = False,
    progress: bool = True,
) -> Path:
    """Generate `n_images` of one level under `out_dir/<level dir>/`; returns that folder.

    workers: processes (1 = in this process). save_truth: also write truth/<k>.npz with the
    generator's path mask and marker positions. Re-running resumes; a folder made with other
    settings is refused.
    """
    if n_images < 1 or per_shard < 1 or workers < 1:
        raise ValueError("n_images, per_shard and workers must be >= 1")
    params = lra_params(resolution, level)  # validates resolution and level
    level_dir = Path(out_dir) / LEVEL_DIRS[level]
    (level_dir / "metadata").mkdir(parents=True, exist_ok=True)
    settings = {
        "resolution": resolution,
        "level": level,
        "n_images": n_images,
        "seed": seed,
        "per_shard": per_shard,
        "save_truth": save_truth,
        "params": asdict(params),
    }
    settings_path = level_dir / "generator.json"
    if settings_path.exists():
        try:
            previous = json.loads(settings_path.read_text())
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{settings_path} is not valid JSON ({err}); delete {level_dir} "
                             "and generate it again") from None
        if previous != json.loads(json.dumps(settings)):
            raise ValueError(
                f"{level_dir} holds images generated with other settings ({settings_path}); "
                "use another --out or delete it"
            )
    else:  # atomic: a kill never leaves a half-written marker
        atomic_write_text(settings_path, json.dumps(settings, indent=1))
    tasks = []
    for shard, start in enumerate(range(0, n_images, per_shard)):
        count = min(per_shard, n_images - start)
        tasks.append((str(level_dir), resolution, level, shard, count, seed, save_truth))
    bar = tqdm(
        total=n_images, desc=f"pathfinder{resolution} {level}", unit="img", disable=not progress
    )
    if workers == 1:
        for task in tasks:
            bar.update(_generate_shard(task)[1] or task[4])
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for shard, made, _ in pool.imap_unordered(_generate_shard, tasks):
                bar.update(made or tasks[shard][4])
    bar.close()
    return level_dir
