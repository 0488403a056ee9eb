"""The GPU code paths under CPU bf16 autocast: dtypes, drivers and one training run.

On CUDA the training loop and the benchmarks run the model under bf16 autocast; here the same
code runs under ``torch.autocast("cpu", dtype=torch.bfloat16)``, so that dtype handling is
checked without a GPU.
"""

from __future__ import annotations

import math

import pytest
import torch

from model.drivers import backward
from model.retention import write_retention_json
from tests.conftest import SMALL_MODEL, small_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

VOCAB, CLASSES, SEG = (SMALL_MODEL[k] for k in ("vocab_size", "num_classes", "segment_len"))


small = small_model


def padded_batch(dual=False):
    g = torch.Generator().manual_seed(3)
    shape = (3, 2, 8 * SEG) if dual else (3, 8 * SEG)
    tokens = torch.randint(0, VOCAB, shape, generator=g)
    mask = torch.ones(shape, dtype=torch.bool)
    mask[1, ..., 25:] = False
    mask[2, ..., 1::3] = False
    return tokens, mask, torch.tensor([0, 1, 2])


def grads(net, driver, tokens, mask, labels, autocast=True):
    net.zero_grad(set_to_none=True)
    torch.manual_seed(5)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = backward(net, tokens, labels, mask, driver=driver)
    return loss, {n: p.grad.clone() for n, p in net.named_parameters()}


def relative(a, b):
    return max(((a[n] - b[n]).abs().max() / b[n].abs().max().clamp_min(1e-30)).item()
               for n in b if b[n].numel())


@pytest.mark.parametrize("preset,kw", [("rmaat", {}), ("rmt", {}), ("rlt", {}),
                                       ("rmaat", {"dual_encoder": True, "readout": "both"}),
                                       ("rmaat", {"rf_mode": "gated", "learn_alpha": True}),
                                       ("at", {})])
def test_drivers_under_bf16_autocast_agree_and_keep_float32_parameters(preset, kw, retention):
    net = small(preset, retention, **kw)
    tokens, mask, labels = padded_batch(kw.get("dual_encoder", False))
    loss_ref, ref = grads(net, "bptt", tokens, mask, labels)
    rng_ref = torch.get_rng_state()
    assert math.isfinite(loss_ref)
    for name, g in ref.items():
        assert g.dtype == torch.float32 and torch.isfinite(g).all(), name
    _, full = grads(net, "bptt", tokens, mask, labels, autocast=False)
    assert relative(ref, full) > 1e-4  # autocast really ran in bf16
    for driver in ("amrb", "checkpoint"):
        loss, got = grads(net, driver, tokens, mask, labels)
        assert torch.equal(torch.get_rng_state(), rng_ref)
        assert loss == loss_ref  # same bf16 forward
        # same operations; bf16 rounding in another accumulation order
        assert relative(got, ref) < 3e-2, driver


def test_memory_state_stays_float32_under_autocast(retention):
    """The state that crosses segments is the float32 residual stream, not a bf16 copy, so
    long recurrences do not lose precision at every segment."""
    net = small("rmaat", retention)
    tokens, mask, _ = padded_batch()
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        plan = net.plan(tokens, mask)
        state = net.initial_state(plan)
        for t in range(plan.num_segments):
            state = net.step(plan, t, state)
            assert state[0].dtype == torch.float32 and state[1].dtype == torch.float32
        logits = net.logits(plan, state)
    assert torch.isfinite(logits.float()).all()


def test_training_run_under_cpu_bf16_autocast(monkeypatch, tmp_path):
    """train.loop's autocast branches (training step and evaluation) on a CPU."""
    from lra.listops_generator import ListOpsSettings, generate_listops_release
    from train import loop
    from train.checkpoint import load_checkpoint
    from train.spec import RunSpec

    settings = ListOpsSettings(n_train=32, n_val=16, n_test=16, min_length=5, max_length=30,
                               max_depth=3, max_args=3, seed=3)
    generate_listops_release(tmp_path / "listops-1000", settings, progress=False)
    model = {"d_model": 16, "n_layers": 1, "n_heads": 2, "segment_len": 16,
             "num_mem_tokens": 2, "dropout": 0.1,
             "retention": str(write_retention_json(tmp_path / "rf.json", 8))}
    spec = RunSpec(task="listops", preset="rmaat", seed=1, data_root=str(tmp_path),
                   cache_dir=str(tmp_path / ".cache"), seq_len=32, model=model, epochs=1,
                   batch_size=16, eval_batch_size=16, lr=3e-3, special_lr=1e-3,
                   checkpoint_every=0, device="cpu").validate()
    plain = loop.train_run(spec, tmp_path / "fp32", progress=False)
    monkeypatch.setattr(loop, "use_autocast", lambda device: True)
    bf16 = loop.train_run(spec, tmp_path / "bf16", progress=False)
    for key in ("test_loss", "best_val_acc"):
        assert math.isfinite(bf16[key]), key
    assert math.isfinite(bf16["epochs"][0]["train_loss"])
    assert bf16["epochs"][0]["train_loss"] != plain["epochs"][0]["train_loss"]
    weights = load_checkpoint(tmp_path / "bf16" / "best.pt", kind="best")["model"]
    assert all(w.dtype == torch.float32 for w in weights.values() if w.is_floating_point())
