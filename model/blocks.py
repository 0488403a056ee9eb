"""Transformer block of the shared shell: attention + feed-forward, residuals, LayerNorm.

``norm="pre"`` (default, GPT-2 style): x + Drop(Attn(LN(x))), then x + Drop(FFN(LN(x))).
``norm="post"`` (original Transformer / BERT, as in the BERT-based RMT):
LN(x + Drop(Attn(x))), then LN(x + Drop(FFN(x))).

The residual ``+ X`` of astromorphic attention (docs/design.md §5, L = ... + X) is this block's
residual connection, shared by all three attentions so that comparisons stay fair.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

from model.attention import MultiHeadAttention
from model.config import ModelConfig


@functools.lru_cache(maxsize=32)
def sinusoidal_positions(n: int, d: int, *, dtype: torch.dtype,
                         device: torch.device | str) -> Tensor:
    """Fixed sine/cosine position encoding [n, d] (Vaswani et al. 2017); positions 0..n-1.

    Cached per (n, d, dtype, device): every segment reuses one table, so the result must
    not be modified in place.
    """
    pos = torch.arange(n, device=device, dtype=torch.float64)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float64)
                     * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, device=device, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: d // 2])
    return pe.to(dtype)


class FeedForward(nn.Module):
    """Position-wise MLP: [B, N, D] -> [B, N, D] with a GELU hidden layer of width d_ff.

    No dropout inside (as in nanoGPT): the block drops the FFN output. On a CPU, drawing a
    dropout mask for the d_ff-wide hidden layer costs more than the two matrix products.
    """

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Block(nn.Module):
    """Pre- or post-norm block (see the module docstring); x: [B, N, D], mask: [B, N] or None."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attn = MultiHeadAttention(
            config.d_model, config.n_heads, config.attention, alpha=config.alpha,
            learn_alpha=config.learn_alpha, m=config.m_scale, use_astro=config.use_astro)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.ffn = FeedForward(config.d_model, config.ff_dim)
        self.drop = nn.Dropout(config.dropout)
        self.post_norm = config.norm == "post"

    def forward(self, x: Tensor, mask: Tensor | None = None,
                n_rows: int | None = None) -> Tensor:
        """x: [B, N, D] -> [B, N, D], or [B, n_rows, D]: only the first n_rows outputs.

        With n_rows (the last block, when only the memory rows are read), keys and values
        still come from all rows; the queries, the FFN and the dropout masks cover the kept
        rows only.
        """
        if self.post_norm:
            if n_rows is None:
                x = self.norm1(x + self.drop(self.attn(x, mask)))
                return self.norm2(x + self.drop(self.ffn(x)))
            x = self.norm1(x[:, :n_rows] + self.drop(self.attn(x, mask, n_rows)))
            return self.norm2(x + self.drop(self.ffn(x)))
        if n_rows is None:
            x = x + self.drop(self.attn(self.norm1(x), mask))
        else:
            x = x[:, :n_rows] + self.drop(self.attn(self.norm1(x), mask, n_rows))
        return x + self.drop(self.ffn(self.norm2(x)))
