"""PyTorch view of a tokenised split: padded tokens, masks, labels, collate and bucketing.

Each item is a dict of tensors:
  tokens (L,) int64, mask (L,) bool (True = real token), label () int64,
  and for Retrieval also tokens2 (L,) and mask2 (L,).
L is the task length (e.g. 2,048 for ListOps) unless the collate trims to the batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .splits import TokenSplit


class LRADataset(Dataset):
    """A split as a map-style dataset; examples are padded to `seq_len` with `pad_id`.

    Examples longer than `seq_len` are truncated (loaders already truncate to the task's
    token limit, so this only matters when a smaller `seq_len` is asked for).
    """

    def __init__(self, split: TokenSplit, seq_len: int, pad_id: int = 0, name: str = "") -> None:
        if seq_len <= 0:
            raise ValueError(f"seq_len must be positive, got {seq_len}")
        self.split = split
        self.seq_len = seq_len
        self.pad_id = pad_id
        self.name = name

    def __len__(self) -> int:
        return len(self.split)

    @property
    def lengths(self) -> np.ndarray:
        """(N,) unpadded lengths, capped at seq_len; used by the bucketing sampler."""
        return np.minimum(self.split.lengths, self.seq_len)

    @property
    def labels(self) -> np.ndarray:
        """(N,) int64 class labels."""
        return self.split.labels

    def _pad(self, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        ids = ids[: self.seq_len]
        tokens = torch.full((self.seq_len,), self.pad_id, dtype=torch.long)
        tokens[: len(ids)] = torch.from_numpy(ids.astype(np.int64))
        mask = torch.zeros(self.seq_len, dtype=torch.bool)
        mask[: len(ids)] = True
        return tokens, mask

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        tokens, mask = self._pad(self.split.example(i))
        item = {"tokens": tokens, "mask": mask, "label": torch.tensor(int(self.split.labels[i]))}
        if self.split.paired:
            item["tokens2"], item["mask2"] = self._pad(self.split.example2(i))
        return item


class LRACollate:
    """Stack dataset items into a batch dict of tensors (B, L) / (B,).

    trim_to_batch=False keeps the task length L (the LRA setting). trim_to_batch=True cuts
    every sequence to the longest real length in the batch, rounded up to `multiple_of`,
    which together with `BucketBatchSampler` saves most of the padding work.
    """

    def __init__(self, trim_to_batch: bool = False, multiple_of: int = 1) -> None:
        if multiple_of < 1:
            raise ValueError(f"multiple_of must be >= 1, got {multiple_of}")
        self.trim_to_batch = trim_to_batch
        self.multiple_of = multiple_of

    def __call__(self, items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        batch = {key: torch.stack([item[key] for item in items]) for key in items[0]}
        if self.trim_to_batch:
            longest = int(batch["mask"].sum(1).max())
            if "mask2" in batch:
                longest = max(longest, int(batch["mask2"].sum(1).max()))
            keep = -(-max(longest, 1) // self.multiple_of) * self.multiple_of
            for key in ("tokens", "mask", "tokens2", "mask2"):
                if key in batch:
                    batch[key] = batch[key][:, :keep]
        return batch


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices of similar length (optional length bucketing).

    Each epoch the indices are shuffled (seed + epoch), cut into pools of
    `batch_size * pool_batches`, each pool sorted by length and cut into batches, and the
    batches shuffled. Set the epoch with `set_epoch` for a new order that repeats exactly.
    """

    def __init__(
        self,
        lengths: np.ndarray,
        batch_size: int,
        pool_batches: int = 50,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        if batch_size < 1 or pool_batches < 1:
            raise ValueError("batch_size and pool_batches must be >= 1")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.pool_batches = pool_batches
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffling of epoch `epoch`."""
        self.epoch = epoch

    def _batches(self) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch])
        n = len(self.lengths)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, n, pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            for b in range(0, len(chunk), self.batch_size):
                batch = chunk[b : b + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._batches():
            yield batch.tolist()

    def __len__(self) -> int:
        n, pool = len(self.lengths), self.batch_size * self.pool_batches
        count = 0
        for start in range(0, n, pool):
            size = min(pool, n - start)
            count += size // self.batch_size
            count += int(size % self.batch_size > 0 and not self.drop_last)
        return count
