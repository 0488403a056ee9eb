"""Text (IMDB) loader: `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt` -> byte tokens.

25,000 train and 25,000 test reviews, label 1 = pos, 0 = neg. Tokens are UTF-8 bytes + 1,
truncated to 4,000 (padded to 4,096). As in LRA, the validation split is the test split.
Files are read in a fixed order: label folder (neg, pos), then the numeric id of the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import DataFormatError, empty_example_error, missing_data_error
from .splits import TokenSplit, from_sequences
from .tokenizers import encode_bytes

MAX_TOKENS = 4_000
LABELS = {"neg": 0, "pos": 1}
_NAME = re.compile(r"^(\d+)_(\d+)\.txt$")


def imdb_dir(root: Path | str) -> Path:
    """`root/aclImdb`, or `root` itself when it already is that folder."""
    root = Path(root)
    for folder in (root / "aclImdb", root):
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            return folder
    raise missing_data_error("text", root / "aclImdb")


def _review_files(folder: Path) -> list[tuple[Path, int]]:
    files = []
    for label_name, label in LABELS.items():
        sub = folder / label_name
        if not sub.is_dir():
            raise missing_data_error("text", sub)
        named = []
        for path in sub.iterdir():
            match = _NAME.match(path.name)
            if match is None:
                raise DataFormatError(path, "file name", "expected <id>_<rating>.txt")
            named.append((int(match.group(1)), path))
        files += [(path, label) for _, path in sorted(named)]
    return files


def source_files(root: Path | str) -> list[Path]:
    """All review files of train and test under `root`."""
    folder = imdb_dir(root)
    return [path for split in ("train", "test") for path, _ in _review_files(folder / split)]


def read_text(
    root: Path | str, max_tokens: int = MAX_TOKENS, progress: bool = True
) -> dict[str, TokenSplit]:
    """Tokenised train/val/test splits of IMDB under `root` (val is the test split, as LRA)."""
    folder = imdb_dir(root)
    splits = {}
    for split in ("train", "test"):
        ids, labels = [], []
        for path, label in tqdm(
            _review_files(folder / split), desc=f"imdb {split}", disable=not progress, leave=False
        ):
            data = path.read_bytes()
            if not data:
                raise empty_example_error(path, "whole file", "the review")
            ids.append(encode_bytes(data, max_tokens))
            labels.append(label)
        splits[split] = from_sequences(ids, labels, dtype=np.uint16)
    splits["val"] = splits["test"]
    return {name: splits[name] for name in ("train", "val", "test")}
