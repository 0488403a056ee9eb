"""Retrieval (AAN) loader: `tsv_data/new_aan_pairs.{train,eval,test}.tsv` -> byte-token pairs.

No header; five tab-separated columns `label, id1, id2, text1, text2`. As in LRA the label
is parsed as a float and then cast to int (the release writes e.g. '1.0'); it must be 0 or 1.
Each document is UTF-8 bytes + 1, truncated to 4,000 tokens. Splits: train, eval -> val, test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import DataFormatError, empty_example_error, missing_data_error
from .splits import TokenSplit, from_sequences
from .tokenizers import encode_bytes

MAX_TOKENS = 4_000
SPLIT_FILES = {"train": "train", "val": "eval", "test": "test"}
PREFIX = "new_aan_pairs"


def aan_dir(root: Path | str) -> Path:
    """`root/tsv_data`, or `root` itself when it holds the TSV files."""
    root = Path(root)
    for folder in (root / "tsv_data", root):
        if (folder / f"{PREFIX}.train.tsv").is_file():
            return folder
    raise missing_data_error("retrieval", root / "tsv_data" / f"{PREFIX}.train.tsv")


def source_files(root: Path | str) -> list[Path]:
    """The three TSV files of the release under `root`."""
    folder = aan_dir(root)
    paths = [folder / f"{PREFIX}.{name}.tsv" for name in SPLIT_FILES.values()]
    for path in paths:
        if not path.is_file():
            raise missing_data_error("retrieval", path)
    return paths


def parse_label(field: bytes, path: Path, line_no: int) -> int:
    """The class of a label field such as b'1.0' or b'0'; anything else raises."""
    try:
        value = float(field)
    except ValueError:
        raise DataFormatError(path, f"line {line_no}", f"label {field!r} is not a number") from None
    if value not in (0.0, 1.0):
        raise DataFormatError(path, f"line {line_no}", f"label {value} is not 0 or 1")
    return int(value)


def read_aan_tsv(path: Path, max_tokens: int = MAX_TOKENS, progress: bool = True) -> TokenSplit:
    """One AAN TSV file as a paired TokenSplit (tokens = text1, tokens2 = text2)."""
    ids1, ids2, labels = [], [], []
    with open(path, "rb") as f:
        for line_no, line in enumerate(
            tqdm(f, desc=path.name, unit="pair", disable=not progress, leave=False), start=1
        ):
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            fields = line.split(b"\t")
            if len(fields) != 5:
                raise DataFormatError(
                    path,
                    f"line {line_no}",
                    f"expected 5 tab-separated fields (label, id1, id2, text1, text2), "
                    f"got {len(fields)}",
                )
            for column, text in ((4, fields[3]), (5, fields[4])):
                if not text:
                    raise empty_example_error(path, f"line {line_no}",
                                              f"document {column - 3} (column {column})")
            labels.append(parse_label(fields[0], path, line_no))
            ids1.append(encode_bytes(fields[3], max_tokens))
            ids2.append(encode_bytes(fields[4], max_tokens))
    return from_sequences(ids1, labels, dtype=np.uint16, sequences2=ids2)


def read_retrieval(
    root: Path | str, max_tokens: int = MAX_TOKENS, progress: bool = True
) -> dict[str, TokenSplit]:
    """Tokenised train/val/test pair splits of the AAN release under `root`."""
    return {
        split: read_aan_tsv(path, max_tokens, progress)
        for split, path in zip(SPLIT_FILES, source_files(root), strict=True)
    }
