"""Associative recall: a seeded generator and its loader (a generated task, not part of LRA).

Each example is one line `Source\\tTarget` of a TSV file, as ListOps. The source is
`length` space-separated tokens:

    f3 f0 k5 v2 f7 ... f1 k9 v4 f2 ... f6 ? k5        -> target 2

- `n_pairs` key-value pairs `k<i> v<j>`, with distinct keys drawn from `n_keys` and values
  from `n_values` (the classes). The body (all but the last two tokens) is cut into
  `n_pairs` equal stretches and pair i lies at a uniform position inside stretch i, so
  the pairs are spread over the whole sequence: with 64-token segments and a 1,024-token
  sequence, pair 1 is in the first segments and pair n in the last ones.
- Every other body position holds a filler token `f<i>` (uniform over `n_filler`).
- The last two tokens are the query marker `?` and one of the pairs' keys (uniform).
- Target: the value class of the queried key (0 .. n_values - 1).

A model that reads the input in segments and classifies from its memory must carry the
pairs of every earlier segment to the end, where the query arrives. Guessing gives
1 / n_values; remembering values but not which key they belong to gives 1 / n_pairs at best.

Files: `<root>/recall_{train,val,test}.tsv` (write with `generate_recall_release`,
`python -m lra generate recall --out ROOT`).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import DataFormatError, missing_data_error
from .splits import TokenSplit, from_sequences

MAX_KEYS = 32
MAX_VALUES = 10
MAX_FILLER = 16
QUERY = "?"
# Vocabulary: pad 0, query 1, keys, values, filler (fixed, so every setting shares it).
RECALL_VOCAB: tuple[str, ...] = (
    ("<pad>", QUERY)
    + tuple(f"k{i}" for i in range(MAX_KEYS))
    + tuple(f"v{i}" for i in range(MAX_VALUES))
    + tuple(f"f{i}" for i in range(MAX_FILLER))
)
RECALL_IDS: dict[str, int] = {tok: i for i, tok in enumerate(RECALL_VOCAB)}
VOCAB_SIZE = len(RECALL_VOCAB)
NUM_CLASSES = MAX_VALUES
MAX_TOKENS = 4_096
SPLITS = ("train", "val", "test")
MARKER = ".generated-by-rmaat-recall.json"


@dataclass(frozen=True)
class RecallSettings:
    """Generator settings. Lengths in tokens; counts of examples per split."""

    n_train: int = 4_000
    n_val: int = 500
    n_test: int = 500
    length: int = 1_024  # tokens per example, query included
    n_pairs: int = 4  # key-value pairs per example
    n_keys: int = 16  # key alphabet (<= 32)
    n_values: int = 4  # value classes (<= 10)
    n_filler: int = 8  # filler alphabet (1..16)
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_val, self.n_test) < 0:
            raise ValueError("recall: n_train, n_val and n_test must be >= 0")
        if not 1 <= self.n_pairs <= self.n_keys:
            raise ValueError(f"recall: n_pairs ({self.n_pairs}) must lie in 1..n_keys "
                             f"({self.n_keys}): every pair needs its own key")
        if not 1 <= self.n_keys <= MAX_KEYS:
            raise ValueError(f"recall: n_keys must lie in 1..{MAX_KEYS}, got {self.n_keys}")
        if not 2 <= self.n_values <= MAX_VALUES:
            raise ValueError(f"recall: n_values must lie in 2..{MAX_VALUES}, got {self.n_values}")
        if not 1 <= self.n_filler <= MAX_FILLER:
            raise ValueError(f"recall: n_filler must lie in 1..{MAX_FILLER}, got {self.n_filler}")
        if self.length > MAX_TOKENS:
            raise ValueError(f"recall: length {self.length} exceeds the task's {MAX_TOKENS} "
                             f"tokens")
        if self.length < 2 * self.n_pairs + 2:
            raise ValueError(f"recall: length {self.length} cannot hold {self.n_pairs} pairs "
                             f"and the query (needs >= {2 * self.n_pairs + 2} tokens); raise "
                             f"length or lower n_pairs")

    @property
    def stretches(self) -> list[tuple[int, int]]:
        """[start, end) of the body stretch holding each pair (token positions)."""
        body = self.length - 2
        edges = [round(i * body / self.n_pairs) for i in range(self.n_pairs + 1)]
        return list(zip(edges[:-1], edges[1:], strict=True))


def generate_example(rng: np.random.Generator, s: RecallSettings) -> tuple[list[str], int]:
    """One example as (tokens, target); see the module docstring for the layout."""
    body = [f"f{int(i)}" for i in rng.integers(0, s.n_filler, s.length - 2)]
    keys = rng.choice(s.n_keys, size=s.n_pairs, replace=False)
    values = rng.integers(0, s.n_values, s.n_pairs)
    for (start, end), key, value in zip(s.stretches, keys, values, strict=True):
        pos = int(rng.integers(start, end - 1))  # the pair fits inside its stretch
        body[pos], body[pos + 1] = f"k{int(key)}", f"v{int(value)}"
    query = int(rng.integers(0, s.n_pairs))
    return body + [QUERY, f"k{int(keys[query])}"], int(values[query])


def generate_recall(s: RecallSettings) -> dict[str, list[tuple[str, int]]]:
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


def _write_tsv(path: Path, rows: list[tuple[str, int]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["Source", "Target"])
        writer.writerows(rows)
    os.replace(tmp, path)


def generate_recall_release(out_dir: Path | str, s: RecallSettings) -> dict[str, Path]:
    """Write `<out_dir>/recall_{train,val,test}.tsv` and a marker naming the settings.

    Refuses to overwrite TSV files it did not write (no marker file next to them).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {split: out / f"recall_{split}.tsv" for split in SPLITS}
    if any(p.exists() for p in paths.values()) and not (out / MARKER).exists():
        raise ValueError(f"{out} holds recall TSV files this generator did not write (no "
                         f"{MARKER}); choose another --out or delete them")
    for split, rows in generate_recall(s).items():
        _write_tsv(paths[split], rows)
    tmp = out / f".{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(asdict(s), indent=1))
    os.replace(tmp, out / MARKER)
    return paths


def source_files(root: Path | str) -> list[Path]:
    """The three TSV files under `root`."""
    paths = [Path(root) / f"recall_{split}.tsv" for split in SPLITS]
    for path in paths:
        if not path.is_file():
            raise missing_data_error("recall", path)
    return paths


def encode_recall(source: str, path: Path, line_no: int) -> np.ndarray:
    """Token ids (uint8) of one source; an unknown token raises DataFormatError."""
    ids = []
    for word in source.split():
        if word not in RECALL_IDS or word == "<pad>":
            raise DataFormatError(path, f"line {line_no}", f"unknown token {word!r}")
        ids.append(RECALL_IDS[word])
    return np.asarray(ids, dtype=np.uint8)


def read_recall(root: Path | str, progress: bool = True) -> dict[str, TokenSplit]:
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
                tokens = encode_recall(fields[0], path, line_no)
                if len(tokens) > MAX_TOKENS:
                    raise DataFormatError(path, f"line {line_no}",
                                          f"{len(tokens)} tokens exceed {MAX_TOKENS}")
                ids.append(tokens)
                labels.append(label)
        if not labels:
            raise DataFormatError(path, "line 2", "the split holds no examples")
        splits[split] = from_sequences(ids, labels, dtype=np.uint8)
    return splits
