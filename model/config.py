"""Model configuration: one dataclass shared by every preset (docs/design.md §7, "one shell").

Every ablation is a named field. Presets (``model/presets.py``) only change defaults; the
values are checked in :meth:`ModelConfig.validate`, which raises ``ValueError`` naming the
offending field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

ATTENTIONS = ("softmax", "linear", "astromorphic")
RF_MODES = ("scalar", "none", "gated", "delta", "streaming", "accumulate")
RF_SCHEDULES = ("bio", "flat", "learned")
RF_T = ("fixed", "per_sample")
MEMORY_HANDOFFS = ("residual", "normed")
NORMS = ("pre", "post")
READOUTS = ("memory", "tokens", "both")
DRIVERS = ("bptt", "checkpoint", "amrb")


@dataclass
class ModelConfig:
    """Hyper-parameters of the encoder, the recurrence and the head.

    Sizes are counts (tokens, channels); there are no physical units in the model stage.
    """

    vocab_size: int  # number of token ids; inputs must lie in [0, vocab_size)
    num_classes: int  # number of output classes of the classifier
    d_model: int = 128  # width D of the residual stream
    n_layers: int = 2  # number of transformer blocks
    n_heads: int = 4  # attention heads; d_model must be divisible by n_heads
    norm: str = "pre"  # LayerNorm before (pre) or after (post) each residual sum, one of NORMS
    d_ff: int | None = None  # FFN hidden width; None -> 4 * d_model
    dropout: float = 0.1  # dropout on embeddings, attention output, FFN and head
    attention: str = "astromorphic"  # one of ATTENTIONS
    # --- segment recurrence (docs/design.md §6) ---
    recurrent: bool = True  # False: the whole sequence is one segment, no memory
    segment_len: int = 256  # N_seg, tokens per segment
    num_mem_tokens: int = 8  # M, memory tokens prepended to each segment
    memory_handoff: str = "residual"  # mem'_{t+1}: residual stream or final-norm output
    rf_mode: str = "scalar"  # how RF(t, T) compresses memory, one of RF_MODES
    rf_schedule: str = "bio"  # where RF(t, T) comes from, one of RF_SCHEDULES
    rf_T: str = "per_sample"  # T of RF(t, T): the task's (fixed) or the sample's, one of RF_T
    rf_segments: int | None = None  # the task's T = ceil(seq_len / segment_len) (rf_T fixed)
    retention: str | None = None  # path of the retention JSON written by `distill`
    readout: str = "memory"  # classifier input, one of READOUTS
    dual_encoder: bool = False  # LRA Retrieval: inputs [B, 2, L], head on [u, v, u*v, u-v]
    # --- astromorphic attention (docs/design.md §5) ---
    alpha: float = 0.25  # exponent of the presynaptic state g = (sum_t phi(k_t))^alpha
    learn_alpha: bool = False  # make alpha a learnable per-head parameter (special group)
    astro_m: float | None = None  # scale m of the write; None -> n^(1 - alpha), n = real keys
    use_astro: bool = True  # include the positional astrocyte term H_astro
    # --- training driver used by model.drivers.backward ---
    driver: str = "bptt"  # one of DRIVERS

    @property
    def head_dim(self) -> int:
        """Channels per attention head (d_k = d_v)."""
        return self.d_model // self.n_heads

    @property
    def ff_dim(self) -> int:
        """Hidden width of the feed-forward network."""
        return self.d_ff if self.d_ff is not None else 4 * self.d_model

    @property
    def mem_tokens(self) -> int:
        """Memory tokens actually used (0 for non-recurrent presets)."""
        return self.num_mem_tokens if self.recurrent else 0

    @property
    def m_scale(self) -> float | None:
        """Write scale m of astromorphic attention; None = length-aware n^(1 - alpha), taken
        per sample and head from the number n of real keys (model/README.md)."""
        return float(self.astro_m) if self.astro_m is not None else None

    @property
    def uses_rf(self) -> bool:
        """True when the recurrence applies a retention factor (rf_mode is not 'none')."""
        return self.recurrent and self.rf_mode != "none"

    @property
    def needs_retention_file(self) -> bool:
        """True when RF factors come from the retention JSON (bio schedule or streaming)."""
        return needs_retention(self)

    @property
    def needs_task_T(self) -> bool:
        """True when the factors depend on a number of segments T (all RF modes but
        'none' and 'streaming')."""
        return self.uses_rf and self.rf_mode != "streaming"

    def validate(self) -> ModelConfig:
        """Check every field; raise ``ValueError`` naming the first bad one. Returns self."""
        positive_ints = ("vocab_size", "num_classes", "d_model", "n_layers", "n_heads",
                         "segment_len")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_ff is not None and (not isinstance(self.d_ff, int) or self.d_ff <= 0):
            raise ValueError(f"d_ff must be a positive integer or None, got {self.d_ff!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        if not isinstance(self.num_mem_tokens, int) or self.num_mem_tokens < 0:
            raise ValueError(
                f"num_mem_tokens must be a non-negative integer, got {self.num_mem_tokens!r}")
        if self.recurrent and self.num_mem_tokens == 0:
            raise ValueError("num_mem_tokens must be >= 1 for a recurrent model "
                             "(memory is the only thing that crosses segments)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        for name, allowed in (("attention", ATTENTIONS), ("rf_mode", RF_MODES),
                              ("rf_schedule", RF_SCHEDULES), ("rf_T", RF_T),
                              ("memory_handoff", MEMORY_HANDOFFS), ("norm", NORMS),
                              ("readout", READOUTS), ("driver", DRIVERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        if not self.recurrent and self.readout != "tokens":
            raise ValueError("a non-recurrent model has no memory: readout must be 'tokens', "
                             f"got {self.readout!r}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in (0, 1], got {self.alpha!r}")
        if self.astro_m is not None and self.astro_m <= 0:
            raise ValueError(f"astro_m must be positive or None, got {self.astro_m!r}")
        if self.rf_segments is not None and (
                isinstance(self.rf_segments, bool) or not isinstance(self.rf_segments, int)
                or self.rf_segments <= 0):
            raise ValueError(
                f"rf_segments must be a positive integer or None, got {self.rf_segments!r}")
        if self.uses_rf and self.rf_mode == "streaming" and self.rf_schedule != "bio":
            raise ValueError(
                f"rf_mode='streaming' takes its factor from the fitted LTP curve: it needs "
                f"rf_schedule='bio', got rf_schedule={self.rf_schedule!r}; use rf_mode "
                "scalar, gated or delta with a flat or learned schedule")
        if self.needs_retention_file and self.retention is None:
            raise ValueError(
                f"rf_mode={self.rf_mode!r} with rf_schedule={self.rf_schedule!r} needs "
                "retention='results/retention/<condition>.json' (written by "
                "`snakemake --cores 8` or `python -m distill`), or rf_mode='none', or "
                "rf_schedule flat/learned")
        if self.needs_task_T and self.rf_T == "fixed" and self.rf_segments is None:
            raise ValueError(
                f"rf_T='fixed' with rf_mode={self.rf_mode!r} needs rf_segments = "
                "ceil(seq_len / segment_len) of the task (the training plan fills it), or "
                "rf_T='per_sample'")
        if self.needs_task_T and self.rf_schedule == "learned" and self.rf_segments is None:
            raise ValueError(
                "rf_schedule='learned' learns one factor per segment: it needs rf_segments "
                "(the most segments a sample may have)")
        return self

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all fields, for checking keyword arguments."""
        return tuple(f.name for f in fields(cls))


