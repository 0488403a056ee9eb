"""What one training run is: task, preset, seed, model and optimiser settings."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from model.presets import resolved_settings

#: Default learning rate of the learned retention factors (rf_schedule 'learned'); measured by
#: benchmarks/probe_rf_learned.py (model/README.md, "Where RF(t, T) comes from").
RF_LR = 0.1


@dataclass
class RunSpec:
    """Every setting of one training run (plain JSON; the config hash identifies the run).

    Lengths are in tokens, learning rates per optimiser step, times in optimiser steps.
    """

    task: str  # lra task name (lra.tasks.TASKS), e.g. "listops"
    preset: str  # model preset (model.presets), e.g. "rmaat"
    seed: int = 0
    variant: str = ""  # name of an ablation variant ("" = the plain preset)
    data_root: str = "data"  # folder holding the task's files in the official layout
    cache_dir: str = "data/cache"  # preprocessed token cache
    level: str = "hard"  # Pathfinder difficulty
    seq_len: int | None = None  # padded length; None = the task's LRA length
    max_train: int | None = None  # use at most this many training examples (None = all)
    max_eval: int | None = None  # use at most this many val/test examples (None = all)
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig overrides
    epochs: int = 2
    batch_size: int = 32  # global batch (split across processes under torchrun)
    eval_batch_size: int = 64
    lr: float = 1e-3
    special_lr: float = 1e-3  # astrocyte/memory parameters (own group, no weight decay)
    rf_lr: float = RF_LR  # learned retention factors (log space; own group, no weight decay)
    weight_decay: float = 0.01
    warmup_frac: float = 0.1  # share of all steps with linear warm-up
    grad_clip: float = 1.0  # max global gradient norm (0 = off)
    bucket: bool = True  # batch examples of similar length together
    checkpoint_every: int = 50  # also checkpoint every this many steps within an epoch (0 = off)
    device: str = "auto"  # auto | cpu | cuda
    compile: bool = False  # torch.compile the model
    data_note: str = ""  # how the data was obtained (shown in reports)

    def validate(self) -> RunSpec:
        """Raise ``ValueError`` naming the first bad field. Returns self."""
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"run spec: {name} must be a positive integer, "
                                 f"got {getattr(self, name)!r}")
        for name in ("lr", "special_lr", "rf_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"run spec: {name} must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.warmup_frac < 1:
            raise ValueError(f"run spec: warmup_frac must lie in [0, 1), got {self.warmup_frac!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"run spec: device must be auto, cpu or cuda, got {self.device!r}")
        return self

    @property
    def run_id(self) -> str:
        """``{task}/{preset or variant}/seed{seed}``."""
        return f"{self.task}/{self.variant or self.preset}/seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)

    def config_hash(self) -> str:
        """First 12 hex digits of the SHA-256 of the canonical JSON of every setting."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """Build from a dict; unknown keys raise ``ValueError`` naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"run spec: unknown key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**data).validate()

    @classmethod
    def load(cls, path: str | Path) -> RunSpec:
        """Read a run spec JSON file (clear errors for a missing or corrupt file)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"run spec {path} does not exist")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"run spec {path} is not valid JSON: {err}") from err
        return cls.from_dict(data)


def with_task_segments(preset: str, model: dict[str, Any], seq_len: int) -> dict[str, Any]:
    """``model`` with ``rf_segments`` = ceil(seq_len / segment_len), the task's T, filled in
    for a recurrent preset when absent (rf_T 'fixed' and learned RF schedules need it).

    seq_len: the task's padded length in tokens (per document for the dual encoder).
    """
    settings = resolved_settings(preset, model)
    if not settings["recurrent"] or "rf_segments" in model:
        return model
    return {**model, "rf_segments": math.ceil(seq_len / settings["segment_len"])}
