"""Model configuration: one dataclass shared by every preset (spec §6, "one shell").

Every ablation is a named field. Presets (``model/presets.py``) only change defaults; the
values are checked in :meth:`ModelConfig.validate`, which raises ``ValueError`` naming the
offending field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

ATTENTIONS = ("softmax", "linear", "astromorphic")
RF_MODES = ("scalar", "none", "gated")
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
    d_ff: int | None = None  # FFN hidden width; None -> 4 * d_model
    dropout: float = 0.1  # dropout on embeddings, attention output, FFN and head
    attention: str = "astromorphic"  # one of ATTENTIONS
    # --- segment recurrence (spec §5) ---
    recurrent: bool = True  # False: the whole sequence is one segment, no memory
    segment_len: int = 256  # N_seg, tokens per segment
    num_mem_tokens: int = 8  # M, memory tokens prepended to each segment
    rf_mode: str = "scalar"  # how RF(t, T) compresses memory, one of RF_MODES
    retention: str | None = None  # path of the retention JSON written by `distill`
    readout: str = "memory"  # classifier input, one of READOUTS
    dual_encoder: bool = False  # LRA Retrieval: inputs [B, 2, L], head on [u, v, u*v, u-v]
    # --- astromorphic attention (spec §4) ---
    alpha: float = 0.25  # exponent of the presynaptic state g = (sum_t phi(k_t))^alpha
    learn_alpha: bool = False  # make alpha a learnable per-head parameter (special group)
    astro_m: float | None = None  # scale m of the write; None -> 100 * d_model (paper: 100-500 D)
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
    def m_scale(self) -> float:
        """Resolved write scale m of astromorphic attention."""
        return float(self.astro_m) if self.astro_m is not None else 100.0 * self.d_model

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
        if needs_retention(self) and self.retention is None:
            raise ValueError(
                f"rf_mode={self.rf_mode!r} needs retention='results/retention/<condition>.json' "
                "(written by `snakemake --cores 8` or `python -m distill`), or rf_mode='none'")
        return self

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all fields, for checking keyword arguments."""
        return tuple(f.name for f in fields(cls))


def needs_retention(config: ModelConfig | Mapping[str, Any]) -> bool:
    """True when a model with these *resolved* settings reads a retention file.

    ``config`` is a :class:`ModelConfig` or a mapping of its fields after the preset's
    defaults are applied (``model.presets.resolved_settings``), never raw overrides: the
    RF mode a preset implies (``none`` for rmt and rlt) decides, not a guessed default.
    Only a recurrent model whose ``rf_mode`` is not ``none`` scales memory by RF(t, T).
    """
    if isinstance(config, Mapping):
        defaults = {f.name: f.default for f in fields(ModelConfig)}
        recurrent = config.get("recurrent", defaults["recurrent"])
        rf_mode = config.get("rf_mode", defaults["rf_mode"])
    else:
        recurrent, rf_mode = config.recurrent, config.rf_mode
    return bool(recurrent) and rf_mode != "none"
