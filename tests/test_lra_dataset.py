"""Padding, masks, collate and length bucketing of the PyTorch dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lra import BucketBatchSampler, LRACollate, LRADataset, get_task
from lra.splits import from_fixed, from_sequences


def ragged(lengths: list[int], paired: bool = False):
    seqs = [np.arange(1, n + 1, dtype=np.uint16) for n in lengths]
    labels = [i % 2 for i in range(len(lengths))]
    second = [np.full(n + 1, 7, dtype=np.uint16) for n in lengths] if paired else None
    return from_sequences(seqs, labels, dtype=np.uint16, sequences2=second)


def test_item_padding_and_mask():
    data = LRADataset(ragged([3, 5]), seq_len=8)
    item = data[0]
    assert item["tokens"].tolist() == [1, 2, 3, 0, 0, 0, 0, 0]
    assert item["mask"].tolist() == [True] * 3 + [False] * 5
    assert item["tokens"].dtype == torch.long and item["mask"].dtype == torch.bool
    assert item["label"].item() == 0 and data[1]["label"].item() == 1
    short = LRADataset(ragged([10]), seq_len=4)[0]  # truncation to seq_len
    assert short["tokens"].tolist() == [1, 2, 3, 4] and short["mask"].all()


def test_pairs_have_second_document():
    item = LRADataset(ragged([2, 4], paired=True), seq_len=6)[1]
    assert item["tokens2"].tolist() == [7] * 5 + [0]
    assert item["mask2"].sum().item() == 5


def test_collate_task_length_and_trim():
    data = LRADataset(ragged([3, 5, 2], paired=True), seq_len=16)
    items = [data[i] for i in range(3)]
    full = LRACollate()(items)
    assert full["tokens"].shape == (3, 16) and full["label"].shape == (3,)
    trimmed = LRACollate(trim_to_batch=True, multiple_of=4)(items)
    assert trimmed["tokens"].shape == (3, 8)  # longest real = 6 (second doc), rounded up to 8
    assert trimmed["mask2"].shape == (3, 8)
    assert torch.equal(trimmed["tokens"], full["tokens"][:, :8])


def test_bucket_sampler_covers_everything_and_groups_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 1000, 500)
    sampler = BucketBatchSampler(lengths, batch_size=10, pool_batches=10, seed=1)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 50
    assert sorted(i for b in batches for i in b) == list(range(500))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[rng.permutation(500)[:10]]) for _ in range(50)])
    assert spread < random_spread / 3
    again = list(BucketBatchSampler(lengths, batch_size=10, pool_batches=10, seed=1))
    assert again == batches
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_bucket_sampler_drop_last_len():
    sampler = BucketBatchSampler(np.arange(25), batch_size=4, pool_batches=2, drop_last=True)
    assert len(sampler) == len(list(sampler)) == 6
    keep = BucketBatchSampler(np.arange(25), batch_size=4, pool_batches=2, drop_last=False)
    assert len(keep) == len(list(keep)) == 7  # pools of 8, 8, 8, 1: 2 + 2 + 2 + 1


def test_dataloader_end_to_end_images():
    images = np.arange(6 * 784, dtype=np.int64).reshape(6, 784) % 256
    data = LRADataset(from_fixed(images.astype(np.uint8), np.arange(6) % 10), seq_len=1024)
    batch = next(iter(DataLoader(data, batch_size=4, collate_fn=LRACollate())))
    assert batch["tokens"].shape == (4, 1024) and batch["mask"][:, :784].all()
    assert not batch["mask"][:, 784:].any()


def test_task_table():
    assert get_task("listops").seq_len == 2048 and get_task("pathx").seq_len == 16384
    assert get_task("fashion_mnist").display_name == "Fashion-MNIST (not LRA)"
    assert get_task("retrieval").paired
    with pytest.raises(ValueError, match="unknown task"):
        get_task("cifar100")
    with pytest.raises(ValueError):
        LRADataset(ragged([1]), seq_len=0)


def test_package_imports_no_later_stage():
    import subprocess
    import sys

    code = (
        "import sys, lra, lra.cli, lra.inspect; "
        "later = {'model', 'simulation', 'distill'}; "
        "bad = sorted({m.split('.')[0] for m in sys.modules} & later); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
