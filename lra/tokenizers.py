"""Tokenisation for the LRA tasks.

- ListOps: the S4 scheme. Parentheses are dropped, ']' becomes a close token, the rest is
  split on spaces. Vocabulary: pad, unk, [MIN, [MAX, [MED, [SM, 0-9, ], eos (18 ids). The
  official LRA pipeline drops every non-alphanumeric token and so loses ']' (LRA issue #6);
  we keep it.
- Text and Retrieval: UTF-8 bytes, id = byte + 1, pad = 0, vocabulary 257.
- Images: pixel values 0-255 are the ids (vocabulary 256); padding, where any, is masked.
  CIFAR-10 is made gray exactly as LRA's TensorFlow pipeline did (`rgb_to_lra_gray`).
"""

from __future__ import annotations

import numpy as np

LISTOPS_VOCAB: tuple[str, ...] = (
    "<pad>",
    "<unk>",
    "[MIN",
    "[MAX",
    "[MED",
    "[SM",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "]",
    "<eos>",
)
LISTOPS_IDS: dict[str, int] = {tok: i for i, tok in enumerate(LISTOPS_VOCAB)}
LISTOPS_PAD, LISTOPS_UNK, LISTOPS_EOS = 0, 1, LISTOPS_IDS["<eos>"]

BYTE_PAD = 0
BYTE_VOCAB_SIZE = 257  # pad + 256 byte values
PIXEL_VOCAB_SIZE = 256


def encode_listops(source: str, append_eos: bool = False) -> np.ndarray:
    """Token ids (uint8, shape (n,)) of a ListOps expression such as '( ( [MAX 2 ) 9 ] )'."""
    words = source.replace("(", " ").replace(")", " ").split()
    ids = [LISTOPS_IDS.get(w, LISTOPS_UNK) for w in words]
    if append_eos:
        ids.append(LISTOPS_EOS)
    return np.asarray(ids, dtype=np.uint8)


def decode_listops(ids: np.ndarray) -> str:
    """Readable string of ListOps token ids, padding dropped."""
    return " ".join(LISTOPS_VOCAB[int(i)] for i in ids if int(i) != LISTOPS_PAD)


def encode_bytes(text: str | bytes, max_tokens: int) -> np.ndarray:
    """Byte-level ids (uint16, shape (<= max_tokens,)): UTF-8 byte + 1, truncated."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return np.frombuffer(data[:max_tokens], dtype=np.uint8).astype(np.uint16) + 1


def decode_bytes(ids: np.ndarray) -> str:
    """Text of byte-level ids, padding dropped, invalid UTF-8 replaced."""
    ids = np.asarray(ids)
    return bytes((ids[ids != BYTE_PAD] - 1).astype(np.uint8).tolist()).decode("utf-8", "replace")


def rgb_to_lra_gray(rgb: np.ndarray) -> np.ndarray:
    """LRA gray of uint8 RGB images (..., 3) -> uint8 (...), as tf.image.rgb_to_grayscale.

    The LRA pipeline converts uint8 to float32 in [0, 1], takes 0.2989 R + 0.5870 G +
    0.1140 B and converts back with TF's rule floor(255.5 * value) (convert_image_dtype).
    That is int(0.2989 R + 0.5870 G + 0.1140 B) for most pixels, but one higher for about
    a quarter of them; white stays 255 (the plain formula gives 254).
    """
    weights = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)
    gray = (rgb.astype(np.float32) / np.float32(255)) @ weights
    return (gray * np.float32(255.5)).astype(np.uint8)
