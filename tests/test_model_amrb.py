"""AMRB and checkpointing give exactly the gradients of full BPTT (float64, dropout > 0)."""

import pytest
import torch
import torch.nn.functional as F

from model.amrb import amrb_backward
from model.drivers import backward, bptt_backward, checkpoint_backward, checkpointed_forward
from tests.conftest import SMALL_MODEL, small_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SEG = SMALL_MODEL["segment_len"]
VOCAB, CLASSES = SMALL_MODEL["vocab_size"], SMALL_MODEL["num_classes"]


def small(preset, retention, **kw):
    return small_model(preset, retention, **kw).double()


def batch(n_segments, dual=False):
    """Right- and arbitrarily padded batch: sample 0 spans n_segments, the others fewer."""
    g = torch.Generator().manual_seed(n_segments)
    length = n_segments * SEG
    shape = (3, 2, length) if dual else (3, length)
    tokens = torch.randint(0, VOCAB, shape, generator=g)
    mask = torch.ones(shape, dtype=torch.bool)
    mask[1, ..., max(1, length - SEG - 1):] = False  # one segment shorter (if any)
    mask[2, ..., 1::3] = False  # holes: 2/3 of the tokens
    labels = torch.tensor([0, 2, 1])
    return tokens, mask, labels


def bptt_grads(net, tokens, mask, labels, seed):
    net.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    loss = F.cross_entropy(net(tokens, mask), labels)
    loss.backward()
    return float(loss.detach()), grads_of(net)


def driver_grads(driver, net, tokens, mask, labels, seed):
    net.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    loss = driver(net, tokens, labels, mask)
    return loss, grads_of(net)


def grads_of(net):
    """.grad of every parameter (zeros for one that got none: a learned factor of the last
    segment, whose memory output is handed to no segment)."""
    return {n: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            for n, p in net.named_parameters()}


def max_relative_difference(a, b):
    """max over parameters of max|a - b| / max|b| (per parameter tensor)."""
    worst = 0.0
    for name in b:
        scale = b[name].abs().max().item()
        diff = (a[name] - b[name]).abs().max().item()
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


@pytest.mark.parametrize("preset", ["rmaat", "rmt", "rlt"])
@pytest.mark.parametrize("n_segments", [1, 2, 8])
@pytest.mark.parametrize("driver", [amrb_backward, checkpoint_backward],
                         ids=["amrb", "checkpoint"])
def test_driver_gradients_equal_bptt(preset, n_segments, driver, retention):
    net = small(preset, retention)
    tokens, mask, labels = batch(n_segments)
    loss_ref, ref = bptt_grads(net, tokens, mask, labels, seed=123)
    rng_ref = torch.get_rng_state()
    loss, got = driver_grads(driver, net, tokens, mask, labels, seed=123)
    assert torch.equal(torch.get_rng_state(), rng_ref)  # same RNG stream as one forward
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    assert set(got) == set(ref)
    assert max_relative_difference(got, ref) <= 1e-8
    # the comparison is meaningful: gradients reach the memory and the first layer, and
    # dropout is active (another seed gives other gradients)
    assert ref["memory_init"].abs().max() > 0 and ref["embed.weight"].abs().max() > 0
    _, other = bptt_grads(net, tokens, mask, labels, seed=321)
    assert max_relative_difference(other, ref) > 1e-4


@pytest.mark.parametrize("schedule", ["bio", "flat", "learned"])
@pytest.mark.parametrize("n_segments", [1, 2, 8])
@pytest.mark.parametrize("driver", [amrb_backward, checkpoint_backward],
                         ids=["amrb", "checkpoint"])
def test_accumulate_gradients_equal_bptt(schedule, n_segments, driver, retention):
    """rf_mode accumulate (mem_{t+1} = mem_t + RF(t, T) mem'_{t+1}) is exact under every
    driver, like the other readings."""
    net = small("rmaat", retention, rf_mode="accumulate", rf_schedule=schedule)
    tokens, mask, labels = batch(n_segments)
    loss_ref, ref = bptt_grads(net, tokens, mask, labels, seed=77)
    loss, got = driver_grads(driver, net, tokens, mask, labels, seed=77)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    assert max_relative_difference(got, ref) <= 1e-8
    assert ref["memory_init"].abs().max() > 0
    if schedule == "learned" and n_segments > 1:  # factors of segments 1..T-1 are trained
        assert ref["rf_learned"][:n_segments - 1].abs().min() > 0
    _, other = bptt_grads(net, tokens, mask, labels, seed=78)  # dropout is on
    assert max_relative_difference(other, ref) > 1e-4


def test_amrb_without_rng_replay_would_differ(retention, monkeypatch):
    """Guard that the test above can fail: break the RNG restore and gradients change."""
    import model.amrb as amrb

    net = small("rmaat", retention)
    tokens, mask, labels = batch(4)
    _, ref = bptt_grads(net, tokens, mask, labels, seed=5)
    monkeypatch.setattr(amrb, "_set_rng", lambda state, device: None)
    _, got = driver_grads(amrb_backward, net, tokens, mask, labels, seed=5)
    assert max_relative_difference(got, ref) > 1e-6


