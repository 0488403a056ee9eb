"""The task table and the entry points the training code calls.

    splits = load_splits("listops", root="data/lra_release", cache_dir="data/cache")
    data = load_datasets("listops", root=..., cache_dir=...)   # {'train': LRADataset, ...}
    loader = DataLoader(data["train"], batch_size=32, shuffle=True, collate_fn=LRACollate())

Tasks: listops, text, retrieval, image, pathfinder (32 px), pathx (128 px), and tasks that
are NOT part of LRA (`TaskSpec.lra` is False; report them as such): two real offline ones,
fashion_mnist (Image pipeline) and spam_assassin (Text pipeline), and three generated
long-range tasks for CPU-sized memory studies: recall (associative recall, lra/recall.py),
majority (a majority vote over votes spread across the sequence, lra/majority.py) and
listops_long (official ListOps generator at up to 1,024 tokens, ListOps files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import (
    cifar,
    fashion_mnist,
    listops,
    majority,
    pathfinder,
    recall,
    retrieval,
    spam_assassin,
    text,
)
from .cache import load_or_build
from .dataset import LRADataset
from .errors import DataFormatError
from .splits import TokenSplit
from .tokenizers import LISTOPS_UNK


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about a task.

    seq_len: padded length L of one sequence (tokens); max_tokens: longest real sequence;
    vocab_size: number of token ids including padding; pad_id: the id used for padding
    (for images 0, a real pixel value: use the mask); paired: two documents per example;
    lra: part of Long Range Arena (False = report as "not LRA").
    """

    name: str
    title: str
    seq_len: int
    max_tokens: int
    num_classes: int
    vocab_size: int
    pad_id: int = 0
    paired: bool = False
    lra: bool = True

    @property
    def display_name(self) -> str:
        """Title for reports, marked "(not LRA)" where it is not an LRA task."""
        return self.title if self.lra else f"{self.title} (not LRA)"


TASKS: dict[str, TaskSpec] = {
    "listops": TaskSpec("listops", "ListOps", 2048, listops.MAX_TOKENS, 10, 18),
    "text": TaskSpec("text", "Text (IMDB bytes)", 4096, text.MAX_TOKENS, 2, 257),
    "retrieval": TaskSpec(
        "retrieval", "Retrieval (AAN bytes)", 4096, retrieval.MAX_TOKENS, 2, 257, paired=True
    ),
    "image": TaskSpec("image", "Image (CIFAR-10 gray)", 1024, 1024, 10, 256),
    "pathfinder": TaskSpec("pathfinder", "Pathfinder-32", 1024, 1024, 2, 256),
    "pathx": TaskSpec("pathx", "Path-X (128 px)", 16384, 16384, 2, 256),
    "fashion_mnist": TaskSpec("fashion_mnist", "Fashion-MNIST", 784, 784, 10, 256, lra=False),
    "recall": TaskSpec("recall", "Associative recall", 1024, recall.MAX_TOKENS,
                       recall.NUM_CLASSES, recall.VOCAB_SIZE, lra=False),
    "majority": TaskSpec("majority", "Majority vote", 1024, majority.MAX_TOKENS,
                         majority.NUM_CLASSES, majority.VOCAB_SIZE, lra=False),
    "listops_long": TaskSpec("listops_long", "Long ListOps (256-1,024 tokens)", 1024, 1024, 10,
                             18, lra=False),
    "spam_assassin": TaskSpec(
        "spam_assassin",
        "SpamAssassin e-mail bytes",
        4096,
        spam_assassin.MAX_TOKENS,
        2,
        257,
        lra=False,
    ),
}