def needs_retention(config: ModelConfig | Mapping[str, Any]) -> bool:
    """True when a model with these *resolved* settings reads a retention file.

    ``config`` is a :class:`ModelConfig` or the complete mapping of its fields that
    ``model.presets.resolved_settings`` returns, never raw overrides: the RF mode a preset
    implies (``none`` for rmt and rlt) decides, not a guessed default (a mapping without
    ``recurrent``, ``rf_mode`` or ``rf_schedule`` raises ``ValueError``).
    A recurrent model whose ``rf_mode`` is not ``none`` reads the file when its factors come
    from the fitted LTP curve: ``rf_schedule='bio'``, or ``rf_mode='streaming'``
    (``flat`` and ``learned`` schedules need no file).
    """
    if isinstance(config, Mapping):
        missing = [k for k in ("recurrent", "rf_mode", "rf_schedule") if k not in config]
        if missing:
            raise ValueError(f"needs_retention takes resolved settings "
                             f"(model.presets.resolved_settings); missing {', '.join(missing)}")
        recurrent, rf_mode, rf_schedule = (config["recurrent"], config["rf_mode"],
                                           config["rf_schedule"])
    else:
        recurrent, rf_mode, rf_schedule = config.recurrent, config.rf_mode, config.rf_schedule
    uses_rf = bool(recurrent) and rf_mode != "none"
    return uses_rf and (rf_schedule == "bio" or rf_mode == "streaming")