def test_amrb_accumulates_like_backward(retention):
    net = small("rmaat", retention, dropout=0.0)
    tokens, mask, labels = batch(3)
    _, once = driver_grads(amrb_backward, net, tokens, mask, labels, seed=1)
    torch.manual_seed(1)
    amrb_backward(net, tokens, labels, mask)  # second call on top of the first
    for n, p in net.named_parameters():
        assert torch.allclose(p.grad, 2 * once[n], rtol=1e-12, atol=0)


def test_amrb_dual_encoder_and_learned_alpha(retention):
    net = small("rmaat", retention, dual_encoder=True, learn_alpha=True, readout="both")
    tokens, mask, labels = batch(5, dual=True)
    _, ref = bptt_grads(net, tokens, mask, labels, seed=9)
    _, got = driver_grads(amrb_backward, net, tokens, mask, labels, seed=9)
    assert max_relative_difference(got, ref) <= 1e-8
    assert ref["blocks.0.attn.alpha"].abs().max() > 0


# Every option combination a preset or variant can select: handoff x norm x RF mode x
# schedule x T (with the presets' own defaults in the test above).
COMBOS = [
    ("rmaat", {"rf_mode": mode, "memory_handoff": handoff, "norm": norm})
    for mode in ("scalar", "none", "gated", "delta", "streaming", "accumulate")
    for handoff in ("residual", "normed") for norm in ("pre", "post")
] + [
    ("rmaat", {"rf_mode": mode, "rf_schedule": schedule, "rf_T": rf_t})
    for mode in ("scalar", "gated", "delta", "accumulate")
    for schedule in ("bio", "flat", "learned")
    for rf_t in ("fixed", "per_sample")
] + [
    ("rmaat", {"astro_m": 100.0}), ("rmaat", {"learn_alpha": True, "norm": "post"}),
    ("rmt", {"memory_handoff": "residual"}), ("rmt", {"norm": "post"}),
    ("rmt", {"rf_mode": "scalar", "rf_schedule": "flat"}),
    ("rlt", {"memory_handoff": "residual", "norm": "post"}),
    ("rlt", {"rf_mode": "streaming"}),
]


@pytest.mark.parametrize(("preset", "kw"), COMBOS,
                         ids=["-".join([p, *map(str, k.values())]) for p, k in COMBOS])
def test_amrb_every_option_combination(preset, kw, retention):
    net = small(preset, retention, **kw)
    tokens, mask, labels = batch(6)
    _, ref = bptt_grads(net, tokens, mask, labels, seed=2)
    _, got = driver_grads(amrb_backward, net, tokens, mask, labels, seed=2)
    assert max_relative_difference(got, ref) <= 1e-8
    if kw.get("rf_schedule") == "learned":  # the factors of segments 1..T-1 are trained
        assert ref["rf_learned"][:5].abs().min() > 0  # (the last segment's hands on nothing)


def test_checkpointed_forward_equals_forward_and_dispatch(retention):
    net = small("rmt", retention).eval()
    tokens, mask, labels = batch(3)
    assert torch.equal(checkpointed_forward(net, tokens, mask), net(tokens, mask))
    net.zero_grad()
    loss = backward(net, tokens, labels, mask)  # rmt: bptt by default
    with torch.no_grad():
        assert loss == pytest.approx(float(F.cross_entropy(net(tokens, mask), labels)))
    with pytest.raises(ValueError, match="unknown driver 'adjoint'; allowed: bptt"):
        backward(net, tokens, labels, mask, driver="adjoint")


@pytest.mark.parametrize("readout", ["memory", "tokens", "both"])
def test_memory_only_step_matches_full_step(readout, retention):
    """Every driver skips the last block's token rows when nothing reads them: the same states
    and, through BPTT, the same gradients as computing them (compared without dropout: the
    kept rows draw smaller dropout masks); with dropout AMRB still equals BPTT."""
    net = small("rmaat", retention, readout=readout).eval()
    tokens, mask, labels = batch(4)
    plan = net.plan(tokens, mask)
    state = net.initial_state(plan)
    with torch.no_grad():
        for t in range(plan.num_segments):
            full = net.step(plan, t, state, memory_only=False)
            fast = net.step(plan, t, state, memory_only=True)
            for a, b in zip(fast, full, strict=True):
                assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)
            state = full
    _, ref = bptt_grads(net, tokens, mask, labels, seed=4)
    net.zero_grad(set_to_none=True)
    state = net.initial_state(plan)
    for t in range(plan.num_segments):
        state = net.step(plan, t, state, memory_only=False)
    F.cross_entropy(net.logits(plan, state), labels).backward()
    every_row = {n: p.grad.clone() for n, p in net.named_parameters()}
    assert max_relative_difference(every_row, ref) <= 1e-10
    net.train()
    _, ref = bptt_grads(net, tokens, mask, labels, seed=4)
    _, got = driver_grads(amrb_backward, net, tokens, mask, labels, seed=4)
    assert max_relative_difference(got, ref) <= 1e-8


@pytest.mark.parametrize("driver", [amrb_backward, checkpoint_backward, bptt_backward],
                         ids=["amrb", "checkpoint", "bptt"])
def test_drivers_work_under_no_grad(driver, retention):
    net = small("rmaat", retention)
    tokens, mask, labels = batch(3)
    _, ref = driver_grads(driver, net, tokens, mask, labels, seed=8)
    with torch.no_grad():
        _, got = driver_grads(driver, net, tokens, mask, labels, seed=8)
    assert max_relative_difference(got, ref) == 0.0
