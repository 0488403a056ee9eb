"""ListOps loader: `listops-1000/basic_{train,val,test}.tsv` -> tokenised splits.

Files are tab-separated with the header `Source\tTarget` (the generator's csv writer, so
lines may end in '\r\n'). Each source is tokenised with the S4 vocabulary (see
`tokenizers.encode_listops`); the target is the class, 0-9. Splits are the three files.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import DataFormatError, empty_example_error, missing_data_error
from .splits import TokenSplit, from_sequences
from .tokenizers import LISTOPS_IDS, encode_listops

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
    """Sources and targets of one ListOps TSV.

    A malformed row, a line that is not UTF-8, an example without a token, or a file
    without examples (empty or header only) raises DataFormatError naming the file and the
    line.
    """
    sources, targets, _ = read_listops_rows(path)
    return sources, targets


def read_listops_rows(path: Path) -> tuple[list[str], list[int], list[int]]:
    """Sources, targets and the file's line number of each (see :func:`read_listops_tsv`)."""
    sources, targets, lines = [], [], []
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise DataFormatError(
                    path, f"line {line_no}", f"byte {raw[err.start]:#04x} at column "
                    f"{err.start + 1} is not UTF-8; is this the ListOps release?"
                ) from None
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
            if not source.replace("(", " ").replace(")", " ").split():
                raise empty_example_error(path, f"line {line_no}",
                                          "the source (parentheses are not tokens)")
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
            lines.append(line_no)
    if not sources:
        raise DataFormatError(path, "whole file", "no examples (the file is empty or holds "
                              "only the header); regenerate or re-download it")
    return sources, targets, lines


class UnknownTokenWarning(UserWarning):
    """A ListOps source holds words outside the vocabulary (read as <unk>)."""


def unknown_words(source: str) -> list[str]:
    """Words of a ListOps source that the vocabulary lacks (they become <unk>)."""
    return [w for w in source.replace("(", " ").replace(")", " ").split()
            if w not in LISTOPS_IDS]


def read_listops(
    root: Path | str,
    task: str = "basic",
    max_tokens: int = MAX_TOKENS,
    append_eos: bool = False,
    progress: bool = True,
    strict_tokens: bool = False,
) -> dict[str, TokenSplit]:
    """Tokenised train/val/test splits of the ListOps release under `root`.

    Words outside the vocabulary become <unk>; they are counted and reported with an
    :class:`UnknownTokenWarning` naming file, line and word, or, with ``strict_tokens``,
    raise DataFormatError at the first one.
    """
    splits = {}
    for split, path in zip(SPLIT_FILES, source_files(root, task), strict=True):
        sources, targets, lines = read_listops_rows(path)
        unknown, first = 0, None
        for row, source in enumerate(sources):
            words = unknown_words(source)
            if words:
                unknown += len(words)
                first = first or (lines[row], words[0])
                if strict_tokens:
                    raise DataFormatError(path, f"line {lines[row]}", f"unknown token "
                                          f"{words[0]!r} (not in the ListOps vocabulary)")
        if unknown:
            warnings.warn(
                f"{path}: {unknown} unknown token(s) read as <unk> (first {first[1]!r} on "
                f"line {first[0]}); use --strict-tokens (config: strict_tokens: true) "
                f"to make this an error", UnknownTokenWarning, stacklevel=2)
        ids = [
            encode_listops(s, append_eos)[:max_tokens]
            for s in tqdm(sources, desc=f"listops {split}", disable=not progress, leave=False)
        ]
        splits[split] = from_sequences(ids, targets, dtype=np.uint8)
    return splits
