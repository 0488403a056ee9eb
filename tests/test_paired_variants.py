"""Common random numbers: paired variants of a seed share initial weights, batches and dropout.

A paired comparison over seeds (rmaat vs its ablations) sees only the ablation when, for a
seed, both arms start from the same weights wherever they have the same parameter, read the
same batches in the same order and draw the same dropout masks where their structure is the
same (model/init.py, train/data.py, the dropout seed of train/loop.py).
"""

from __future__ import annotations

import copy
import itertools
import math
from pathlib import Path

import pytest
import torch

import train.loop as loop
from lra.listops_generator import ListOpsSettings, generate_listops_release
from model import build_model
from model.init import MEMORY_INIT_STD, init_parameters, module_seed
from model.retention import write_retention_json
from pipeline.config import validate_config
from train.plan import run_names, run_spec
from train.spec import RunSpec

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]

#: rmaat and the variants it is paired with in a study (model overrides; "slow" reads
#: another retention condition's file).
PAIRED = {
    "rmaat": {}, "no_rf": {"rf_mode": "none"}, "flat": {"rf_schedule": "flat"},
    "learned": {"rf_schedule": "learned"}, "accumulate": {"rf_mode": "accumulate"},
    "gated": {"rf_mode": "gated"}, "delta": {"rf_mode": "delta"}, "slow": {},
}
#: Variants whose structure differs (other or differently shaped parameters): they still
#: share the initial values of the parameters they have in common.
STRUCTURAL = {"layers2": {"n_layers": 2}, "mem4": {"num_mem_tokens": 4},
              "alpha": {"learn_alpha": True}, "both": {"readout": "both"},
              "post": {"norm": "post"}}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("crn")
    settings = ListOpsSettings(n_train=64, n_val=16, n_test=16, min_length=8, max_length=30,
                               max_depth=3, max_args=3, seed=5)
    generate_listops_release(tmp / "listops" / "listops-1000", settings, progress=False)
    return {"root": tmp / "listops", "bio": write_retention_json(tmp / "bio.json", 8),
            "slow": write_retention_json(tmp / "slow.json", 8, tau_cycles=9.0)}


def spec_of(files, name: str, overrides: dict, seed: int = 3) -> RunSpec:
    model = {"d_model": 16, "n_layers": 1, "n_heads": 2, "segment_len": 8,
             "num_mem_tokens": 2, "dropout": 0.2,
             "retention": str(files["slow" if name == "slow" else "bio"]), **overrides}
    return RunSpec(task="listops", preset="rmaat", seed=seed, variant=name,
                   data_root=str(files["root"]), cache_dir=str(files["root"] / ".cache"),
                   seq_len=32, model=model, epochs=1, batch_size=8, eval_batch_size=16,
                   checkpoint_every=0, device="cpu").validate()


def initial_weights(spec: RunSpec) -> dict[str, torch.Tensor]:
    net = loop.build_run_model(spec, torch.device("cpu"))
    return {n: p.detach().clone() for n, p in net.named_parameters()}


def assert_shared_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> int:
    """Every parameter the two share is equal; returns how many they share. Shared = same
    name, and every parameter of its module has the same shape in both (the bias of a layer
    with another fan-in, e.g. the head's first layer under readout 'both', has another
    range, so it is not the same parameter)."""
    def module_shapes(w: dict[str, torch.Tensor], name: str) -> dict[str, torch.Size]:
        prefix = name.rpartition(".")[0]
        if not prefix:  # a parameter of the network itself (memory_init, rf_learned)
            return {name: w[name].shape}
        return {n: t.shape for n, t in w.items() if n.rpartition(".")[0] == prefix}

    shared = [n for n in a if n in b and module_shapes(a, n) == module_shapes(b, n)]
    for name in shared:
        assert torch.equal(a[name], b[name]), name
    return len(shared)


def test_paired_variants_share_every_shared_initial_weight(files):
    weights = {name: initial_weights(spec_of(files, name, kw))
               for name, kw in {**PAIRED, **STRUCTURAL}.items()}
    for a, b in itertools.combinations(weights, 2):
        assert assert_shared_equal(weights[a], weights[b]) >= 10, (a, b)
        if a in PAIRED and b in PAIRED:  # same structure: every parameter but rf_learned
            assert set(weights[a]) ^ set(weights[b]) <= {"rf_learned"}
            assert torch.equal(weights[a]["memory_init"], weights[b]["memory_init"])
    # the head and the memory exist in every variant; the second layer only in layers2
    assert "blocks.1.ffn.net.0.weight" in weights["layers2"]
    # and another seed gives other weights (the check is not vacuous)
    other = initial_weights(spec_of(files, "rmaat", {}, seed=4))
    assert not torch.equal(other["head.net.0.weight"], weights["rmaat"]["head.net.0.weight"])


def test_initial_weights_do_not_depend_on_other_parameters_or_the_global_rng():
    """A parameter's value is a function of (init_seed, its name) only: adding layers,
    memory tokens or another head does not move it, nor does the global RNG state."""
    args = dict(vocab_size=11, num_classes=3, d_model=16, n_heads=2, segment_len=4,
                num_mem_tokens=2, rf_segments=4, rf_schedule="flat")
    torch.manual_seed(123)
    a = dict(build_model("rmaat", init_seed=9, n_layers=1, **args).named_parameters())
    b = dict(build_model("rmaat", init_seed=9, n_layers=3, **{**args, "num_mem_tokens": 5},
                         readout="both").named_parameters())
    assert assert_shared_equal(a, b) >= 10
    assert a["memory_init"].shape != b["memory_init"].shape
    # building advances the global RNG by one draw (the init seed), whatever the size
    torch.manual_seed(5)
    build_model("rmaat", n_layers=1, **args)
    after_small = torch.rand(3)
    torch.manual_seed(5)
    build_model("rmaat", n_layers=3, **args)
    assert torch.equal(torch.rand(3), after_small)


