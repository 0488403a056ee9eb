"""The three attentions of the shell: softmax, elu+1 linear, astromorphic (docs/design.md §5).

All functions take per-head tensors ``q, k, v`` of shape ``[B, H, N, d]`` and a key-padding
mask ``[B, N]`` (True = real token, or None) and return ``[B, H, N, d]``. Attention is
non-causal. Padded keys never contribute; outputs at padded query positions are defined
(finite) but meaningless and are ignored downstream.

Astromorphic attention, per head, with phi = elu + 1 (docs/design.md §5)::

    write: H_neuron = (1/m) phi(K)^T V        Hebbian weight            [d_k, d_v]
           H_astro  = (1/m) phi(R)^T V        positional astrocyte term [d_k, d_v]
           g        = (sum_t phi(k_t))^alpha  presynaptic state         [d_k]
    read:  C = phi(Q) g^T,  P = 1 / C         one scalar per query      [N]
           L = diag(P) phi(Q) (H_neuron + H_astro)  (+ X: the block's residual connection)

with R_ij = exp(-|i - c_j| * softplus(s_h)): c_j are d_k process centres spread evenly over
the real (unpadded) positions of the input, s_h a learnable decay per head (project decision).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn


def feature_map(x: Tensor) -> Tensor:
    """phi(x) = elu(x) + 1, the positive feature map of Katharopoulos et al. (2020)."""
    return F.elu(x) + 1.0


def _guard(den: Tensor) -> Tensor:
    """The normaliser is a sum of positive terms; only guard against underflow to exactly 0."""
    return den.clamp_min(torch.finfo(den.dtype).tiny)


def softmax_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """softmax(q k^T / sqrt(d)) v through ``scaled_dot_product_attention``.

    q, k, v: [B, H, N, d]; mask: [B, N] bool (True = real key) or None.
    """
    attn_mask = None if mask is None else rearrange(mask, "b n -> b 1 1 n")
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


def linear_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> Tensor:
    """Non-causal elu+1 linear attention: phi(q) (phi(K)^T V) / (phi(q) . sum_t phi(k_t)).

    q, k, v: [B, H, N, d]; mask: [B, N] bool or None. Cost O(N d^2) per head.
    """
    q, k = feature_map(q), feature_map(k)
    if mask is not None:
        keep = rearrange(mask, "b n -> b 1 n 1").to(k.dtype)
        k, v = k * keep, v * keep
    kv = k.transpose(-2, -1) @ v  # phi(K)^T V  [B, H, d_k, d_v]
    z = k.sum(dim=2)  # sum_t phi(k_t)  [B, H, d_k]
    return _read(q, kv, z)


def _read(q: Tensor, h: Tensor, z: Tensor) -> Tensor:
    """phi(q) h / (phi(q) . z) for every query: q [B, H, N, d_k], h [B, H, d_k, d_v],
    z [B, H, d_k] -> [B, H, N, d_v]. Numerator and normaliser come from one product
    (z is appended to h as an extra column); matmul, not einsum, which copies its operands
    into another layout on a CPU."""
    both = q @ torch.cat([h, z.unsqueeze(-1)], dim=-1)  # [B, H, N, d_v + 1]
    return both[..., :-1] / _guard(both[..., -1:])


def process_kernel(mask: Tensor | None, n: int, d_k: int, decay: Tensor,
                   dtype: torch.dtype) -> Tensor:
    """Positional astrocyte kernel R (before phi), shape [B or 1, H, N, d_k].

    R_ij = exp(-|pos_i - c_j| * decay_h): pos_i counts real positions only (padding is
    skipped), c_j = j * (n_real - 1) / (d_k - 1) spreads d_k process centres over the real
    positions of each sample, decay: [H] positive rates (1/position).
    """
    device = decay.device
    if mask is None:
        pos = torch.arange(n, device=device, dtype=dtype).unsqueeze(0)  # [1, N]
        n_real = torch.full((1, 1), float(n), device=device, dtype=dtype)
    else:
        pos = (mask.cumsum(dim=-1) - 1).clamp_min(0).to(dtype)  # [B, N]
        n_real = mask.sum(dim=-1, keepdim=True).to(dtype)  # [B, 1]
    frac = torch.linspace(0.0, 1.0, d_k, device=device, dtype=dtype) if d_k > 1 else \
        torch.full((1,), 0.5, device=device, dtype=dtype)
    centres = (n_real - 1.0).clamp_min(0.0) * frac  # [B, d_k]
    dist = (rearrange(pos, "b n -> b n 1") - rearrange(centres, "b d -> b 1 d")).abs()
    return torch.exp(-rearrange(dist, "b n d -> b 1 n d") * rearrange(decay, "h -> 1 h 1 1"))


def astromorphic_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, *,
                           alpha: float | Tensor = 0.25, m: float | None = 1.0,
                           decay: Tensor | None = None) -> Tensor:
    """Astromorphic attention (write H, g; read with P = 1/C), see the module docstring.

    q, k, v: [B, H, N, d]; mask: [B, N] bool or None; alpha: float or [H] tensor;
    m: write scale, or None for the length-aware m = n^(1 - alpha) with n the number of real
    keys of each sample (keeps the output at a linear attention's O(1) scale for any N,
    model/README.md); decay: [H] positive rates of the positional kernel, None = no H_astro.
    With alpha = 1, m = 1 and decay None this is exactly :func:`linear_attention`.
    """
    b, h, n, d_k = k.shape
    q, k = feature_map(q), feature_map(k)
    if mask is not None:
        keep = rearrange(mask, "b n -> b 1 n 1").to(k.dtype)
        k, v = k * keep, v * keep
    write = k  # phi(K)
    if decay is not None:
        # H_neuron + H_astro = (1/m)(phi(K) + phi(R))^T V: one product instead of two.
        # R lies in (0, 1], where phi(R) = elu(R) + 1 = R + 1.
        r = process_kernel(mask, n, d_k, decay, k.dtype) + 1.0
        if mask is not None:
            r = r * keep
        write = k + r
    if isinstance(alpha, Tensor):
        alpha = rearrange(alpha, "h -> 1 h 1")
    if m is None:  # length-aware: m = n^(1 - alpha) per sample (and head if alpha is)
        n_keys = (mask.sum(dim=-1).to(k.dtype) if mask is not None
                  else torch.full((b,), float(n), dtype=k.dtype, device=k.device))
        m = rearrange(n_keys, "b -> b 1 1").pow(1.0 - alpha).unsqueeze(-1)  # [B, 1|H, 1, 1]
    hebb = (write.transpose(-2, -1) @ v) / m  # H_neuron + H_astro  [B, H, d_k, d_v]
    g = k.sum(dim=2).pow(alpha)  # presynaptic state g  [B, H, d_k]
    return _read(q, hebb, g)  # diag(P) phi(Q) H with C = phi(Q) g^T, P = 1 / C


def _inverse_softplus(x: Tensor) -> Tensor:
    return x + torch.log(-torch.expm1(-x))


class MultiHeadAttention(nn.Module):
    """Projections + one of the three attentions: [B, N, D] -> [B, N, D].

    ``kind`` is "softmax", "linear" or "astromorphic". For astromorphic attention the
    learnable special parameters are ``astro_decay`` (s_h, per head) and, if
    ``learn_alpha``, ``alpha`` (per head); they belong to the special optimiser group.
    """

    def __init__(self, d_model: int, n_heads: int, kind: str, *, alpha: float = 0.25,
                 learn_alpha: bool = False, m: float | None = 1.0,
                 use_astro: bool = True) -> None:
        super().__init__()
        self.kind, self.n_heads, self.m = kind, n_heads, m
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        if kind == "astromorphic":
            if learn_alpha:
                self.alpha = nn.Parameter(torch.full((n_heads,), float(alpha)))
            else:
                self.alpha_value = float(alpha)
            if use_astro:
                # ALiBi-like geometric rates 2^(-8 (h+1) / H) per position, stored as s_h.
                rates = torch.tensor([2.0 ** (-8.0 * (i + 1) / n_heads) for i in range(n_heads)])
                self.astro_decay = nn.Parameter(_inverse_softplus(rates))

    def forward(self, x: Tensor, mask: Tensor | None = None,
                n_queries: int | None = None) -> Tensor:
        """x: [B, N, D]; mask: [B, N] bool (True = real token) or None -> [B, N, D].

        With ``n_queries``, only the first n_queries rows are queried (keys and values still
        come from all N rows) and the output is [B, n_queries, D].
        """
        # Per-head tensors are made contiguous once: element-wise kernels (phi) and matrix
        # products on the strided per-head views are several times slower on a CPU.
        if n_queries is None:
            q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d",
                                three=3, h=self.n_heads).contiguous()
        else:
            d = x.shape[-1]
            w, b = self.qkv.weight, self.qkv.bias
            q = rearrange(F.linear(x[:, :n_queries], w[:d], b[:d]), "b n (h e) -> b h n e",
                          h=self.n_heads).contiguous()
            k, v = rearrange(F.linear(x, w[d:], b[d:]), "b n (two h e) -> two b h n e",
                             two=2, h=self.n_heads).contiguous()
        if self.kind == "softmax":
            y = softmax_attention(q, k, v, mask)
        elif self.kind == "linear":
            y = linear_attention(q, k, v, mask)
        else:
            alpha = self.alpha.clamp(0.01, 1.0) if hasattr(self, "alpha") else self.alpha_value
            decay = F.softplus(self.astro_decay) if hasattr(self, "astro_decay") else None
            y = astromorphic_attention(q, k, v, mask, alpha=alpha, m=self.m, decay=decay)
        return self.out(rearrange(y, "b h n d -> b n (h d)"))

