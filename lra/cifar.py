"""Image (CIFAR-10, grayscale as LRA) loader: `cifar-10-batches-py/` -> 1,024 pixel tokens.

`data_batch_1..5` and `test_batch` are Python pickles with b'data', (n, 3072) uint8 stored as
R, G and B planes of 32x32, and b'labels', n ints in 0..9. Each image becomes one gray byte
per pixel, 0.2989 R + 0.5870 G + 0.1140 B as tf.image.rgb_to_grayscale computes it on uint8
(see `tokenizers.rgb_to_lra_gray`), in row-major order. Splits: the five train
batches in order, the first 90 % train and the last 10 % val (45,000 / 5,000); test_batch.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .errors import DataFormatError, check_label_range, missing_data_error
from .splits import TokenSplit, from_fixed
from .tokenizers import rgb_to_lra_gray

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
NUM_CLASSES = 10
SIDE = 32


def cifar_dir(root: Path | str) -> Path:
    """`root/cifar-10-batches-py`, or `root` itself when it holds the batches."""
    root = Path(root)
    for folder in (root / "cifar-10-batches-py", root):
        if (folder / TEST_BATCH).is_file():
            return folder
    raise missing_data_error("image", root / "cifar-10-batches-py")


def source_files(root: Path | str) -> list[Path]:
    """The six batch files under `root`."""
    folder = cifar_dir(root)
    paths = [folder / name for name in (*TRAIN_BATCHES, TEST_BATCH)]
    for path in paths:
        if not path.is_file():
            raise missing_data_error("image", path)
    return paths


#: The only globals a CIFAR-10 batch refers to: NumPy's array reconstruction (old and new
#: module names) and, in protocol-2 files written by Python 3, ``_codecs.encode`` for bytes
#: (it only encodes a string). Anything else is refused before it is looked up.
ALLOWED_GLOBALS = frozenset({
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
})


class BatchUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS` (dicts, lists, bytes, ints and
    NumPy arrays), so a crafted file in a data root cannot run code when it is read."""

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refers to {module}.{name}, which a CIFAR-10 batch never holds (only NumPy "
                f"arrays, lists, ints and bytes); refusing to load it")
        return super().find_class(module, name)


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Gray images (n, 1024) uint8 and labels (n,) int64 of one CIFAR-10 pickle batch."""
    try:
        with open(path, "rb") as f:
            batch = BatchUnpickler(f, encoding="bytes").load()
        data, labels = batch[b"data"], batch[b"labels"]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError,
            AttributeError, IndexError) as err:
        raise DataFormatError(path, "pickle", f"unreadable CIFAR-10 batch ({err!r})") from None
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE:
        raise DataFormatError(
            path, "b'data'", f"expected (n, 3072) uint8, got {data.shape} {data.dtype}"
        )
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise DataFormatError(
            path, "b'labels'", f"{labels.shape[0]} labels for {data.shape[0]} images"
        )
    check_label_range(path, labels, NUM_CLASSES)
    rgb = data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1)  # (n, 32, 32, 3)
    return rgb_to_lra_gray(rgb).reshape(-1, SIDE * SIDE), labels


def split_train_val(images: np.ndarray, labels: np.ndarray) -> tuple[TokenSplit, TokenSplit]:
    """First 90 % train, last 10 % val, in file order (45,000 / 5,000 for CIFAR-10)."""
    n_val = len(labels) // 10
    n_train = len(labels) - n_val
    return (
        from_fixed(images[:n_train], labels[:n_train]),
        from_fixed(images[n_train:], labels[n_train:]),
    )


def read_image(root: Path | str, progress: bool = True) -> dict[str, TokenSplit]:
    """Tokenised train/val/test splits of CIFAR-10 (grayscale, 1,024 tokens) under `root`."""
    paths = source_files(root)
    parts = [read_cifar_batch(path) for path in paths[:-1]]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    train, val = split_train_val(images, labels)
    test_images, test_labels = read_cifar_batch(paths[-1])
    return {"train": train, "val": val, "test": from_fixed(test_images, test_labels)}
