"""Ragged token arrays for one split: what every loader returns and what the cache stores.

A split of N examples keeps all token ids in one flat array with N+1 offsets, so a ListOps
example of 700 tokens costs 700 entries and not the 2,048 of the padded task length.
Example i is `tokens[offsets[i]:offsets[i + 1]]`. Retrieval adds the second document of each
pair in `tokens2` / `offsets2`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class TokenSplit:
    """Token ids of N examples (flat + offsets), their labels, optionally a second document.

    tokens: (total,) unsigned ints; offsets: (N + 1,) int64 with offsets[0] == 0;
    labels: (N,) int64; tokens2 / offsets2: the same for the second document (Retrieval).
    """

    tokens: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    tokens2: np.ndarray | None = None
    offsets2: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.labels)
        if len(self.offsets) != n + 1 or (n and self.offsets[-1] != len(self.tokens)):
            raise ValueError(
                f"TokenSplit: offsets ({len(self.offsets)}) must be N + 1 = {n + 1} and end at "
                f"len(tokens) = {len(self.tokens)}"
            )
        if (self.tokens2 is None) != (self.offsets2 is None):
            raise ValueError("TokenSplit: tokens2 and offsets2 must be given together")
        if self.offsets2 is not None and len(self.offsets2) != n + 1:
            raise ValueError(f"TokenSplit: offsets2 must have N + 1 = {n + 1} entries")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def paired(self) -> bool:
        """True when each example has a second document (Retrieval)."""
        return self.tokens2 is not None

    @property
    def lengths(self) -> np.ndarray:
        """(N,) int64 token counts; for pairs the longer of the two documents."""
        lengths = np.diff(self.offsets)
        if self.offsets2 is not None:
            lengths = np.maximum(lengths, np.diff(self.offsets2))
        return lengths

    def example(self, i: int) -> np.ndarray:
        """Token ids of example i (first document)."""
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]

    def example2(self, i: int) -> np.ndarray:
        """Token ids of the second document of example i (Retrieval only)."""
        if self.tokens2 is None or self.offsets2 is None:
            raise ValueError("this split has no second document")
        return self.tokens2[self.offsets2[i] : self.offsets2[i + 1]]

    def digest(self) -> str:
        """SHA-256 (hex) of the split's content: every array's dtype, shape and bytes.

        Equal for equal data however it was obtained (cache, fresh parse, copied files);
        training uses it to tell whether a checkpoint was trained on the same examples.
        """
        h = hashlib.sha256()
        for name in ("tokens", "offsets", "labels", "tokens2", "offsets2"):
            array = getattr(self, name)
            if array is None:
                h.update(f"{name}:none;".encode())
                continue
            array = np.ascontiguousarray(array)
            h.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
            h.update(memoryview(array).cast("B"))
        return h.hexdigest()

    def subset(self, index: np.ndarray) -> TokenSplit:
        """A new split holding examples `index` (int array), in that order."""
        index = np.asarray(index, dtype=np.int64)
        tokens, offsets = _gather(self.tokens, self.offsets, index)
        tokens2 = offsets2 = None
        if self.tokens2 is not None and self.offsets2 is not None:
            tokens2, offsets2 = _gather(self.tokens2, self.offsets2, index)
        return TokenSplit(tokens, offsets, self.labels[index], tokens2, offsets2)


def _gather(tokens: np.ndarray, offsets: np.ndarray, index: np.ndarray):
    lengths = (offsets[1:] - offsets[:-1])[index]
    new_offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    if len(index) and np.all(lengths == lengths[0]):  # fixed length: one vectorised take
        rows = offsets[index][:, None] + np.arange(lengths[0])
        return tokens[rows.ravel()], new_offsets
    parts = [tokens[offsets[i] : offsets[i + 1]] for i in index]
    return (np.concatenate(parts) if parts else tokens[:0]), new_offsets


def from_sequences(
    sequences: Sequence[np.ndarray],
    labels: Sequence[int],
    dtype: type = np.uint8,
    sequences2: Sequence[np.ndarray] | None = None,
) -> TokenSplit:
    """Build a TokenSplit from per-example id arrays (and a second document list for pairs)."""

    def flat(seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in seqs], out=offsets[1:])
        tokens = np.concatenate(seqs).astype(dtype) if len(seqs) else np.zeros(0, dtype)
        return tokens, offsets

    tokens, offsets = flat(sequences)
    tokens2 = offsets2 = None
    if sequences2 is not None:
        tokens2, offsets2 = flat(sequences2)
    return TokenSplit(tokens, offsets, np.asarray(labels, dtype=np.int64), tokens2, offsets2)


def from_fixed(tokens: np.ndarray, labels: np.ndarray) -> TokenSplit:
    """Build a TokenSplit from a dense (N, L) array of equal-length examples (images)."""
    n, length = tokens.shape
    offsets = np.arange(n + 1, dtype=np.int64) * length
    return TokenSplit(np.ascontiguousarray(tokens).reshape(-1), offsets, labels.astype(np.int64))
