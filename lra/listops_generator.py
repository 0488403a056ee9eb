"""ListOps generator: the official LRA algorithm (lra_benchmarks/data/listops.py), seeded.

The algorithm, unchanged (Tay et al. 2021, after Nangia & Bowman 2018):
  generate_tree(depth): r ~ U(0, 1) if depth < max_depth else r = 1.
    r > VALUE_P (0.25): a leaf, a uniform value 0-9, length 1.
    otherwise: k = randint(2, max_args) (inclusive), k children at depth + 1, *then* the
    operator, uniform over MIN, MAX, MED, SM; the node is ((...((op, c1), c2)..., ck), ']')
    of length 2 + sum of child lengths. The root is generated at depth 1.
  A tree is kept iff min_length < length < max_length (strict) and it is new (a set).
  Value: MIN, MAX; MED = int(np.median(args)); SM = sum mod 10.
  String: int -> str, tuple (a, b) -> '( ' + a + ' ' + b + ' )'.

Two changes, both for repeatability only: the random numbers come from a seeded NumPy
Generator (drawn in blocks, in the same order as the original's calls), and the kept trees
stay in the order they were generated (the original iterates a Python set), so the first
n_train go to train, the next n_val to val and the rest to test.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

MIN, MAX, MED, SUM_MOD, END = "[MIN", "[MAX", "[MED", "[SM", "]"
OPERATORS = (MIN, MAX, MED, SUM_MOD)  # FIRST and LAST exist in the original but are disabled
MARKER = "generator.json"  # written next to the TSVs: this folder's files are generated
VALUE_P = 0.25  # probability threshold: r <= VALUE_P makes an operator node

OPERATOR_FUNCTIONS: dict[str, Callable[[list[int]], int]] = {
    MIN: min,
    MAX: max,
    MED: lambda args: int(np.median(args)),
    SUM_MOD: lambda args: sum(args) % 10,
}


@dataclass(frozen=True)
class ListOpsSettings:
    """Generator settings; the defaults are the LRA ListOps release (96k/2k/2k)."""

    n_train: int = 96_000
    n_val: int = 2_000
    n_test: int = 2_000
    min_length: int = 500  # exclusive lower bound on the token count
    max_length: int = 2_000  # exclusive upper bound on the token count
    max_depth: int = 10
    max_args: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        if min(self.n_train, self.n_val, self.n_test) < 0:
            raise ValueError("n_train, n_val and n_test must be >= 0")
        if self.max_args < 2 or self.max_depth < 1:
            raise ValueError(f"need max_args >= 2 and max_depth >= 1, got {self}")
        if self.max_length - self.min_length < 2:
            raise ValueError(f"no length satisfies {self.min_length} < length < {self.max_length}")
        if self.max_length <= 1 + 2:  # the shortest operator node has length 3
            raise ValueError(f"max_length {self.max_length} admits only bare values")
        check_feasible(self)


def tree_counts(max_depth: int, max_args: int, max_length: int) -> np.ndarray:
    """``counts[L]``: how many distinct trees of length L < max_length the generator can make.

    Float64, capped at 1e30 (more than any split needs; small counts are exact). A leaf is
    one of 10 values (length 1); a node at depth d < max_depth is one of 4 operators over
    k = 2..max_args subtrees of depth d + 1 (length 2 + their lengths); the root is at depth 1.
    """
    leaf = np.zeros(max_length)
    leaf[1] = 10.0
    counts = leaf.copy()  # trees whose root sits at depth max_depth: leaves only
    for _ in range(max_depth - 1):
        nodes = np.zeros(max_length)
        power = counts.copy()  # k = 1
        for _k in range(2, max_args + 1):
            power = np.minimum(np.convolve(power, counts)[:max_length], 1e30)
            nodes[2:] += power[:-2]
        counts = np.minimum(leaf + 4.0 * nodes, 1e30)
    return counts


def check_feasible(settings: ListOpsSettings) -> None:
    """Raise ``ValueError`` unless enough distinct trees satisfy the length bounds.

    The generator keeps drawing until it has n_train + n_val + n_test distinct trees with
    min_length < length < max_length; without this check impossible settings (max_depth 1,
    an unreachable min_length, too few distinct short trees) make it loop forever.
    """
    counts = tree_counts(settings.max_depth, settings.max_args, settings.max_length)
    available = float(counts[settings.min_length + 1:].sum())
    needed = settings.n_train + settings.n_val + settings.n_test
    if available < needed:
        lengths = np.flatnonzero(counts)
        raise ValueError(
            f"ListOps settings cannot be satisfied: max_depth={settings.max_depth} and "
            f"max_args={settings.max_args} make {available:.0f} distinct trees with "
            f"{settings.min_length} < length < {settings.max_length} (reachable lengths "
            f"below max_length: {_ranges(lengths)}), but train + val + test = {needed} are "
            f"asked for; raise max_depth or max_args, lower min_length (min_len) or ask for "
            f"fewer examples")


def _ranges(values: np.ndarray) -> str:
    """'1, 3-9, 12' for sorted ints (at most a few runs shown)."""
    runs: list[list[int]] = []
    for v in map(int, values):
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    text = [f"{a}" if a == b else f"{a}-{b}" for a, b in runs[:6]]
    return ", ".join(text) + (", ..." if len(runs) > 6 else "")


class _UniformStream:
    """Uniform floats in [0, 1) from a seeded Generator, drawn 64k at a time for speed."""

    def __init__(self, seed: int, block: int = 65_536) -> None:
        self.rng = np.random.default_rng(seed)
        self.block = block
        self.buffer: list[float] = []
        self.pos = 0

    def random(self) -> float:
        if self.pos == len(self.buffer):
            self.buffer = self.rng.random(self.block).tolist()
            self.pos = 0
        self.pos += 1
        return self.buffer[self.pos - 1]

    def randint(self, low: int, high: int) -> int:
        """Uniform integer in [low, high], both inclusive (like random.randint)."""
        return low + int(self.random() * (high - low + 1))


def _generate_tree(
    stream: _UniformStream, depth: int, max_depth: int, max_args: int
) -> tuple[str, int, int]:
    """One random (sub)tree as (string, value, length); see the module docstring."""
    r = stream.random() if depth < max_depth else 1.0
    if r > VALUE_P:
        value = stream.randint(0, 9)
        return str(value), value, 1
    num_values = stream.randint(2, max_args)
    children = [_generate_tree(stream, depth + 1, max_depth, max_args) for _ in range(num_values)]
    op = OPERATORS[stream.randint(0, len(OPERATORS) - 1)]
    # ((...((op, c1), c2)..., ck), ']') written out by the original to_string:
    parts = ["( " * (num_values + 1), op]
    for text, _, _ in children:
        parts.append(" " + text + " )")
    parts.append(" " + END + " )")
    value = OPERATOR_FUNCTIONS[op]([v for _, v, _ in children])
    return "".join(parts), int(value), 2 + sum(n for _, _, n in children)


def generate_listops(
    settings: ListOpsSettings, progress: bool = True
) -> dict[str, list[tuple[str, int]]]:
    """Generate the three splits: {'train': [(source, target), ...], 'val': ..., 'test': ...}."""
    stream = _UniformStream(settings.seed)
    total = settings.n_train + settings.n_val + settings.n_test
    kept: dict[str, int] = {}  # insertion-ordered set of sources -> value
    with tqdm(total=total, desc="listops", unit="tree", disable=not progress) as bar:
        while len(kept) < total:
            text, value, length = _generate_tree(stream, 1, settings.max_depth, settings.max_args)
            if settings.min_length < length < settings.max_length and text not in kept:
                kept[text] = value
                bar.update(1)
    rows = list(kept.items())
    a, b = settings.n_train, settings.n_train + settings.n_val
    return {"train": rows[:a], "val": rows[a:b], "test": rows[b:]}


def write_listops_tsv(path: Path, rows: list[tuple[str, int]]) -> None:
    """Write rows in the official format (csv tab dialect, header Source/Target), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")  # the original's writer, '\r\n' line ends
        writer.writerow(["Source", "Target"])
        writer.writerows(rows)
    os.replace(tmp, path)


