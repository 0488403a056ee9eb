"""Oracle and masking tests of the three attentions (model/attention.py)."""

import math

import pytest
import torch

from model.attention import (
    MultiHeadAttention,
    astromorphic_attention,
    linear_attention,
    process_kernel,
    softmax_attention,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


B, H, N, D = 3, 2, 11, 5


def qkv(seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, N, D, generator=g, dtype=dtype) for _ in range(3)]


def random_mask(seed: int = 1) -> torch.Tensor:
    """Arbitrary (not only right) padding, at least two real tokens per row."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(B, N, generator=g) > 0.4
    mask[:, :2] = True
    mask[0, -1] = False
    return mask


def oracle_linear(q, k, v):
    """Katharopoulos et al. (2020) eq. (6), non-causal, written query by query."""
    phi = lambda x: torch.where(x > 0, x + 1, torch.exp(x))  # noqa: E731  elu(x) + 1
    out = torch.empty_like(v)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            for i in range(q.shape[2]):
                w = torch.stack([phi(q[b, h, i]) @ phi(k[b, h, j]) for j in range(k.shape[2])])
                out[b, h, i] = (w[:, None] * v[b, h]).sum(0) / w.sum()
    return out


def oracle_softmax(q, k, v, mask):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask[:, None, None, :], -math.inf)
    w = torch.exp(scores - scores.amax(-1, keepdim=True))
    return (w / w.sum(-1, keepdim=True)) @ v


def test_astromorphic_alpha1_no_astro_m1_is_linear_attention():
    q, k, v = qkv()
    got = astromorphic_attention(q, k, v, alpha=1.0, m=1.0, decay=None)
    assert torch.allclose(got, oracle_linear(q, k, v), rtol=0, atol=1e-6)
    assert torch.allclose(linear_attention(q, k, v), oracle_linear(q, k, v), rtol=0, atol=1e-6)
    # and the paper's alpha = 0.25 is something else
    assert not torch.allclose(astromorphic_attention(q, k, v, alpha=0.25, m=1.0), got, atol=1e-3)


def test_astromorphic_matches_spec_formula_with_astro_term():
    """L = diag(1 / (phi(Q) g^T)) phi(Q) (phi(K)^T V + phi(R)^T V) / m, R from §4."""
    q, k, v = qkv(3)
    alpha, m = 0.3, 7.0
    decay = torch.tensor([0.5, 0.05], dtype=torch.float64)
    got = astromorphic_attention(q, k, v, alpha=alpha, m=m, decay=decay)
    phi = lambda x: torch.nn.functional.elu(x) + 1  # noqa: E731
    centres = torch.tensor([j * (N - 1) / (D - 1) for j in range(D)], dtype=torch.float64)
    for h in range(H):
        r = torch.exp(-(torch.arange(N, dtype=torch.float64)[:, None] - centres).abs()
                      * decay[h])  # [N, d_k]
        for b in range(B):
            hn = phi(k[b, h]).T @ v[b, h] / m
            ha = phi(r).T @ v[b, h] / m
            g = phi(k[b, h]).sum(0) ** alpha
            p = 1.0 / (phi(q[b, h]) @ g)
            want = p[:, None] * (phi(q[b, h]) @ (hn + ha))
            assert torch.allclose(got[b, h], want, rtol=1e-9, atol=1e-9)


def test_softmax_attention_matches_naive():
    q, k, v = qkv(5)
    mask = random_mask()
    assert torch.allclose(softmax_attention(q, k, v, mask), oracle_softmax(q, k, v, mask),
                          rtol=1e-10, atol=1e-10)
    full = torch.ones(B, N, dtype=torch.bool)
    assert torch.allclose(softmax_attention(q, k, v), oracle_softmax(q, k, v, full),
                          rtol=1e-10, atol=1e-10)


ATTENTIONS = {
    "softmax": softmax_attention,
    "linear": linear_attention,
    "astromorphic": lambda q, k, v, mask: astromorphic_attention(
        q, k, v, mask, alpha=0.25, m=3.0, decay=torch.tensor([0.3, 0.02], dtype=q.dtype)),
}


@pytest.mark.parametrize("kind", list(ATTENTIONS))
def test_masked_padding_changes_nothing(kind):
    """Each sample's real positions give what its unpadded subsequence gives alone."""
    fn = ATTENTIONS[kind]
    q, k, v = qkv(7)
    mask = random_mask()
    out = fn(q, k, v, mask)
    for b in range(B):
        idx = mask[b].nonzero().flatten()
        alone = fn(q[b:b + 1, :, idx], k[b:b + 1, :, idx], v[b:b + 1, :, idx], None)
        assert torch.allclose(out[b, :, idx], alone[0], rtol=1e-10, atol=1e-12), kind
    # the check can fail: ignoring the mask changes real outputs
    assert not torch.allclose(fn(q, k, v, None)[0, :, :2], out[0, :, :2], atol=1e-6)


