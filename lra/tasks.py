"""The task registry and the entry points the training code calls.

    splits = load_splits("listops", root="data/lra_release", cache_dir="data/cache")
    data = load_datasets("listops", root=..., cache_dir=...)   # {'train': LRADataset, ...}
    loader = DataLoader(data["train"], batch_size=32, shuffle=True, collate_fn=LRACollate())

Tasks: listops, text, retrieval, image, pathfinder (32 px), pathx (128 px), and tasks that
are NOT part of LRA (`TaskSpec.lra` is False; report them as such): two real offline ones,
fashion_mnist (Image pipeline) and spam_assassin (Text pipeline), and three generated
long-range tasks for CPU-sized memory studies: recall (associative recall, lra/recall.py),
majority (a majority vote over votes spread across the sequence, lra/majority.py) and
listops_long (official ListOps generator at up to 1,024 tokens, ListOps files).

`TASKS` holds one `TaskSpec` per task: what a model needs (lengths, classes, vocabulary) and
how the task's data is found, read, keyed in the cache, decoded for `inspect` and, for the
generated token tasks, generated (`lra/generated.py`). Adding a task is adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import (
    cifar,
    fashion_mnist,
    listops,
    pathfinder,
    retrieval,
    spam_assassin,
    text,
)
from .cache import load_or_build
from .errors import DataFormatError
from .generated import GeneratedTokenTask
from .majority import MAJORITY
from .recall import RECALL
from .splits import TokenSplit
from .tokenizers import LISTOPS_UNK, decode_bytes, decode_listops

if TYPE_CHECKING:  # torch is imported only when datasets are built
    from .dataset import LRADataset


#: Source files of a task: (root, level) -> paths (what the cache key fingerprints).
Files = Callable[[Path | str, str], list[Path]]
#: Reader of a task: (root, level, progress, strict_tokens) -> {'train', 'val', 'test'}.
Reader = Callable[[Path | str, str, bool, bool], dict[str, TokenSplit]]


@dataclass(frozen=True)
class TaskSpec:
    """What a model needs to know about a task, and how its data is read.

    seq_len: padded length L of one sequence (tokens); max_tokens: longest real sequence;
    vocab_size: number of token ids including padding; pad_id: the id used for padding
    (for images 0, a real pixel value: use the mask); paired: two documents per example;
    lra: part of Long Range Arena (False = report as "not LRA").

    The data side (left out of comparisons and repr): files and read (see `Files`, `Reader`;
    `level` matters for Pathfinder / Path-X only); token_settings: everything besides the
    source files and max_tokens that changes the tokens (part of the cache key); by_level:
    the level is part of the cache key; unknown_id: the id unknown words are read as
    (ListOps), checked again under strict_tokens; decode: ids -> readable text (None for
    images); image_side: pixels per side of an image task; class_names: label names for
    the inspect command; generator: the generated token task behind `python -m lra
    generate <name>` (recall, majority).
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
    files: Files | None = field(default=None, repr=False, compare=False)
    read: Reader | None = field(default=None, repr=False, compare=False)
    token_settings: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    by_level: bool = field(default=False, repr=False, compare=False)
    unknown_id: int | None = field(default=None, repr=False, compare=False)
    decode: Callable[[np.ndarray], str] | None = field(default=None, repr=False, compare=False)
    image_side: int | None = field(default=None, repr=False, compare=False)
    class_names: tuple[str, ...] | None = field(default=None, repr=False, compare=False)
    generator: GeneratedTokenTask | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.files is None or self.read is None:
            raise ValueError(f"task {self.name!r}: a registry entry needs files and read")
        if (self.decode is None) == (self.image_side is None):
            raise ValueError(f"task {self.name!r}: give decode (token tasks) or image_side "
                             f"(image tasks), not both or neither")

    @property
    def display_name(self) -> str:
        """Title for reports, marked "(not LRA)" where it is not an LRA task."""
        return self.title if self.lra else f"{self.title} (not LRA)"

    def cache_settings(self, level: str) -> dict:
        """Everything besides the source files that changes the tokens (part of the cache key)."""
        settings: dict = {"max_tokens": self.max_tokens, **self.token_settings}
        if self.by_level:
            settings["level"] = level
        return settings


def _root_only(files: Callable[[Path | str], list[Path]],
               read: Callable[..., dict[str, TokenSplit]]) -> dict[str, Any]:
    """files/read of a task whose data is found from the root alone (no level, no strictness)."""
    return {"files": lambda root, level: files(root),
            "read": lambda root, level, progress, strict: read(root, progress=progress)}


def _listops(max_tokens: int) -> dict[str, Any]:
    return {
        "files": lambda root, level: listops.source_files(root),
        "read": lambda root, level, progress, strict: listops.read_listops(
            root, max_tokens=max_tokens, progress=progress, strict_tokens=strict),
        "token_settings": {"vocab": "s4-close-bracket", "append_eos": False},
        "unknown_id": LISTOPS_UNK, "decode": decode_listops,
    }


def _pathfinder(resolution: int) -> dict[str, Any]:
    return {
        "files": lambda root, level: pathfinder.source_files(root, resolution, level),
        "read": lambda root, level, progress, strict: pathfinder.read_pathfinder(
            root, resolution, level, progress=progress),
        "token_settings": {"split": "80-10-10-release-order"}, "by_level": True,
        "image_side": resolution, "class_names": ("negative", "positive"),
    }


def _generated(task: GeneratedTokenTask) -> dict[str, Any]:
    return {**_root_only(task.source_files, task.read),
            "token_settings": {"vocab": f"{task.name}-{task.vocab_size}"},
            "decode": task.decode, "generator": task}


