"""ListOps loader: `listops-1000/basic_{train,val,test}.tsv` -> tokenised splits.

Files are tab-separated with the header `Source\tTarget` (the generator's csv writer, so
lines may end in '\r\n'). Each source is tokenised with the S4 vocabulary (see
`tokenizers.encode_listops`); the target is the class, 0-9. Splits are the three files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import DataFormatError, missing_data_error
from .splits import TokenSplit, from_sequences
from .tokenizers import encode_listops

SPLIT_FILES = {"train": "train", "val": "val", "test": "test"}
NUM_CLASSES = 10
MAX_TOKENS = 2_000  # the LRA limit; sequences are padded to 2,048


def listops_dir(root: Path | str, task: str = "basic") -> Path:
    """The folder holding `<task>_train.tsv`: `root/listops-1000` or `root` itself."""
    root = Path(root)
    for folder in (root / "listops-1000", root):
        if (folder / f"{task}_train.tsv").is_file():
            return folder
    raise missing_data_error("listops", root / "listops-1000" / f"{task}_train.tsv")


def source_files(root: Path | str, task: str = "basic") -> list[Path]:
    """The three TSV files of the release under `root`."""
    folder = listops_dir(root, task)
    paths = [folder / f"{task}_{name}.tsv" for name in SPLIT_FILES.values()]
    for path in paths:
        if not path.is_file():
            raise missing_data_error("listops", path)
    return paths


def read_listops_tsv(path: Path) -> tuple[list[str], list[int]]:
    """Sources and targets of one ListOps TSV; a malformed row raises DataFormatError."""
    sources, targets = [], []
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if line_no == 1 and line == "Source\tTarget":
                continue
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise DataFormatError(
                    path, f"line {line_no}", f"expected 2 tab-separated fields, got {len(fields)}"
                )
            source, target = fields
            if source.count("(") != source.count(")"):
                raise DataFormatError(path, f"line {line_no}", "unbalanced parentheses")
            try:
                label = int(target)
            except ValueError:
                raise DataFormatError(
                    path, f"line {line_no}", f"target {target!r} is not an integer"
                ) from None
            if not 0 <= label < NUM_CLASSES:
                raise DataFormatError(
                    path, f"line {line_no}", f"label {label} outside 0..{NUM_CLASSES - 1}"
                )
            sources.append(source)
            targets.append(label)
    return sources, targets


def read_listops(
    root: Path | str,
    task: str = "basic",
    max_tokens: int = MAX_TOKENS,
    append_eos: bool = False,
    progress: bool = True,
) -> dict[str, TokenSplit]:
    """Tokenised train/val/test splits of the ListOps release under `root`."""
    splits = {}
    for split, path in zip(SPLIT_FILES, source_files(root, task), strict=True):
        sources, targets = read_listops_tsv(path)
        ids = [
            encode_listops(s, append_eos)[:max_tokens]
            for s in tqdm(sources, desc=f"listops {split}", disable=not progress, leave=False)
        ]
        splits[split] = from_sequences(ids, targets, dtype=np.uint8)
    return splits