@pytest.mark.parametrize("kind", list(ATTENTIONS))
def test_padded_values_are_ignored(kind):
    fn = ATTENTIONS[kind]
    q, k, v = qkv(9)
    mask = random_mask(4)
    k2, v2 = k.clone(), v.clone()
    pad = ~mask[:, None, :, None].expand_as(k)
    k2[pad], v2[pad] = 1e3, -1e3
    real = mask[:, None, :, None].expand_as(v)
    assert torch.allclose(fn(q, k, v, mask)[real], fn(q, k2, v2, mask)[real],
                          rtol=1e-10, atol=1e-10)


def test_process_kernel_skips_padding_positions():
    mask = torch.tensor([[True, False, True, True, False]])
    decay = torch.tensor([0.7])
    r = process_kernel(mask, 5, 3, decay, torch.float64)
    r_alone = process_kernel(None, 3, 3, decay, torch.float64)
    assert torch.allclose(r[0, 0, mask[0]], r_alone[0, 0])
    assert torch.allclose(r_alone[0, 0].diagonal(), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("kind", ["softmax", "linear", "astromorphic"])
def test_module_shapes_and_special_parameters(kind):
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, kind, learn_alpha=True)
    x = torch.randn(2, 9, 16)
    y = mha(x, torch.ones(2, 9, dtype=torch.bool))
    assert y.shape == x.shape and torch.isfinite(y).all()
    names = {n for n, _ in mha.named_parameters()}
    assert ({"alpha", "astro_decay"} <= names) == (kind == "astromorphic")


def test_module_oracle_astromorphic_equals_linear_module():
    torch.manual_seed(0)
    astro = MultiHeadAttention(12, 3, "astromorphic", alpha=1.0, m=1.0, use_astro=False).double()
    lin = MultiHeadAttention(12, 3, "linear").double()
    lin.load_state_dict(astro.state_dict())
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    assert torch.allclose(astro(x), lin(x), rtol=0, atol=1e-12)


def test_length_aware_m_keeps_astromorphic_output_at_linear_scale():
    """m = None is m = n^(1 - alpha) (n = real keys): the output stays at linear attention's
    scale for any n, where a fixed m drifts by n^(1 - alpha)."""
    g = torch.Generator().manual_seed(0)
    ratios, fixed = [], []
    for n in (36, 260, 1040):
        q, k, v = (torch.randn(2, 2, n, 8, generator=g, dtype=torch.float64) for _ in range(3))
        lin = linear_attention(q, k, v).pow(2).mean().sqrt()
        auto = astromorphic_attention(q, k, v, alpha=0.25, m=None)
        assert torch.allclose(auto, astromorphic_attention(q, k, v, alpha=0.25,
                                                           m=n ** 0.75), rtol=1e-12)
        ratios.append(float(auto.pow(2).mean().sqrt() / lin))
        fixed.append(float(astromorphic_attention(q, k, v, m=1.0).pow(2).mean().sqrt() / lin))
    assert all(0.5 < r < 2.0 for r in ratios)
    assert fixed[-1] / fixed[0] > 10  # m = 1: the output grows with n
    # padding: n counts real keys only; per-head alpha gives a per-head m
    q, k, v = (torch.randn(2, 2, 10, 8, generator=g, dtype=torch.float64) for _ in range(3))
    mask = torch.ones(2, 10, dtype=torch.bool)
    mask[1, 6:] = False
    alpha = torch.tensor([0.25, 0.5], dtype=torch.float64)
    out = astromorphic_attention(q, k, v, mask, alpha=alpha, m=None)
    alone = astromorphic_attention(q[1:, :, :6], k[1:, :, :6], v[1:, :, :6], None,
                                   alpha=alpha, m=None)
    assert torch.allclose(out[1:, :, :6], alone, rtol=1e-12)