BYTES = {"token_settings": {"encoding": "utf8-bytes+1"}, "decode": decode_bytes}
GRAY = {"gray": "tf-rgb_to_grayscale-uint8", "split": "first-90pc-train"}
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")

TASKS: dict[str, TaskSpec] = {
    "listops": TaskSpec("listops", "ListOps", 2048, listops.MAX_TOKENS, 10, 18,
                        **_listops(listops.MAX_TOKENS)),
    "text": TaskSpec("text", "Text (IMDB bytes)", 4096, text.MAX_TOKENS, 2, 257,
                     **_root_only(text.source_files, text.read_text), **BYTES,
                     class_names=("neg", "pos")),
    "retrieval": TaskSpec(
        "retrieval", "Retrieval (AAN bytes)", 4096, retrieval.MAX_TOKENS, 2, 257, paired=True,
        **_root_only(retrieval.source_files, retrieval.read_retrieval), **BYTES),
    "image": TaskSpec("image", "Image (CIFAR-10 gray)", 1024, 1024, 10, 256,
                      **_root_only(cifar.source_files, cifar.read_image), token_settings=GRAY,
                      image_side=32, class_names=CIFAR_CLASSES),
    "pathfinder": TaskSpec("pathfinder", "Pathfinder-32", 1024, 1024, 2, 256, **_pathfinder(32)),
    "pathx": TaskSpec("pathx", "Path-X (128 px)", 16384, 16384, 2, 256, **_pathfinder(128)),
    "fashion_mnist": TaskSpec(
        "fashion_mnist", "Fashion-MNIST", 784, 784, 10, 256, lra=False,
        **_root_only(fashion_mnist.source_files, fashion_mnist.read_fashion_mnist),
        token_settings=GRAY, image_side=28, class_names=FASHION_CLASSES),
    "recall": TaskSpec("recall", "Associative recall", 1024, RECALL.max_tokens,
                       RECALL.num_classes, RECALL.vocab_size, lra=False, **_generated(RECALL)),
    "majority": TaskSpec("majority", "Majority vote", 1024, MAJORITY.max_tokens,
                         MAJORITY.num_classes, MAJORITY.vocab_size, lra=False,
                         **_generated(MAJORITY)),
    "listops_long": TaskSpec("listops_long", "Long ListOps (256-1,024 tokens)", 1024, 1024, 10,
                             18, lra=False, **_listops(1024)),
    "spam_assassin": TaskSpec(
        "spam_assassin", "SpamAssassin e-mail bytes", 4096, spam_assassin.MAX_TOKENS, 2, 257,
        lra=False, **_root_only(spam_assassin.source_files, spam_assassin.read_spam_assassin),
        token_settings={**BYTES["token_settings"], "headers": "dropped",
                        "split": "shuffle-seed-0-80-10-10"},
        decode=decode_bytes, class_names=("ham", "spam")),
}
#: The generated token tasks, by name (`python -m lra generate <name>`).
GENERATED: dict[str, GeneratedTokenTask] = {
    name: spec.generator for name, spec in TASKS.items() if spec.generator is not None
}


def get_task(name: str) -> TaskSpec:
    """The TaskSpec of `name`; unknown names raise ValueError listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name]


def source_files(task: str, root: Path | str, level: str = "hard") -> list[Path]:
    """The raw files of `task` under `root` (what the cache key fingerprints)."""
    return get_task(task).files(root, level)


def read_splits(
    task: str, root: Path | str, level: str = "hard", progress: bool = True,
    strict_tokens: bool = False,
) -> dict[str, TokenSplit]:
    """Read and tokenise the raw files of `task` (no cache): {'train', 'val', 'test'}.

    strict_tokens (ListOps): an unknown word is a DataFormatError instead of a counted
    warning. A split without examples is a DataFormatError naming the data root.
    """
    splits = get_task(task).read(root, level, progress, strict_tokens)
    check_not_empty(task, root, splits)
    return splits


def check_not_empty(task: str, root: Path | str, splits: dict[str, TokenSplit]) -> None:
    """Raise DataFormatError naming the root and split when a split holds no examples, or
    the example when one holds no token (the loaders name its file and line; this catches
    any other loader and caches written before they did)."""
    for name, split in splits.items():
        if len(split) == 0:
            raise DataFormatError(
                Path(root), f"{name} split", f"no {task} examples; check the files under "
                f"the data root (layout: python -m lra inspect {task} --root ...)")
        lengths = np.diff(split.offsets)
        if split.offsets2 is not None:
            lengths = np.minimum(lengths, np.diff(split.offsets2))
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            raise DataFormatError(
                Path(root), f"{name} split: example {int(empty[0])}", f"empty example: it "
                f"holds no token ({empty.size} such in the split); check the {task} files "
                "under the data root")


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
    spec = get_task(task)
    if cache_dir is None:
        return read_splits(task, root, level, progress, strict_tokens)
    splits = load_or_build(
        cache_dir,
        task,
        spec.cache_settings(level),
        Path(root).resolve(),
        [Path(p).resolve() for p in source_files(task, root, level)],
        lambda: read_splits(task, root, level, progress, strict_tokens),
        mmap=mmap,
    )
    check_not_empty(task, root, splits)
    if strict_tokens and spec.unknown_id is not None and any(
            np.any(s.tokens == spec.unknown_id) for s in splits.values()):
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
    from .dataset import LRADataset

    spec = get_task(task)
    splits = load_splits(task, root, cache_dir, level, mmap, progress)
    length = seq_len or spec.seq_len
    return {
        name: LRADataset(split, length, spec.pad_id, name=f"{spec.display_name} {name}")
        for name, split in splits.items()
    }
