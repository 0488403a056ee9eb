"""Bad inputs raise ValueError naming the problem; the optimiser groups are right."""

import json

import pytest
import torch

from model import build_model
from model.amrb import amrb_backward
from model.optim import param_groups
from model.retention import load_retention, write_retention_json

pytestmark = pytest.mark.usefixtures("one_torch_thread")


ARGS = dict(vocab_size=10, num_classes=2, d_model=8, n_layers=1, n_heads=2, segment_len=4,
            num_mem_tokens=2, dropout=0.0, rf_segments=3)


@pytest.fixture()
def rf_path(tmp_path):
    return str(write_retention_json(tmp_path / "rf.json", 3))


@pytest.fixture()
def net(rf_path):
    return build_model("rmaat", **ARGS, retention=rf_path)


def test_unknown_preset_lists_allowed():
    with pytest.raises(ValueError, match=r"unknown preset 'gpt'; allowed: transformer, "
                                         r"linear_transformer, at, rmt, rlt, rmaat"):
        build_model("gpt", **ARGS)


@pytest.mark.parametrize("value", [0, -3])
def test_segment_len_must_be_positive(value, rf_path):
    with pytest.raises(ValueError, match=f"segment_len must be a positive integer, got {value}"):
        build_model("rmaat", **{**ARGS, "segment_len": value}, retention=rf_path)


def test_unknown_argument_and_bad_values(rf_path):
    with pytest.raises(ValueError, match="unknown model argument.*n_layer"):
        build_model("rmt", **ARGS, n_layer=3)
    with pytest.raises(ValueError, match=r"d_model \(8\) must be divisible by n_heads \(3\)"):
        build_model("rmt", **{**ARGS, "n_heads": 3})
    with pytest.raises(ValueError, match="rf_mode must be one of scalar, none, gated, delta, "
                                         "streaming, accumulate; got 'learned'"):
        build_model("rmaat", **ARGS, retention=rf_path, rf_mode="learned")
    with pytest.raises(ValueError, match="rf_mode='scalar' with rf_schedule='bio' needs "
                                         "retention="):
        build_model("rmaat", **ARGS)


@pytest.mark.parametrize(("key", "allowed"), [
    ("memory_handoff", "residual, normed"), ("norm", "pre, post"),
    ("rf_T", "fixed, per_sample"), ("rf_schedule", "bio, flat, learned")])
def test_new_options_reject_unknown_values_listing_the_allowed(key, allowed, rf_path):
    with pytest.raises(ValueError, match=f"{key} must be one of {allowed}; got 'x'"):
        build_model("rmaat", **ARGS, retention=rf_path, **{key: "x"})


def test_option_combinations_that_cannot_work(rf_path):
    args = {k: v for k, v in ARGS.items() if k != "rf_segments"}
    with pytest.raises(ValueError, match="rf_T='fixed' with rf_mode='scalar' needs rf_segments"):
        build_model("rmaat", **args, retention=rf_path)
    with pytest.raises(ValueError, match="rf_schedule='learned' .* needs rf_segments"):
        build_model("rmaat", **args, rf_T="per_sample", rf_schedule="learned")
    for schedule in ("flat", "learned"):
        with pytest.raises(ValueError, match="rf_mode='streaming' .* needs rf_schedule='bio'"):
            build_model("rmaat", **ARGS, retention=rf_path, rf_mode="streaming",
                        rf_schedule=schedule)
    with pytest.raises(ValueError, match="rf_segments must be a positive integer"):
        build_model("rmaat", **{**ARGS, "rf_segments": 0}, retention=rf_path)
    # flat and learned schedules need no retention file; streaming needs no rf_segments
    build_model("rmaat", **ARGS, rf_schedule="flat", rf_mode="delta")
    build_model("rmaat", **args, retention=rf_path, rf_mode="streaming")


def test_streaming_with_an_old_retention_file_says_how_to_regenerate(tmp_path):
    old = str(write_retention_json(tmp_path / "old.json", 3, streaming=False))
    build_model("rmaat", **ARGS, retention=old)  # the other modes do not need the entry
    with pytest.raises(ValueError, match="has no 'streaming' entry.*regenerate it with "
                                         "`snakemake --cores 8` or `python -m distill`"):
        build_model("rmaat", **ARGS, retention=old, rf_mode="streaming")


def test_fixed_t_names_the_task_t_when_an_input_is_longer(net):
    tokens = torch.randint(0, 10, (1, 4 * 5))  # 5 segments, rf_segments = 3
    with pytest.raises(ValueError, match="an input has T=5 segments of 4 tokens, more than "
                                         "rf_segments=3.*rf_mode='streaming'"):
        net(tokens)
    net(tokens[:, :12])


def test_retention_without_needed_t_says_which_and_how_to_regenerate(rf_path):
    net = build_model("rmaat", **ARGS, retention=rf_path, rf_T="per_sample")
    tokens = torch.randint(0, 10, (1, 4 * 5))  # 5 segments, file has T = 1..3
    with pytest.raises(ValueError, match=r"no schedule for T=5 segments; it holds T = 1-3; "
                                         r"regenerate it with `snakemake --cores 8` or "
                                         r"`python -m distill`"):
        net(tokens)
    net(tokens[:, :12])  # T = 3 is fine


