"""Datasets and deterministic batches for a run (through the ``lra`` package)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from lra.dataset import BucketBatchSampler, LRACollate
from lra.tasks import get_task, load_datasets
from train.spec import RunSpec


def run_datasets(spec: RunSpec) -> dict[str, Dataset]:
    """{'train', 'val', 'test'} datasets of the run, capped at max_train / max_eval.

    The caps take the first examples of each split (the splits' own order is fixed).
    """
    task = get_task(spec.task)
    seq_len = spec.seq_len or task.seq_len
    data = load_datasets(spec.task, root=spec.data_root, cache_dir=spec.cache_dir,
                         level=spec.level, seq_len=seq_len)
    caps = {"train": spec.max_train, "val": spec.max_eval, "test": spec.max_eval}
    out: dict[str, Dataset] = {}
    for split, dataset in data.items():
        cap = caps.get(split)
        out[split] = Subset(dataset, range(min(cap, len(dataset)))) if cap else dataset
    return out


def data_digest(data: dict[str, Dataset]) -> str:
    """SHA-256 (hex) of the full splits behind ``data`` (caps are part of the run spec).

    Regenerated data (other generator settings or seed), edited files or another
    tokenisation give another digest; the same examples reached another way do not.
    """
    h = hashlib.sha256()
    for name in sorted(data):
        dataset = data[name]
        while isinstance(dataset, Subset):
            dataset = dataset.dataset
        h.update(f"{name}={dataset.split.digest()};".encode())
    return h.hexdigest()


def lengths_of(dataset: Dataset) -> np.ndarray:
    """Unpadded lengths of the examples of an LRADataset or a Subset of one."""
    if isinstance(dataset, Subset):
        return np.asarray(lengths_of(dataset.dataset))[list(dataset.indices)]
    return np.asarray(dataset.lengths)


def labels_of(dataset: Dataset) -> np.ndarray:
    """Labels of the examples of an LRADataset or a Subset of one."""
    if isinstance(dataset, Subset):
        return np.asarray(labels_of(dataset.dataset))[list(dataset.indices)]
    return np.asarray(dataset.labels)


def epoch_batches(dataset: Dataset, batch_size: int, seed: int, epoch: int,
                  bucket: bool) -> list[list[int]]:
    """The training batches of one epoch: a function of (seed, epoch) only.

    Batches are full (the last partial batch is dropped), so that every optimiser step
    averages the same number of examples, also when split across processes.
    """
    if bucket:
        sampler = BucketBatchSampler(lengths_of(dataset), batch_size, drop_last=True,
                                     seed=seed)
        sampler.set_epoch(epoch)
        return [list(map(int, b)) for b in sampler]
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(dataset), generator=g).tolist()
    return [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]


def make_batch(dataset: Dataset, indices: list[int], collate: LRACollate,
               device: torch.device) -> dict[str, Any]:
    """Collate the examples ``indices`` and move them to ``device``.

    For paired tasks (Retrieval) tokens/mask become [B, 2, L] for the dual encoder.
    """
    batch = collate([dataset[i] for i in indices])
    if "tokens2" in batch:
        length = max(batch["tokens"].shape[1], batch["tokens2"].shape[1])
        pad = lambda x: torch.nn.functional.pad(x, (0, length - x.shape[1]))  # noqa: E731
        batch["tokens"] = torch.stack([pad(batch["tokens"]), pad(batch.pop("tokens2"))], 1)
        batch["mask"] = torch.stack([pad(batch["mask"]), pad(batch.pop("mask2"))], 1)
    return {k: v.to(device) for k, v in batch.items()}
