"""Fashion-MNIST (NOT LRA) through the Image pipeline: IDX files -> 784 pixel tokens.

A real image-sequence task that installs offline from Debian:
    apt-get install -y dataset-fashion-mnist   # files in /usr/share/datasets/fashion-mnist
Files: {train,t10k}-{images-idx3,labels-idx1}-ubyte, optionally gzipped. Each 28x28 image is
784 gray tokens 0-255 in row-major order (pad to 1,024 with the dataset's seq_len if wanted).
Splits like Image: the first 90 % of train is train, the last 10 % val (54,000 / 6,000);
t10k is test (10,000). Report results on it as "Fashion-MNIST (not LRA)".
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .cifar import split_train_val
from .errors import DataFormatError, check_label_range, missing_data_error
from .splits import TokenSplit, from_fixed

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
NUM_CLASSES = 10
_IMAGES_MAGIC, _LABELS_MAGIC = 0x0803, 0x0801  # IDX: unsigned byte, 3 dims / 1 dim
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    raise missing_data_error("fashion_mnist", root / stem)


def source_files(root: Path | str = DEBIAN_DIR) -> list[Path]:
    """The four IDX files under `root` (plain or .gz), train images first."""
    root = Path(root)
    if not root.is_dir():
        raise missing_data_error("fashion_mnist", root)
    return [_find(root, stem) for pair in FILES.values() for stem in pair]


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """The uint8 array stored in an IDX file; bad magic or truncation raises DataFormatError."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise DataFormatError(path, "gzip stream", f"unreadable ({err})") from None
    if len(data) < 4:
        raise DataFormatError(path, "byte 0", "file shorter than the 4-byte IDX magic")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise DataFormatError(
            path, "byte 0", f"IDX magic {magic:#06x}, expected {expected_magic:#06x}"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFormatError(path, "header", "truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    item = int(np.prod(shape[1:], dtype=np.int64))
    available = (len(data) - header) // max(item, 1)
    if available < shape[0]:
        raise DataFormatError(
            path,
            f"index {available}",
            f"truncated: header promises {shape[0]} items, file holds {available}",
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header, count=shape[0] * item).reshape(shape)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, rows * cols) uint8 and labels (n,) int64 from matching IDX files."""
    images = read_idx(images_path, _IMAGES_MAGIC)
    labels = read_idx(labels_path, _LABELS_MAGIC).astype(np.int64)
    if len(images) != len(labels):
        raise DataFormatError(
            labels_path, "header", f"{len(labels)} labels for {len(images)} images"
        )
    check_label_range(labels_path, labels, NUM_CLASSES)
    return images.reshape(len(images), -1), labels


def read_fashion_mnist(
    root: Path | str = DEBIAN_DIR, progress: bool = True
) -> dict[str, TokenSplit]:
    """Tokenised train/val/test splits of Fashion-MNIST (not LRA), 784 tokens each."""
    paths = source_files(root)
    train_images, train_labels = read_idx_pair(paths[0], paths[1])
    test_images, test_labels = read_idx_pair(paths[2], paths[3])
    train, val = split_train_val(train_images, train_labels)
    return {"train": train, "val": val, "test": from_fixed(test_images, test_labels)}