def test_initial_weights_follow_pytorchs_default_distributions():
    """Each Linear / Embedding equals the PyTorch module built right after
    torch.manual_seed(module_seed(init_seed, its name)): the same distributions and draws as
    PyTorch's own initialisation, only the stream is the module's."""
    net = build_model("rmaat", init_seed=31, vocab_size=11, num_classes=3, d_model=16,
                      n_layers=2, n_heads=2, segment_len=4, num_mem_tokens=3, rf_segments=4,
                      rf_schedule="learned", learn_alpha=True)
    kinds = set()
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.Linear):
            torch.manual_seed(module_seed(31, name))
            ref = torch.nn.Linear(module.in_features, module.out_features)
        elif isinstance(module, torch.nn.Embedding):
            torch.manual_seed(module_seed(31, name))
            ref = torch.nn.Embedding(module.num_embeddings, module.embedding_dim)
        elif isinstance(module, torch.nn.LayerNorm):
            ref = torch.nn.LayerNorm(module.normalized_shape)
        else:
            continue
        kinds.add(type(module).__name__)
        for (n, p), (_, q) in zip(module.named_parameters(), ref.named_parameters(),
                                  strict=True):
            assert torch.equal(p, q), f"{name}.{n}"
    assert kinds == {"Linear", "Embedding", "LayerNorm"}
    g = torch.Generator().manual_seed(module_seed(31, "memory_init"))
    assert torch.equal(net.memory_init, MEMORY_INIT_STD * torch.randn(3, 16, generator=g))
    # deterministic parameters keep their constructed values
    assert torch.allclose(net.rf_learned.exp(), torch.full((4,), 0.25))
    assert torch.equal(net.blocks[0].attn.alpha, torch.full((2,), 0.25))
    bound = 1 / math.sqrt(16)
    assert net.blocks[0].attn.qkv.weight.abs().max() <= bound


def test_a_parameter_without_an_init_rule_is_an_error():
    class Odd(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(2))

    with pytest.raises(ValueError, match="parameter scale .* no initialisation rule"):
        init_parameters(Odd(), 0)


def test_study_variants_share_the_data_settings(default_config):
    """Every variant of a task in the default study reads the same batches for a seed: the
    run-spec fields that decide the batches (train.data.epoch_batches and the data) agree."""
    cfg = validate_config(copy.deepcopy(default_config))
    data_fields = ("task", "seed", "data_root", "cache_dir", "level", "seq_len", "max_train",
                   "max_eval", "batch_size", "bucket", "epochs")
    # the segment ablation's variants shorten the context on purpose (their own seq_len)
    shortened = {name for name, v in cfg["experiment"]["variants"].items() if "seq_len" in v}
    runs = [run for run in run_names(cfg, missing_ok=True) if run[1] not in shortened]
    for task, seed in {(task, seed) for task, _, seed in runs}:
        specs = [run_spec(cfg, task, name, seed) for t, name, s in runs
                 if (t, s) == (task, seed)]
        assert len(specs) >= 2
        for field in data_fields:
            assert len({str(getattr(s, field)) for s in specs}) == 1, (task, field)


def test_paired_runs_share_batches_and_dropout_masks(files, monkeypatch):
    """Through the training loop: step 1 of every paired variant reads the same examples and
    draws the same dropout masks (dropout 0.2, AMRB replays included)."""
    record: dict[str, dict] = {}
    current = {}

    def build(spec, device):
        net = build_run_model(spec, device)
        rec = record[spec.variant] = {"masks": [], "batches": []}
        for name, module in net.named_modules():
            if isinstance(module, torch.nn.Dropout):
                module.register_forward_hook(
                    lambda m, inp, out, name=name: rec["masks"].append((name, out == 0)))
        current["rec"] = rec
        return net

    def batch(dataset, indices, collate, device):
        current["rec"]["batches"].append(list(indices))
        return make_batch(dataset, indices, collate, device)

    build_run_model, make_batch = loop.build_run_model, loop.make_batch
    monkeypatch.setattr(loop, "build_run_model", build)
    monkeypatch.setattr(loop, "make_batch", batch)
    for name, kw in PAIRED.items():
        spec = spec_of(files, name, kw)
        assert loop.train_run(spec, files["root"] / "runs" / name, progress=False,
                              stop_after_steps=1) == {}
    ref = record["rmaat"]
    assert len(ref["batches"]) == 1 and len(ref["batches"][0]) == 8
    assert len(ref["masks"]) > 6 and any(bool(m.any()) for _, m in ref["masks"])
    for name in PAIRED:
        got = record[name]
        assert got["batches"] == ref["batches"], name
        assert [n for n, _ in got["masks"]] == [n for n, _ in ref["masks"]], name
        for (_, a), (_, b) in zip(got["masks"], ref["masks"], strict=True):
            assert torch.equal(a, b), name
