"""Majority vote: a seeded generator and its loader (a generated task, not part of LRA).

Each example is one line `Source\\tTarget` of a TSV file, as ListOps. The source is
`length` space-separated tokens:

    f3 a1 f0 f7 ... f2 a0 f1 ... a1 f6 f4        -> target 1

- The sequence is cut into `n_votes` equal stretches and each stretch holds one vote token
  `a<c>` (class c uniform over `n_classes`) at a uniform position inside it, so the votes are
  spread over the whole sequence: with 16-token segments and 8 stretches of 16 tokens, every
  segment holds one vote.
- Every other position holds a filler token `f<i>` (uniform over `n_filler`).
- Target: the class with the most votes. Vote draws with a tied top count are redrawn, so
  the mode is always unique (odd `n_votes` with two classes never ties).

A model that reads the input in segments and classifies from its memory must add up the
votes of every segment (an integration over segments, as long-term potentiation integrates
the stimulation cycles). Guessing gives about 1 / n_classes; the last segment's vote alone
gives the answer only as often as it agrees with the majority.

Files: `<root>/majority_{train,val,test}.tsv` (write with `generate_majority_release`,
`python -m lra generate majority --out ROOT`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import DataFormatError, missing_data_error
from .recall import _write_tsv
from .splits import TokenSplit, from_sequences

MAX_CLASSES = 10
MAX_FILLER = 16
# Vocabulary: pad 0, votes, filler (fixed, so every setting shares it).
MAJORITY_VOCAB: tuple[str, ...] = (
    ("<pad>",)
    + tuple(f"a{i}" for i in range(MAX_CLASSES))
    + tuple(f"f{i}" for i in range(MAX_FILLER))
)
MAJORITY_IDS: dict[str, int] = {tok: i for i, tok in enumerate(MAJORITY_VOCAB)}
VOCAB_SIZE = len(MAJORITY_VOCAB)
NUM_CLASSES = MAX_CLASSES
MAX_TOKENS = 4_096
SPLITS = ("train", "val", "test")
MARKER = ".generated-by-rmaat-majority.json"


@dataclass(frozen=True)
class MajoritySettings:
    """Generator settings. Lengths in tokens; counts of examples per split."""

    n_train: int = 4_000
    n_val: int = 500
    n_test: int = 500
    length: int = 1_024  # tokens per example
    n_votes: int = 9  # vote tokens per example, one per stretch
    n_classes: int = 2  # vote classes (the labels, <= 10)
    n_filler: int = 8  # filler alphabet (1..16)
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_val, self.n_test) < 0:
            raise ValueError("majority: n_train, n_val and n_test must be >= 0")
        if not 2 <= self.n_classes <= MAX_CLASSES:
            raise ValueError(f"majority: n_classes must lie in 2..{MAX_CLASSES}, "
                             f"got {self.n_classes}")
        if not 1 <= self.n_filler <= MAX_FILLER:
            raise ValueError(f"majority: n_filler must lie in 1..{MAX_FILLER}, "
                             f"got {self.n_filler}")
        if self.n_votes < 1:
            raise ValueError(f"majority: n_votes must be >= 1, got {self.n_votes}")
        if self.n_classes == 2 and self.n_votes % 2 == 0:
            raise ValueError(f"majority: {self.n_votes} votes over 2 classes can tie; use an "
                             f"odd n_votes")
        if self.length > MAX_TOKENS:
            raise ValueError(f"majority: length {self.length} exceeds the task's {MAX_TOKENS} "
                             f"tokens")
        if self.length < self.n_votes:
            raise ValueError(f"majority: length {self.length} cannot hold {self.n_votes} votes "
                             f"(one token each); raise length or lower n_votes")

    @property
    def stretches(self) -> list[tuple[int, int]]:
        """[start, end) of the stretch holding each vote (token positions)."""
        edges = [round(i * self.length / self.n_votes) for i in range(self.n_votes + 1)]
        return list(zip(edges[:-1], edges[1:], strict=True))


def majority_label(votes: list[int]) -> int | None:
    """The most frequent class of `votes`, or None when the top count is tied."""
    counts = Counter(votes).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    return counts[0][0]


def generate_example(rng: np.random.Generator, s: MajoritySettings) -> tuple[list[str], int]:
    """One example as (tokens, target); see the module docstring for the layout."""
    while True:
        votes = [int(v) for v in rng.integers(0, s.n_classes, s.n_votes)]
        label = majority_label(votes)
        if label is not None:
            break
    tokens = [f"f{int(i)}" for i in rng.integers(0, s.n_filler, s.length)]
    for (start, end), vote in zip(s.stretches, votes, strict=True):
        tokens[int(rng.integers(start, end))] = f"a{vote}"
    return tokens, label


def generate_majority(s: MajoritySettings) -> dict[str, list[tuple[str, int]]]:
    """The three splits {'train', 'val', 'test'}: lists of (source, target)."""
    rng = np.random.default_rng(s.seed)
    out: dict[str, list[tuple[str, int]]] = {}
    for split, n in zip(SPLITS, (s.n_train, s.n_val, s.n_test), strict=True):
        rows = []
        for _ in range(n):
            tokens, target = generate_example(rng, s)
            rows.append((" ".join(tokens), target))
        out[split] = rows
    return out


def generate_majority_release(out_dir: Path | str, s: MajoritySettings) -> dict[str, Path]:
    """Write `<out_dir>/majority_{train,val,test}.tsv` and a marker naming the settings.

    Refuses to overwrite TSV files it did not write (no marker file next to them).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {split: out / f"majority_{split}.tsv" for split in SPLITS}
    if any(p.exists() for p in paths.values()) and not (out / MARKER).exists():
        raise ValueError(f"{out} holds majority TSV files this generator did not write (no "
                         f"{MARKER}); choose another --out or delete them")
    for split, rows in generate_majority(s).items():
        _write_tsv(paths[split], rows)
    tmp = out / f".{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(asdict(s), indent=1))
    os.replace(tmp, out / MARKER)
    return paths


