"""Segment recurrence: RF application, per-sample T, padding invariance of the full models."""

import json

import pytest
import torch

from model import PRESETS, build_model
from model.retention import compress_memory, load_retention, write_retention_json

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SEG = 5
VOCAB, CLASSES = 17, 4


@pytest.fixture(scope="module")
def retention(tmp_path_factory):
    return str(write_retention_json(tmp_path_factory.mktemp("rf") / "rf.json", 12,
                                    tau_cycles=3.0))


def small(preset, retention, **kw):
    torch.manual_seed(0)
    args = dict(vocab_size=VOCAB, num_classes=CLASSES, d_model=16, n_layers=2, n_heads=2,
                segment_len=SEG, num_mem_tokens=3, dropout=0.1, retention=retention,
                rf_segments=7)
    return build_model(preset, **{**args, **kw}).double().eval()


@pytest.mark.parametrize("rf_t", ["per_sample", "fixed"])
def test_scalar_rf_matches_json_schedule(retention, rf_t):
    net = small("rmaat", retention, rf_T=rf_t, memory_handoff="residual")
    schedule = json.load(open(retention))["schedules"]
    lengths = [23, 11, 5]  # T_b = 5, 3, 1
    tokens = torch.randint(0, VOCAB, (3, 23))
    mask = torch.arange(23)[None, :] < torch.tensor(lengths)[:, None]
    plan = net.plan(tokens, mask)
    assert plan.n_segments.tolist() == [5, 3, 1]
    state = net.initial_state(plan)
    for t in range(plan.num_segments):
        h = net.encode_segment(plan, t, state[0], last_rows=3)  # as step: memory rows
        new_mem, _ = net.step(plan, t, state)
        for b, t_b in enumerate(plan.n_segments.tolist()):
            if t < t_b:
                rf = schedule[str(t_b if rf_t == "per_sample" else 7)][t]
                assert torch.allclose(new_mem[b], rf * h[b, :3], rtol=1e-14, atol=0)
            else:  # segment beyond this sample's T_b: memory passes unchanged
                assert torch.equal(new_mem[b], state[0][b])
        state = (new_mem, state[1])


@pytest.mark.parametrize("handoff", ["residual", "normed"])
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_rf_mode_none_hands_on_the_chosen_memory_rows(retention, handoff, norm):
    net = small("rmaat", retention, rf_mode="none", memory_handoff=handoff, norm=norm)
    tokens = torch.randint(0, VOCAB, (2, 3 * SEG))
    plan = net.plan(tokens, None)
    state = net.initial_state(plan)
    for t in range(3):
        h = net.encode_segment(plan, t, state[0], last_rows=3)  # as step: memory rows
        state = net.step(plan, t, state)
        expected = h[:, :3]
        if handoff == "normed" and norm == "pre":
            expected = net.norm(expected)
            rms = expected.pow(2).mean(-1).sqrt()  # LayerNorm output: unit RMS per row
            assert torch.allclose(rms, torch.ones_like(rms), atol=1e-3)
        assert torch.equal(state[0], expected)


def test_post_norm_blocks_end_in_layernorm(retention):
    net = small("rmt", retention, norm="post")
    h = net.encode_segment(net.plan(torch.randint(0, VOCAB, (2, SEG)), None), 0,
                           net.memory_init.expand(2, -1, -1))
    assert torch.allclose(h.mean(-1), torch.zeros(h.shape[:2], dtype=h.dtype), atol=1e-12)
    assert isinstance(net.norm, torch.nn.Identity)


def test_delta_and_streaming_weight_the_increment():
    new, old = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    rf, first = torch.tensor([0.2, 1.0]), torch.tensor([0.4, 0.5])
    for mode in ("delta", "streaming"):
        out = compress_memory(mode, new, old, rf, first)
        assert torch.allclose(out[0], old[0] + 0.2 * (new[0] - old[0]))
        assert torch.allclose(out[1], new[1])  # factor 1 overwrites


