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
                segment_len=SEG, num_mem_tokens=3, dropout=0.1, retention=retention)
    return build_model(preset, **{**args, **kw}).double().eval()


def test_scalar_rf_matches_json_schedule_per_sample(retention):
    net = small("rmaat", retention)
    schedule = json.load(open(retention))["schedules"]
    lengths = [23, 11, 5]  # T_b = 5, 3, 1
    tokens = torch.randint(0, VOCAB, (3, 23))
    mask = torch.arange(23)[None, :] < torch.tensor(lengths)[:, None]
    plan = net.plan(tokens, mask)
    assert plan.n_segments.tolist() == [5, 3, 1]
    state = net.initial_state(plan)
    for t in range(plan.num_segments):
        h = net.encode_segment(plan, t, state[0])
        new_mem, _ = net.step(plan, t, state)
        for b, t_b in enumerate(plan.n_segments.tolist()):
            if t < t_b:
                rf = schedule[str(t_b)][t]
                assert torch.allclose(new_mem[b], rf * h[b, :3], rtol=1e-14, atol=0)
            else:  # segment beyond this sample's T_b: memory passes unchanged
                assert torch.equal(new_mem[b], state[0][b])
        state = (new_mem, state[1])


def test_rf_mode_none_passes_memory_unchanged(retention):
    net = small("rmaat", retention, rf_mode="none")
    tokens = torch.randint(0, VOCAB, (2, 3 * SEG))
    plan = net.plan(tokens, None)
    state = net.initial_state(plan)
    for t in range(3):
        h = net.encode_segment(plan, t, state[0])
        state = net.step(plan, t, state)
        assert torch.equal(state[0], h[:, :3])


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