def source_files(root: Path | str) -> list[Path]:
    """The three TSV files under `root`."""
    paths = [Path(root) / f"majority_{split}.tsv" for split in SPLITS]
    for path in paths:
        if not path.is_file():
            raise missing_data_error("majority", path)
    return paths


def read_majority(root: Path | str, progress: bool = True) -> dict[str, TokenSplit]:
    """Tokenised train/val/test splits of the TSV files under `root`."""
    del progress  # fast enough without a bar
    splits = {}
    for split, path in zip(SPLITS, source_files(root), strict=True):
        ids, labels = [], []
        with open(path, encoding="utf-8", newline="") as f:
            for line_no, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if (line_no == 1 and line == "Source\tTarget") or not line:
                    continue
                fields = line.split("\t")
                if len(fields) != 2:
                    raise DataFormatError(path, f"line {line_no}",
                                          f"expected 2 tab-separated fields, got {len(fields)}")
                try:
                    label = int(fields[1])
                except ValueError:
                    raise DataFormatError(path, f"line {line_no}",
                                          f"target {fields[1]!r} is not an integer") from None
                if not 0 <= label < NUM_CLASSES:
                    raise DataFormatError(path, f"line {line_no}",
                                          f"label {label} outside 0..{NUM_CLASSES - 1}")
                words = fields[0].split()
                if len(words) > MAX_TOKENS:
                    raise DataFormatError(path, f"line {line_no}",
                                          f"{len(words)} tokens exceed {MAX_TOKENS}")
                bad = [w for w in words if w not in MAJORITY_IDS or w == "<pad>"]
                if bad:
                    raise DataFormatError(path, f"line {line_no}", f"unknown token {bad[0]!r}")
                ids.append(np.asarray([MAJORITY_IDS[w] for w in words], dtype=np.uint8))
                labels.append(label)
        if not labels:
            raise DataFormatError(path, "line 2", "the split holds no examples")
        splits[split] = from_sequences(ids, labels, dtype=np.uint8)
    return splits
