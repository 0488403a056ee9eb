"""Generated token tasks: what every seeded task of space-separated tokens shares.

A generated token task (recall, majority; not part of LRA) has a fixed vocabulary (id 0 is
padding), a settings dataclass with ``n_train``, ``n_val``, ``n_test``, ``length`` (tokens per
example) and ``seed`` plus its own fields, and a function drawing one example from a NumPy
generator. This module turns that into the rest, the same way for every such task:

- ``generate``: the three splits from one ``numpy.random.default_rng(seed)``, drawn in the
  order train, val, test (same seed and settings -> the same examples);
- ``write_release``: ``<out>/<name>_{train,val,test}.tsv`` (a ``Source\\tTarget`` header, then
  one ``tokens\\tlabel`` row per example, written atomically) and a marker file
  ``.generated-by-rmaat-<name>.json`` holding the settings. Existing TSV files without the
  marker are refused, so a release this generator did not write is never overwritten;
- ``source_files`` / ``read``: the loader of those files (token ids as uint8; errors name the
  file and line), and ``decode`` for the inspect command;
- ``options``: the command-line options of ``python -m lra generate <name>``.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.io import atomic_write, atomic_write_text

from .errors import DataFormatError, empty_example_error, missing_data_error
from .splits import TokenSplit, from_sequences

SPLITS = ("train", "val", "test")
HEADER = "Source\tTarget"
MAX_TOKENS = 4_096  # longest example of every generated token task
MAX_FILLER = 16
#: Filler tokens f0..f15, the last block of every generated task's vocabulary.
FILLER: tuple[str, ...] = tuple(f"f{i}" for i in range(MAX_FILLER))


def check_shared_settings(task: str, s: Any) -> None:
    """The checks every generated task's settings share: example counts >= 0, a filler
    alphabet of 1..MAX_FILLER tokens and at most MAX_TOKENS tokens per example."""
    if min(s.n_train, s.n_val, s.n_test) < 0:
        raise ValueError(f"{task}: n_train, n_val and n_test must be >= 0")
    if not 1 <= s.n_filler <= MAX_FILLER:
        raise ValueError(f"{task}: n_filler must lie in 1..{MAX_FILLER}, got {s.n_filler}")
    if s.length > MAX_TOKENS:
        raise ValueError(f"{task}: length {s.length} exceeds the task's {MAX_TOKENS} tokens")


@dataclass(frozen=True)
class Option:
    """One command-line option of a generator: ``--flag`` sets the settings field ``field``."""

    flag: str
    field: str
    help: str


#: Options every generated token task has (defaults come from its settings dataclass).
COMMON_OPTIONS = (
    Option("train", "n_train", "train examples"),
    Option("val", "n_val", "val examples"),
    Option("test", "n_test", "test examples"),
    Option("length", "length", "tokens per example"),
)
FILLER_OPTION = Option("filler", "n_filler", "filler alphabet size (<= 16)")
SEED_OPTION = Option("seed", "seed", "random seed")


@dataclass(frozen=True)
class GeneratedTokenTask:
    """A seeded task of space-separated tokens and its TSV release.

    name: file prefix, marker name and task name in messages; title: a few words for help
    texts; vocab: every token, id = position (0 is ``<pad>``, never in a file); num_classes:
    labels 0..num_classes-1 the loader accepts; max_tokens: longest example (tokens);
    settings: the settings dataclass; example: draws one example ``(tokens, label)`` from a
    generator and settings; options: the task's own command-line options (besides
    ``COMMON_OPTIONS``, the filler alphabet and the seed).
    """

    name: str
    title: str
    vocab: tuple[str, ...]
    num_classes: int
    settings: type
    example: Callable[[np.random.Generator, Any], tuple[list[str], int]]
    options: tuple[Option, ...] = ()
    max_tokens: int = MAX_TOKENS

    @cached_property
    def ids(self) -> dict[str, int]:
        """Token -> id."""
        return {tok: i for i, tok in enumerate(self.vocab)}

    @property
    def vocab_size(self) -> int:
        """Number of token ids, padding included."""
        return len(self.vocab)

    @property
    def marker(self) -> str:
        """Name of the marker file a release of this task holds."""
        return f".generated-by-rmaat-{self.name}.json"

    # --- generating ---------------------------------------------------------------------------

    def generate(self, s: Any) -> dict[str, list[tuple[str, int]]]:
        """The three splits {'train', 'val', 'test'}: lists of (source, target)."""
        rng = np.random.default_rng(s.seed)
        out: dict[str, list[tuple[str, int]]] = {}
        for split, n in zip(SPLITS, (s.n_train, s.n_val, s.n_test), strict=True):
            rows = []
            for _ in range(n):
                tokens, target = self.example(rng, s)
                rows.append((" ".join(tokens), target))
            out[split] = rows
        return out

    def paths(self, root: Path | str) -> dict[str, Path]:
        """{split: <root>/<name>_<split>.tsv}."""
        return {split: Path(root) / f"{self.name}_{split}.tsv" for split in SPLITS}

    def write_release(self, out_dir: Path | str, s: Any) -> dict[str, Path]:
        """Write `<out_dir>/<name>_{train,val,test}.tsv` and the marker naming the settings.

        Refuses to overwrite TSV files it did not write (no marker file next to them).
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = self.paths(out)
        if any(p.exists() for p in paths.values()) and not (out / self.marker).exists():
            raise ValueError(f"{out} holds {self.name} TSV files this generator did not write "
                             f"(no {self.marker}); choose another --out or delete them")
        for split, rows in self.generate(s).items():
            atomic_write(paths[split], lambda tmp, rows=rows: _write_tsv(tmp, rows))
        atomic_write_text(out / self.marker, json.dumps(asdict(s), indent=1))
        return paths

    # --- reading ------------------------------------------------------------------------------

    def source_files(self, root: Path | str) -> list[Path]:
        """The three TSV files under `root` (FileNotFoundError naming the layout if missing)."""
        paths = list(self.paths(root).values())
        for path in paths:
            if not path.is_file():
                raise missing_data_error(self.name, path)
        return paths

    def encode(self, source: str, path: Path, line_no: int) -> np.ndarray:
        """Token ids (uint8) of one source; an unknown token raises DataFormatError."""
        ids = []
        for word in source.split():
            if word not in self.ids or word == "<pad>":
                raise DataFormatError(path, f"line {line_no}", f"unknown token {word!r}")
            ids.append(self.ids[word])
        return np.asarray(ids, dtype=np.uint8)

    def read(self, root: Path | str, progress: bool = True) -> dict[str, TokenSplit]:
        """Tokenised train/val/test splits of the TSV files under `root`."""
        del progress  # fast enough without a bar
        return {split: self._read_split(path)
                for split, path in zip(SPLITS, self.source_files(root), strict=True)}

    def _read_split(self, path: Path) -> TokenSplit:
        ids, labels = [], []
        with open(path, encoding="utf-8", newline="") as f:
            for line_no, line in enumerate(f, start=1):
                line = line.rstrip("\r\n")
                if (line_no == 1 and line == HEADER) or not line:
                    continue
                where = f"line {line_no}"
                cols = line.split("\t")
                if len(cols) != 2:
                    raise DataFormatError(path, where,
                                          f"expected 2 tab-separated fields, got {len(cols)}")
                try:
                    label = int(cols[1])
                except ValueError:
                    raise DataFormatError(path, where,
                                          f"target {cols[1]!r} is not an integer") from None
                if not 0 <= label < self.num_classes:
                    raise DataFormatError(path, where,
                                          f"label {label} outside 0..{self.num_classes - 1}")
                n_words = len(cols[0].split())
                if n_words == 0:
                    raise empty_example_error(path, where, "the source")
                if n_words > self.max_tokens:
                    raise DataFormatError(path, where,
                                          f"{n_words} tokens exceed {self.max_tokens}")
                ids.append(self.encode(cols[0], path, line_no))
                labels.append(label)
        if not labels:
            raise DataFormatError(path, "line 2", "the split holds no examples")
        return from_sequences(ids, labels, dtype=np.uint8)

    def decode(self, ids: np.ndarray) -> str:
        """The tokens of one example's ids (padding dropped)."""
        return " ".join(self.vocab[int(i)] for i in ids if int(i) != 0)

    # --- command line -------------------------------------------------------------------------

    def all_options(self) -> tuple[Option, ...]:
        """Every command-line option, in the order of ``--help``."""
        return (*COMMON_OPTIONS, *self.options, FILLER_OPTION, SEED_OPTION)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add ``--out`` and one integer option per settings field (dataclass defaults)."""
        defaults = {f.name: f.default for f in fields(self.settings)}
        parser.add_argument("--out", type=Path, required=True,
                            help=f"folder for {self.name}_*.tsv")
        for opt in self.all_options():
            parser.add_argument(f"--{opt.flag}", type=int, default=defaults[opt.field],
                                help=opt.help, dest=opt.field, metavar=opt.flag.upper())

    def settings_from(self, values: dict[str, Any]) -> Any:
        """Settings from {option flag: value} (e.g. a config's ``generate`` block); keys that
        are no option of this task are ignored. Impossible settings raise ValueError."""
        names = {opt.flag: opt.field for opt in self.all_options()}
        return self.settings(**{names[k]: v for k, v in values.items() if k in names})


def _write_tsv(path: Path, rows: list[tuple[str, int]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(HEADER.split("\t"))
        writer.writerows(rows)