def generate_listops_release(
    out_dir: Path | str, settings: ListOpsSettings, task: str = "basic", progress: bool = True
) -> dict[str, Path]:
    """Generate and write `<out_dir>/<task>_{train,val,test}.tsv`; returns the paths.

    The folder gets a marker ``generator.json`` (settings and seed). TSV files already
    there are replaced only when the marker says this generator wrote them: an official
    release (or any file without the marker) is never overwritten.
    """
    out_dir = Path(out_dir)
    marker = out_dir / MARKER
    names = [f"{task}_{split}.tsv" for split in ("train", "val", "test")]
    foreign = [name for name in names if (out_dir / name).exists()]
    if foreign and not marker.is_file():
        raise FileExistsError(
            f"{out_dir} holds {', '.join(foreign)} that this generator did not write (no "
            f"{MARKER}), e.g. the official release; use another --out, or delete them to "
            f"generate there")
    splits = generate_listops(settings, progress=progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {"generator": "lra.listops_generator", "task": task, "settings": asdict(settings)}
    tmp = out_dir / f".{MARKER}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, marker)  # before the TSVs: a crash leaves files marked as ours
    paths = {}
    for split, rows in splits.items():
        paths[split] = out_dir / f"{task}_{split}.tsv"
        write_listops_tsv(paths[split], rows)
    return paths
