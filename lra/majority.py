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
`python -m lra generate majority --out ROOT`). Writing, reading and the command line are
the shared code of generated token tasks (`lra/generated.py`); this module holds the task's
vocabulary, settings and example layout (`MAJORITY`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .generated import FILLER, GeneratedTokenTask, Option, check_shared_settings

MAX_CLASSES = 10
# Vocabulary: pad 0, votes, filler (fixed, so every setting shares it).
MAJORITY_VOCAB: tuple[str, ...] = ("<pad>",) + tuple(f"a{i}" for i in range(MAX_CLASSES)) + FILLER


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
        check_shared_settings("majority", self)
        if not 2 <= self.n_classes <= MAX_CLASSES:
            raise ValueError(f"majority: n_classes must lie in 2..{MAX_CLASSES}, "
                             f"got {self.n_classes}")
        if self.n_votes < 1:
            raise ValueError(f"majority: n_votes must be >= 1, got {self.n_votes}")
        if self.n_classes == 2 and self.n_votes % 2 == 0:
            raise ValueError(f"majority: {self.n_votes} votes over 2 classes can tie; use an "
                             f"odd n_votes")
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


MAJORITY = GeneratedTokenTask(
    name="majority", title="majority vote", vocab=MAJORITY_VOCAB, num_classes=MAX_CLASSES,
    settings=MajoritySettings, example=generate_example,
    options=(Option("votes", "n_votes", "vote tokens per example"),
             Option("classes", "n_classes", f"vote classes (<= {MAX_CLASSES})")),
)

MAJORITY_IDS = MAJORITY.ids
#: The splits of settings `s`: {'train', 'val', 'test'} lists of (source, target).
generate_majority = MAJORITY.generate
#: Write `<out_dir>/majority_{train,val,test}.tsv` and the marker (see lra/generated.py).
generate_majority_release = MAJORITY.write_release