def test_missing_and_corrupt_retention_files(tmp_path):
    with pytest.raises(ValueError, match="retention file .*nope.json does not exist"):
        build_model("rmaat", **ARGS, retention=str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_retention(bad)
    bad.write_text(json.dumps({"condition": "x"}))
    with pytest.raises(ValueError, match="bad.json: retention JSON: missing key 'macro_model'"):
        load_retention(bad)
    good = json.loads(write_retention_json(tmp_path / "good.json", max_segments=3).read_text())
    cases = [({"2": [0.5]}, "schedule 2: length != T"),
             ({"2": [0.7, 0.4]}, "schedule 2: RF sums to 1.1"),
             ({"2": [0.4, 0.6]}, "non-increasing"),
             ({"2": [1.5, -0.5]}, "finite and positive"),
             ({"two": [1.0]}, "not a positive integer")]
    for schedules, message in cases:
        bad.write_text(json.dumps({**good, "schedules": schedules}))
        with pytest.raises(ValueError, match=message):
            load_retention(bad)
        with pytest.raises(ValueError, match=message):  # the model loads through the same check
            build_model("rmaat", **ARGS, retention=str(bad))


def test_bad_tokens_and_masks(net):
    tokens = torch.randint(0, 10, (2, 8))
    tokens[0, 0] = 9  # the out-of-range case below needs a 9 (unseeded draws lack one 19 % of runs)
    with pytest.raises(ValueError, match="tokens must have an integer dtype.*float32"):
        net(tokens.float())
    with pytest.raises(ValueError, match=r"tokens must have shape \[B, L\], got \[8\]"):
        net(tokens[0])
    with pytest.raises(ValueError, match="tokens must be a torch.Tensor"):
        net(tokens.tolist())
    with pytest.raises(ValueError, match="mask must be a torch.bool tensor.*torch.int64"):
        net(tokens, torch.ones_like(tokens))
    with pytest.raises(ValueError, match=r"mask shape \[2, 7\] differs from tokens shape"):
        net(tokens, torch.ones(2, 7, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 10\).*max 10"):
        net(tokens.clamp_max(9) + (tokens == 9).long())
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ValueError, match=r"rows \[1\] of the input have no real token"):
        net(tokens, mask)


def test_bad_labels(net):
    tokens = torch.randint(0, 10, (2, 8))
    with pytest.raises(ValueError, match=r"labels must have shape \[2\]"):
        amrb_backward(net, tokens, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        amrb_backward(net, tokens, torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="labels must be an integer"):
        amrb_backward(net, tokens, torch.tensor([0.0, 1.0]))


def test_dual_encoder_shape(rf_path):
    net = build_model("rmaat", **ARGS, retention=rf_path, dual_encoder=True)
    with pytest.raises(ValueError, match=r"tokens must have shape \[B, 2, L\], got \[2, 8\]"):
        net(torch.randint(0, 10, (2, 8)))
    assert net(torch.randint(0, 10, (3, 2, 8))).shape == (3, 2)


def test_param_groups_special_parameters(net):
    net = build_model("rmaat", **ARGS, retention=None, rf_mode="none", learn_alpha=True)
    groups = {g["name"]: g for g in param_groups(net, lr=1e-3, weight_decay=0.1,
                                                 special_lr=1e-4)}
    special = {id(p) for p in groups["special"]["params"]}
    named = dict(net.named_parameters())
    assert special == {id(named[n]) for n in ("memory_init", "blocks.0.attn.alpha",
                                              "blocks.0.attn.astro_decay")}
    learned = build_model("rmaat", **ARGS, rf_schedule="learned")
    groups_l = {g["name"]: g for g in param_groups(learned, lr=1e-3, weight_decay=0.1,
                                                   special_lr=1e-4, rf_lr=0.05)}
    # the learned factors have a group of their own: rf_lr, no weight decay
    assert [p is learned.rf_learned for p in groups_l["rf"]["params"]] == [True]
    assert groups_l["rf"]["lr"] == 0.05 and groups_l["rf"]["weight_decay"] == 0.0
    assert not any(p is learned.rf_learned for p in groups_l["special"]["params"])
    assert param_groups(learned, 1e-3, 0.1, special_lr=1e-4)[-1]["lr"] == 1e-4  # default
    # log space, initialised to the flat schedule 1 / rf_segments
    assert torch.allclose(learned.rf_learned.exp(), torch.full((3,), 1 / 3))
    assert learned.rf_factors() == pytest.approx([1 / 3] * 3)
    assert groups["special"]["lr"] == 1e-4 and groups["special"]["weight_decay"] == 0.0
    assert groups["no_decay"]["weight_decay"] == 0.0 and groups["decay"]["weight_decay"] == 0.1
    every = [id(p) for g in groups.values() for p in g["params"]]
    assert sorted(every) == sorted(id(p) for p in net.parameters())  # each exactly once
    torch.optim.AdamW(param_groups(net, 1e-3, 0.1))  # accepted by torch