def get_task(name: str) -> TaskSpec:
    """The TaskSpec of `name`; unknown names raise ValueError listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


def _settings(task: str, level: str) -> dict:
    """Everything besides the source files that changes the tokens (part of the cache key)."""
    spec = get_task(task)
    settings: dict = {"max_tokens": spec.max_tokens}
    if task in ("listops", "listops_long"):
        settings.update(vocab="s4-close-bracket", append_eos=False)
    if task == "recall":
        settings.update(vocab=f"recall-{recall.VOCAB_SIZE}")
    if task == "majority":
        settings.update(vocab=f"majority-{majority.VOCAB_SIZE}")
    if task in ("text", "retrieval", "spam_assassin"):
        settings.update(encoding="utf8-bytes+1")
    if task == "spam_assassin":
        settings.update(headers="dropped", split="shuffle-seed-0-80-10-10")
    if task in ("image", "fashion_mnist"):
        settings.update(gray="tf-rgb_to_grayscale-uint8", split="first-90pc-train")
    if task in ("pathfinder", "pathx"):
        settings.update(level=level, split="80-10-10-release-order")
    return settings


def source_files(task: str, root: Path | str, level: str = "hard") -> list[Path]:
    """The raw files of `task` under `root` (what the cache key fingerprints)."""
    get_task(task)
    if task in ("listops", "listops_long"):
        return listops.source_files(root)
    if task == "recall":
        return recall.source_files(root)
    if task == "majority":
        return majority.source_files(root)
    if task == "text":
        return text.source_files(root)
    if task == "retrieval":
        return retrieval.source_files(root)
    if task == "image":
        return cifar.source_files(root)
    if task == "fashion_mnist":
        return fashion_mnist.source_files(root)
    if task == "spam_assassin":
        return spam_assassin.source_files(root)
    return pathfinder.source_files(root, 32 if task == "pathfinder" else 128, level)


def read_splits(
    task: str, root: Path | str, level: str = "hard", progress: bool = True,
    strict_tokens: bool = False,
) -> dict[str, TokenSplit]:
    """Read and tokenise the raw files of `task` (no cache): {'train', 'val', 'test'}.

    strict_tokens (ListOps): an unknown word is a DataFormatError instead of a counted
    warning. A split without examples is a DataFormatError naming the data root.
    """
    splits = _read_splits(task, root, level, progress, strict_tokens)
    check_not_empty(task, root, splits)
    return splits


def check_not_empty(task: str, root: Path | str, splits: dict[str, TokenSplit]) -> None:
    """Raise DataFormatError naming the root and split when a split holds no examples."""
    for name, split in splits.items():
        if len(split) == 0:
            raise DataFormatError(
                Path(root), f"{name} split", f"no {task} examples; check the files under "
                f"the data root (layout: python -m lra inspect {task} --root ...)")


def _read_splits(task: str, root: Path | str, level: str, progress: bool,
                 strict_tokens: bool) -> dict[str, TokenSplit]:
    spec = get_task(task)
    if task in ("listops", "listops_long"):
        return listops.read_listops(root, max_tokens=spec.max_tokens, progress=progress,
                                    strict_tokens=strict_tokens)
    if task == "recall":
        return recall.read_recall(root, progress=progress)
    if task == "majority":
        return majority.read_majority(root, progress=progress)
    if task == "text":
        return text.read_text(root, progress=progress)
    if task == "retrieval":
        return retrieval.read_retrieval(root, progress=progress)
    if task == "image":
        return cifar.read_image(root, progress=progress)
    if task == "fashion_mnist":
        return fashion_mnist.read_fashion_mnist(root, progress=progress)
    if task == "spam_assassin":
        return spam_assassin.read_spam_assassin(root, progress=progress)
    return pathfinder.read_pathfinder(
        root, 32 if task == "pathfinder" else 128, level, progress=progress
    )


def load_splits(
    task: str,
    root: Path | str,
    cache_dir: Path | str | None = None,
    level: str = "hard",
    mmap: bool = False,
    progress: bool = True,
    strict_tokens: bool = False,
) -> dict[str, TokenSplit]:
    """Tokenised splits of `task`, read from `cache_dir` when a valid cache exists.

    Without cache_dir the raw files are read every time. With it, the first call builds
    the cache (atomically) and later calls with unchanged files and settings read it.
    mmap: memory-map the cached arrays (useful for Path-X, 3.3 GB of pixels).
    strict_tokens (ListOps): unknown words are an error naming file and line, also when
    the cache was built without it (the files are then read again to find the line).
    Empty splits are a DataFormatError, also from a cache built before this check.
    """
    if cache_dir is None:
        return read_splits(task, root, level, progress, strict_tokens)
    splits = load_or_build(
        cache_dir,
        task,
        _settings(task, level),
        Path(root).resolve(),
        [Path(p).resolve() for p in source_files(task, root, level)],
        lambda: read_splits(task, root, level, progress, strict_tokens),
        mmap=mmap,
    )
    check_not_empty(task, root, splits)
    if strict_tokens and task == "listops" and any(
            np.any(s.tokens == LISTOPS_UNK) for s in splits.values()):
        read_splits(task, root, level, progress, strict_tokens)  # raises naming the line
    return splits


def load_datasets(
    task: str,
    root: Path | str,
    cache_dir: Path | str | None = None,
    seq_len: int | None = None,
    level: str = "hard",
    mmap: bool = False,
    progress: bool = True,
) -> dict[str, LRADataset]:
    """{'train', 'val', 'test'} LRADatasets padded to seq_len (default: the task's length).

    For fashion_mnist pass seq_len=1024 to pad its 784 pixels to the Image task length.
    """
    spec = get_task(task)
    splits = load_splits(task, root, cache_dir, level, mmap, progress)
    length = seq_len or spec.seq_len
    return {
        name: LRADataset(split, length, spec.pad_id, name=f"{spec.display_name} {name}")
        for name, split in splits.items()
    }
