"""Pathfinder-32 and Path-X (128 px) loader: metadata text lines + PNGs -> pixel tokens.

`pathfinder{32,128}/<level dir>/metadata/<n>.npy` are read, as LRA and S4 do, as text
lines split on spaces: field 0 = image subfolder `imgs/<n>`, field 1 = file name, field 3 =
label (0/1). Empty image files are skipped (the release has one, S4's blacklist entry
pathfinder32/curv_baseline/imgs/0/sample_172.png). Tokens are the 8-bit pixel values in
row-major order (1,024 for 32 px, 16,384 for Path-X). Examples are ordered by metadata file
number and line; the first 80 % are train, the next 10 % val and the last 10 % test, the
LRA split (TFDS 'train[:80%]', '[80%:90%]', '[90%:]') of 160k / 20k / 20k per level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .errors import DataFormatError, missing_data_error
from .pathfinder_params import LEVEL_DIRS
from .splits import TokenSplit, from_fixed

KNOWN_EMPTY = {"pathfinder32/curv_baseline/imgs/0/sample_172.png"}
TASKS = {32: "pathfinder", 128: "pathx"}


def level_dir(root: Path | str, resolution: int = 32, level: str = "hard") -> Path:
    """The level folder (holding metadata/) under `root`, `root/pathfinder<res>` or `root`."""
    if level not in LEVEL_DIRS:
        raise ValueError(f"level must be one of {sorted(LEVEL_DIRS)}, got {level!r}")
    if resolution not in TASKS:
        raise ValueError(f"resolution must be 32 or 128, got {resolution}")
    root = Path(root)
    name = LEVEL_DIRS[level]
    for folder in (root / f"pathfinder{resolution}" / name, root / name, root):
        if (folder / "metadata").is_dir() and folder.name == name:
            return folder
    raise missing_data_error(
        TASKS[resolution], root / f"pathfinder{resolution}" / name / "metadata"
    )


def metadata_files(folder: Path) -> list[Path]:
    """metadata/<n>.npy files sorted by n."""

    def number(path: Path) -> int:
        try:
            return int(path.stem)
        except ValueError:
            raise DataFormatError(path, "file name", "expected metadata/<n>.npy") from None

    files = sorted(folder.glob("metadata/*.npy"), key=number)
    if not files:
        raise missing_data_error("pathfinder", folder / "metadata" / "0.npy")
    return files


def read_metadata(folder: Path, resolution: int = 32) -> list[tuple[Path, int, str]]:
    """[(image path, label, 'metadata/<n>.npy line <k>'), ...] in release order.

    Empty image files are left out. A row with fewer than 4 fields, a label other than 0/1
    or a listed image that does not exist raises an error naming the metadata file and line.
    """
    entries = []
    for meta in metadata_files(folder):
        try:
            text = meta.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DataFormatError(meta, "file", "metadata is not text lines") from None
        for line_no, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            where = f"line {line_no}"
            fields = line.split(" ")
            if len(fields) < 4:
                raise DataFormatError(
                    meta, where, f"expected >= 4 space-separated fields: {line!r}"
                )
            if fields[3] not in ("0", "1"):
                raise DataFormatError(meta, where, f"label {fields[3]!r} is not 0 or 1")
            path = folder / fields[0] / fields[1]
            if not path.is_file():
                raise DataFormatError(meta, where, f"image {path} does not exist")
            relative = f"pathfinder{resolution}/{folder.name}/{fields[0]}/{fields[1]}"
            if path.stat().st_size == 0 or relative in KNOWN_EMPTY:
                continue
            entries.append((path, int(fields[3]), f"{meta.name} {where}"))
    return entries


def read_png(path: Path, resolution: int, where: str) -> np.ndarray:
    """The (resolution * resolution,) uint8 pixels of one gray PNG, or DataFormatError."""
    try:
        with Image.open(path) as im:
            im.load()
            pixels = np.asarray(im.convert("L") if im.mode != "L" else im)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataFormatError(
            path, f"image listed at metadata/{where}", f"unreadable: {err}"
        ) from None
    if pixels.shape != (resolution, resolution):
        raise DataFormatError(
            path,
            f"image listed at metadata/{where}",
            f"size {pixels.shape}, expected {(resolution, resolution)}",
        )
    return pixels.reshape(-1)


def source_files(root: Path | str, resolution: int = 32, level: str = "hard") -> list[Path]:
    """Metadata files and listed (non-empty) images of one level under `root`."""
    folder = level_dir(root, resolution, level)
    return metadata_files(folder) + [path for path, _, _ in read_metadata(folder, resolution)]


def read_pathfinder(
    root: Path | str, resolution: int = 32, level: str = "hard", progress: bool = True
) -> dict[str, TokenSplit]:
    """Tokenised train/val/test splits (80/10/10 in release order) of one level."""
    folder = level_dir(root, resolution, level)
    entries = read_metadata(folder, resolution)
    if not entries:
        raise DataFormatError(folder / "metadata", "all files", "no non-empty images listed")
    images = np.empty((len(entries), resolution * resolution), dtype=np.uint8)
    labels = np.empty(len(entries), dtype=np.int64)
    for i, (path, label, where) in enumerate(
        tqdm(entries, desc=f"pathfinder{resolution} {level}", disable=not progress, leave=False)
    ):
        images[i] = read_png(path, resolution, where)
        labels[i] = label
    n = len(entries)
    a, b = int(n * 0.8), int(n * 0.9)
    return {
        "train": from_fixed(images[:a], labels[:a]),
        "val": from_fixed(images[a:b], labels[a:b]),
        "test": from_fixed(images[b:], labels[b:]),
    }