def test_flat_and_learned_schedules(retention):
    tokens = torch.randint(0, VOCAB, (2, 23))
    mask = torch.ones(2, 23, dtype=torch.bool)
    mask[1, 11:] = False  # T_b = 5, 3
    flat = small("rmaat", None, rf_schedule="flat", rf_T="per_sample")
    assert torch.allclose(flat.plan(tokens, mask).rf_first, torch.tensor([1 / 5, 1 / 3],
                                                                          dtype=torch.float64))
    fixed = small("rmaat", None, rf_schedule="flat")
    assert torch.allclose(fixed.plan(tokens, mask).rf, torch.full((2, 5), 1 / 7,
                                                                  dtype=torch.float64))
    learned = small("rmaat", None, rf_schedule="learned", rf_mode="delta")
    plan = learned.plan(tokens, mask)
    with torch.no_grad():
        learned.rf_learned[2] = 3.0
    rf, first = learned._rf(plan, 2)
    expected = torch.tensor(3.0, dtype=torch.float64).exp()  # log-space factors
    assert torch.allclose(rf, expected.expand(2)) and not torch.allclose(first, rf)
    assert torch.allclose(first, torch.full((2,), 1 / 7, dtype=torch.float64))
    assert learned.rf_factors()[2] == pytest.approx(float(expected))
    assert learned.rf_factors(initial=True) == pytest.approx([1 / 7] * 7)


def test_streaming_runs_far_beyond_the_retention_file(tmp_path):
    """4x more segments than any T in the file: streaming runs; the T-based modes name T."""
    path = str(write_retention_json(tmp_path / "rf.json", 4, tau_cycles=3.0))
    sched = load_retention(path)
    f = sched.streaming_factors(16)
    assert f[:4] == list(sched.streaming)
    assert all(a > b > 0 for a, b in zip(f, f[1:], strict=False))
    assert abs(sum(sched.streaming_factors(400)) - 1) < 1e-12  # exponential: exact tail
    tokens = torch.randint(0, VOCAB, (2, 16 * SEG))  # 16 segments, file has T = 1..4
    net = small("rmaat", path, rf_mode="streaming")
    assert torch.isfinite(net(tokens)).all()
    assert net.plan(tokens, None).rf.shape == (2, 16)
    with pytest.raises(ValueError, match="no schedule for T=16 segments; it holds T = 1-4"):
        small("rmaat", path, rf_T="per_sample")(tokens)
    # rf_T 'fixed' reads RF(., rf_segments) only: a file without that T fails at build time
    with pytest.raises(ValueError, match="no schedule for T=7 segments; it holds T = 1-4"):
        small("rmaat", path, rf_mode="delta")
    with pytest.raises(ValueError, match="an input has T=16 segments"):
        small("rmaat", path, rf_mode="delta", rf_segments=4)(tokens)


def test_accumulate_adds_the_weighted_memory_outputs_to_the_initial_memory(retention):
    """rf_mode accumulate: mem_{t+1} = mem_t + RF(t, T) mem'_{t+1}, so the memory entering
    segment t+1 is mem_1 (the learned initial memory) + sum_{u<=t} RF(u, T) mem'_{u+1}."""
    new, old = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    rf, first = torch.tensor([0.2, 1.0]), torch.tensor([0.4, 0.5])
    out = compress_memory("accumulate", new, old, rf, first)
    assert torch.allclose(out[0], old[0] + 0.2 * new[0])
    assert torch.allclose(out[1], old[1] + new[1])  # factor 1 adds, does not overwrite
    net = small("rmaat", retention, rf_mode="accumulate")
    schedule = load_retention(retention).factors(7)
    tokens = torch.randint(0, VOCAB, (2, 23))
    mask = torch.ones(2, 23, dtype=torch.bool)
    mask[1, 11:] = False  # T_b = 5, 3
    plan = net.plan(tokens, mask)
    state = net.initial_state(plan)
    written = torch.zeros_like(state[0])
    for t in range(plan.num_segments):
        handed = net.norm(net.encode_segment(plan, t, state[0], last_rows=3)[:, :3])
        for b, t_b in enumerate(plan.n_segments.tolist()):
            if t < t_b:
                written[b] += schedule[t] * handed[b]
        state = net.step(plan, t, state)
        expected = net.memory_init.expand(2, -1, -1) + written
        assert torch.allclose(state[0], expected, rtol=1e-12, atol=1e-14), t


def test_gated_rf_blends_old_and_new_memory():
    new, old = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    rf, first = torch.tensor([0.2, 0.5]), torch.tensor([0.4, 0.5])
    out = compress_memory("gated", new, old, rf, first)
    assert torch.allclose(out[0], 0.5 * old[0] + 0.5 * new[0])
    assert torch.allclose(out[1], new[1])  # rho = 1 at the first segment
    assert torch.allclose(compress_memory("scalar", new, old, rf, first)[0], 0.2 * new[0])


