"""Training checkpoints: written atomically with a checksum, loaded with ``weights_only=True``.

File format: one header line ``RMAAT-CHECKPOINT 1 <kind> <sha256>\\n`` followed by the
``torch.save`` bytes. ``kind`` is ``last`` (the resume point: model, optimiser, schedule,
RNG, position) or ``best`` (model weights of the best epoch); the SHA-256 covers the bytes
after the header. Loading checks the checksum, the kind and the keys, so a damaged file,
``best.pt`` copied over ``last.pt`` or a file from elsewhere is an error naming the file
and the way out, never a silent load of other weights. Files written before checksums
existed (plain ``torch.save``, no header) are still read, without the checksum test.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch

from pipeline.io import atomic_write

MAGIC = b"RMAAT-CHECKPOINT 1 "
#: Keys each kind of checkpoint must hold.
REQUIRED_KEYS = {
    "last": ("config_hash", "model", "optimizer", "scheduler", "state", "rng"),
    "best": ("config_hash", "model", "epoch"),
}


class CheckpointError(ValueError):
    """A checkpoint file is damaged, of the wrong kind or incomplete (names file and way out)."""


def way_out(path: Path, kind: str) -> str:
    """What to do about an unusable checkpoint ``path`` of ``kind``."""
    folder = path.parent
    if kind == "best":
        return (f"best.pt is written only by training: delete {folder / 'last.pt'} and "
                f"{path} to train this run again")
    return f"delete {path} to restart this run from scratch"


def save_checkpoint(path: str | Path, state: dict[str, Any], kind: str = "last") -> None:
    """Write ``state`` with a checksum header to a temporary file, then rename over ``path``.

    A crash during the write leaves the previous checkpoint intact.
    """
    if kind not in REQUIRED_KEYS:
        raise ValueError(f"checkpoint kind must be one of {', '.join(REQUIRED_KEYS)}, got {kind!r}")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    header = MAGIC + f"{kind} {hashlib.sha256(payload).hexdigest()}\n".encode()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(payload)

    atomic_write(path, write)


def load_checkpoint(path: str | Path, kind: str = "last") -> dict[str, Any] | None:
    """The checkpoint at ``path`` (tensors on CPU), or ``None`` if there is none.

    Raises :class:`CheckpointError` naming the file and the way out when the checksum does
    not match (damaged bytes), the file is of another kind (``best.pt`` in place of
    ``last.pt``), it cannot be unpickled, or it lacks keys of its kind.
    """
    path = Path(path)
    if not path.is_file():
        return None
    raw = path.read_bytes()
    payload = raw
    if raw.startswith(MAGIC):
        header, _, payload = raw.partition(b"\n")
        parts = header[len(MAGIC):].decode("ascii", "replace").split()
        if len(parts) != 2:
            raise CheckpointError(f"checkpoint {path} has a damaged header; "
                                  f"{way_out(path, kind)}")
        file_kind, digest = parts
        if hashlib.sha256(payload).hexdigest() != digest:
            raise CheckpointError(
                f"checkpoint {path} is damaged: its content does not match the SHA-256 "
                f"written with it (changed or truncated bytes); {way_out(path, kind)}")
        if file_kind != kind:
            raise CheckpointError(
                f"checkpoint {path} is a '{file_kind}' checkpoint where a '{kind}' one "
                f"belongs (was {file_kind}.pt copied over it?); {way_out(path, kind)}")
    try:
        ckpt = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"checkpoint {path} cannot be read ({err}); "
                              f"{way_out(path, kind)}") from err
    missing = [k for k in REQUIRED_KEYS[kind] if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} is not a '{kind}' training checkpoint (missing {missing}); "
            f"{way_out(path, kind)}")
    return ckpt
