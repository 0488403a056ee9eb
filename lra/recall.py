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
`python -m lra generate recall --out ROOT`). Writing, reading and the command line are
the shared code of generated token tasks (`lra/generated.py`); this module holds the task's
vocabulary, settings and example layout (`RECALL`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .generated import FILLER, GeneratedTokenTask, Option, check_shared_settings

MAX_KEYS = 32
MAX_VALUES = 10
QUERY = "?"
# Vocabulary: pad 0, query 1, keys, values, filler (fixed, so every setting shares it).
RECALL_VOCAB: tuple[str, ...] = (
    ("<pad>", QUERY)
    + tuple(f"k{i}" for i in range(MAX_KEYS))
    + tuple(f"v{i}" for i in range(MAX_VALUES))
    + FILLER
)


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
        check_shared_settings("recall", self)
        if not 1 <= self.n_pairs <= self.n_keys:
            raise ValueError(f"recall: n_pairs ({self.n_pairs}) must lie in 1..n_keys "
                             f"({self.n_keys}): every pair needs its own key")
        if not 1 <= self.n_keys <= MAX_KEYS:
            raise ValueError(f"recall: n_keys must lie in 1..{MAX_KEYS}, got {self.n_keys}")
        if not 2 <= self.n_values <= MAX_VALUES:
            raise ValueError(f"recall: n_values must lie in 2..{MAX_VALUES}, got {self.n_values}")
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


RECALL = GeneratedTokenTask(
    name="recall", title="associative recall", vocab=RECALL_VOCAB, num_classes=MAX_VALUES,
    settings=RecallSettings, example=generate_example,
    options=(Option("pairs", "n_pairs", "key-value pairs per example"),
             Option("keys", "n_keys", f"key alphabet size (<= {MAX_KEYS})"),
             Option("values", "n_values", f"value classes (<= {MAX_VALUES})")),
)

RECALL_IDS = RECALL.ids
#: The splits of settings `s`: {'train', 'val', 'test'} lists of (source, target).
generate_recall = RECALL.generate
#: Write `<out_dir>/recall_{train,val,test}.tsv` and the marker (see lra/generated.py).
generate_recall_release = RECALL.write_release