def test_demo_schedule_has_the_properties_of_rf(retention):
    sched = load_retention(retention)
    for t_count, f in sched.schedules.items():
        assert len(f) == t_count and abs(sum(f) - 1) < 1e-12
        assert all(a >= b > 0 for a, b in zip(f, f[1:], strict=False))


CASES = [(p, {}) for p in PRESETS] + [
    ("rmaat", {"rf_mode": "gated", "readout": "both"}),
    ("rmaat", {"readout": "tokens", "learn_alpha": True}),
    ("rmaat", {"dual_encoder": True}),
    ("rmaat", {"rf_T": "per_sample"}),
    ("rmaat", {"rf_mode": "delta", "memory_handoff": "residual"}),
    ("rmaat", {"rf_mode": "streaming", "dual_encoder": True}),
    ("rmaat", {"rf_schedule": "flat", "norm": "post"}),
    ("rmaat", {"rf_schedule": "learned", "rf_mode": "delta", "rf_T": "per_sample"}),
    ("rmaat", {"rf_mode": "accumulate"}),
    ("rmaat", {"rf_mode": "accumulate", "rf_T": "per_sample", "memory_handoff": "residual"}),
    ("rmaat", {"rf_mode": "accumulate", "rf_schedule": "learned"}),
    ("rmaat", {"rf_mode": "accumulate", "rf_schedule": "flat", "dual_encoder": True}),
    ("rmaat", {"astro_m": 50.0, "rf_mode": "none"}),
    ("rmt", {"norm": "post"}),
    ("rlt", {"memory_handoff": "residual"}),
]


@pytest.mark.parametrize(("preset", "kw"), CASES, ids=[f"{p}-{k}" for p, k in CASES])
def test_padding_gives_the_unpadded_result(preset, kw, retention):
    """Each row of a padded batch equals that row alone without padding (any mask pattern,
    partial last segments, fully padded segments, per-sample T)."""
    net = small(preset, retention, **kw)
    g = torch.Generator().manual_seed(0)
    lengths = [27, 12, 5, 1]
    width = 33  # > max length: trailing segments padded for every row
    docs = (2,) if kw.get("dual_encoder") else ()
    tokens = torch.randint(0, VOCAB, (4, *docs, width), generator=g)
    mask = torch.zeros(4, *docs, width, dtype=torch.bool)
    singles = []
    for b, n in enumerate(lengths):
        pos = torch.randperm(width, generator=g)[:n].sort().values  # holes anywhere
        mask[b, ..., pos] = True
        singles.append(tokens[b:b + 1, ..., pos])
    out = net(tokens, mask)
    for b in range(4):
        if docs:  # the two documents of a pair share positions here; lengths per pair
            alone = net(singles[b], None)
        else:
            alone = net(singles[b], torch.ones_like(singles[b], dtype=torch.bool))
        assert torch.allclose(out[b], alone[0], rtol=1e-10, atol=1e-12), (preset, b)
    # the property is not trivial: changing a real token changes the output
    tokens2 = tokens.clone()
    last_real = mask[0].flatten().nonzero()[-1].item()
    tokens2[0].view(-1)[last_real] = (tokens2[0].view(-1)[last_real] + 1) % VOCAB
    assert not torch.allclose(net(tokens2, mask)[0], out[0], atol=1e-9)
    # and changing padded tokens does not
    tokens3 = tokens.masked_fill(~mask, 7)
    assert torch.allclose(net(tokens3, mask), out, rtol=1e-12, atol=1e-13)


def test_dual_encoder_documents_have_their_own_lengths(retention):
    net = small("rmaat", retention, dual_encoder=True)
    tokens = torch.randint(0, VOCAB, (1, 2, 20))
    mask = torch.ones(1, 2, 20, dtype=torch.bool)
    mask[0, 1, 7:] = False
    plan = net.plan(tokens, mask)
    assert plan.n_segments.tolist() == [4, 2]
    u_alone = net.plan(tokens[:, :1].expand(1, 2, 20), None)  # sanity of the layout
    assert u_alone.n_segments.tolist() == [4, 4]
