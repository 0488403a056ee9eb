"""The correctness checks of ``gpu_check`` on whatever device runs them.

* :func:`amrb_matches_bptt`: AMRB's gradients equal full BPTT's with dropout on (the replay
  restores the device's RNG state; the check tests that on CUDA, where dropout draws from
  the CUDA generator);
* :func:`loss_falls` and :func:`resume_matches`: the project's real training loop
  (``train.loop.train_run``) on a small generated ListOps task (:func:`listops_task`): a run
  under bf16 autocast whose loss falls, and a run killed twice (``stop_after_steps``) and
  resumed, compared with an uninterrupted one.

Each returns plain dicts (value, pass, note) that ``gpu_check`` turns into rows.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

#: Tolerances of AMRB = BPTT: max relative difference of the gradients (issue 22: float32
#: <= 1e-5; float64 as tests/test_model_amrb.py).
GRAD_TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-8}
#: Another dropout seed must change the gradients by more than this (dropout is on).
DROPOUT_EFFECT = 1e-4
#: A resumed run may differ from the uninterrupted one by at most this many times the
#: difference between two uninterrupted runs (0 where the device is deterministic).
RESUME_NOISE_FACTOR = 10.0


@dataclass(frozen=True)
class GradSizes:
    """Model and batch of the AMRB = BPTT check (counts)."""

    batch: int = 3
    segments: int = 6
    segment_len: int = 8
    d_model: int = 16
    n_layers: int = 2
    n_heads: int = 2
    mem_tokens: int = 3
    dropout: float = 0.2
    vocab: int = 13
    classes: int = 3


def max_relative_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """max over parameters of max|a - b| / max|b| (per tensor; max|a - b| where b is 0)."""
    worst = 0.0
    for name, ref in b.items():
        diff = (a[name].double() - ref.double()).abs().max().item()
        scale = ref.double().abs().max().item()
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def _rng_states(device: torch.device) -> list[torch.Tensor]:
    states = [torch.get_rng_state()]
    if device.type == "cuda":
        states.append(torch.cuda.get_rng_state(device))
    return states


def _padded_batch(sizes: GradSizes, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Tokens, mask and labels: sample 0 spans every segment, sample 1 one segment fewer,
    sample 2 has holes (two thirds of its tokens masked)."""
    g = torch.Generator().manual_seed(sizes.segments)
    length = sizes.segments * sizes.segment_len
    tokens = torch.randint(0, sizes.vocab, (sizes.batch, length), generator=g)
    mask = torch.ones(sizes.batch, length, dtype=torch.bool)
    if sizes.batch > 1:
        mask[1, max(1, length - sizes.segment_len - 1):] = False
    if sizes.batch > 2:
        mask[2, 1::3] = False
    labels = torch.arange(sizes.batch) % sizes.classes
    return tokens.to(device), mask.to(device), labels.to(device)


def _grads(net: torch.nn.Module, driver: str, batch: tuple[torch.Tensor, ...],
           seed: int) -> tuple[float, dict[str, torch.Tensor]]:
    from model.drivers import backward

    tokens, mask, labels = batch
    net.zero_grad(set_to_none=True)
    torch.manual_seed(seed)  # seeds the CPU and every CUDA generator
    if driver == "reference":  # plain forward + loss.backward(), no driver code
        loss = F.cross_entropy(net(tokens, mask), labels)
        loss.backward()
        value = float(loss.detach())
    else:
        value = backward(net, tokens, labels, mask, driver=driver)
    return value, {n: p.grad.detach().clone() for n, p in net.named_parameters()
                   if p.grad is not None}


def amrb_matches_bptt(preset: str, device: torch.device, dtype: torch.dtype,
                      sizes: GradSizes, retention: str) -> dict[str, Any]:
    """Gradients of AMRB vs plain BPTT for ``preset`` in ``dtype`` with dropout on.

    Returns {'value': max relative difference, 'passed', 'note'}. Passes when the difference
    is within :data:`GRAD_TOLERANCE`, the RNG states (CPU and CUDA) after AMRB equal those
    after BPTT (the replay leaves the stream as one forward would), and another dropout seed
    changes the gradients by more than :data:`DROPOUT_EFFECT` (dropout is really on).
    """
    from model import build_model

    torch.manual_seed(0)
    net = build_model(preset, vocab_size=sizes.vocab, num_classes=sizes.classes,
                      d_model=sizes.d_model, n_layers=sizes.n_layers, n_heads=sizes.n_heads,
                      segment_len=sizes.segment_len, num_mem_tokens=sizes.mem_tokens,
                      dropout=sizes.dropout, retention=retention,
                      rf_segments=sizes.segments).to(device=device, dtype=dtype).train()
    batch = _padded_batch(sizes, device)
    loss_ref, ref = _grads(net, "reference", batch, seed=123)
    rng_ref = _rng_states(device)
    loss, got = _grads(net, "amrb", batch, seed=123)
    rng_same = all(torch.equal(a, b) for a, b in zip(_rng_states(device), rng_ref, strict=True))
    _, other = _grads(net, "reference", batch, seed=321)
    diff = max_relative_difference(got, ref) if set(got) == set(ref) else math.inf
    effect = max_relative_difference(other, ref)
    tol = GRAD_TOLERANCE[dtype]
    passed = diff <= tol and rng_same and effect > DROPOUT_EFFECT and math.isfinite(loss)
    note = (f"max relative gradient difference {diff:.2e} (<= {tol:g}); loss {loss:.6f} vs "
            f"{loss_ref:.6f}; RNG state after AMRB {'equals' if rng_same else 'DIFFERS from'}"
            f" BPTT's; another dropout seed changes the gradients by {effect:.2e} "
            f"(> {DROPOUT_EFFECT:g}: dropout on)")
    return {"value": diff, "passed": passed, "note": note}


@dataclass(frozen=True)
class TrainSizes:
    """The small generated ListOps task and model of the training-loop checks."""

    n_train: int = 64
    n_eval: int = 32
    max_length: int = 40  # tokens of the longest generated expression
    seq_len: int = 48
    segment_len: int = 16
    d_model: int = 16
    n_layers: int = 1
    n_heads: int = 2
    mem_tokens: int = 2
    batch: int = 16
    epochs: int = 3
    lr: float = 3e-3


def _listops(root: Path, sizes: TrainSizes) -> None:
    from lra.listops_generator import ListOpsSettings, generate_listops_release

    settings = ListOpsSettings(n_train=sizes.n_train, n_val=sizes.n_eval, n_test=sizes.n_eval,
                               min_length=5, max_length=sizes.max_length, max_depth=3,
                               max_args=3, seed=3)
    generate_listops_release(root / "listops-1000", settings, progress=False)


def _spec(root: Path, sizes: TrainSizes, device: torch.device, retention: str, **kw: Any):
    from train.spec import RunSpec

    model = {"d_model": sizes.d_model, "n_layers": sizes.n_layers, "n_heads": sizes.n_heads,
             "segment_len": sizes.segment_len, "num_mem_tokens": sizes.mem_tokens,
             "dropout": 0.1, "retention": retention}
    base = dict(task="listops", preset="rmaat", seed=1, data_root=str(root),
                cache_dir=str(root / ".cache"), seq_len=sizes.seq_len, model=model,
                epochs=sizes.epochs, batch_size=sizes.batch, eval_batch_size=sizes.batch,
                lr=sizes.lr, special_lr=1e-3, checkpoint_every=0, device=device.type)
    return RunSpec(**{**base, **kw}).validate()


@contextlib.contextmanager
def forced_autocast(on: bool) -> Iterator[None]:
    """Make ``train.loop`` train under bf16 autocast also on a CPU (the ``--smoke`` run; on
    CUDA the loop's own rule already switches it on), as tests/test_model_autocast.py does."""
    from train import loop

    original = loop.use_autocast
    if on:
        loop.use_autocast = lambda device: True
    try:
        yield
    finally:
        loop.use_autocast = original


@contextlib.contextmanager
def deterministic(device: torch.device) -> Iterator[list[str]]:
    """Deterministic algorithms where torch has them (``warn_only``: an operation without one
    warns instead of failing); yields the list of such warnings, filled on exit."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield seen
        finally:
            torch.use_deterministic_algorithms(before)
            seen += sorted({str(w.message).split("\n")[0][:120] for w in caught
                            if "determinis" in str(w.message).lower()})


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from train.checkpoint import load_checkpoint

    return {k: v for k, v in load_checkpoint(path, kind="best")["model"].items()
            if v.is_floating_point()}


def _run_difference(a: dict[str, Any], b: dict[str, Any], wa: dict, wb: dict) -> float:
    """How far run b is from run a: the largest of the best weights' max relative difference
    and the relative differences of the per-epoch train losses and the test loss."""
    losses = [(x["train_loss"], y["train_loss"]) for x, y in
              zip(a["epochs"], b["epochs"], strict=True)] + [(a["test_loss"], b["test_loss"])]
    rel = [abs(x - y) / max(abs(y), 1e-30) for x, y in losses]
    return max([max_relative_difference(wb, wa), *rel])


@contextlib.contextmanager
def listops_task(sizes: TrainSizes) -> Iterator[tuple[Path, str]]:
    """A scratch folder with the generated ListOps task (``listops-1000/``) and a demo
    retention file: yields (folder, retention path); removed on exit."""
    from model.retention import write_retention_json

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        _listops(tmp, sizes)
        yield tmp, str(write_retention_json(tmp / "rf.json", 16))


def loss_falls(task: tuple[Path, str], device: torch.device, sizes: TrainSizes,
               progress: bool = False) -> dict[str, Any]:
    """One training run of rmaat (AMRB) through ``train.loop.train_run`` on ``task``
    (:func:`listops_task`); passes when the last epoch's mean train loss is below the
    first's and every loss is finite. Value: last / first. Run under
    :func:`forced_autocast` on a CPU to use bf16 there too."""
    from train.loop import train_run

    tmp, retention = task
    with deterministic(device) as nondeterministic:
        run = train_run(_spec(tmp, sizes, device, retention), tmp / "bf16", progress=progress)
    losses = [e["train_loss"] for e in run["epochs"]]
    finite = all(math.isfinite(x) for x in [*losses, run["test_loss"]])
    return {"value": losses[-1] / losses[0] if losses[0] else math.nan,
            "passed": finite and losses[-1] < losses[0],
            "note": (f"train loss per epoch {', '.join(f'{x:.4f}' for x in losses)} (last / "
                     f"first = value); test loss {run['test_loss']:.4f}, test acc "
                     f"{run['test_acc']:.3f}; {run['driver']} driver, {run['device']}, "
                     f"peak memory {run['peak_memory_mb']:.0f} MiB ({run['memory_measure']})"
                     + (f"; without a deterministic algorithm: {'; '.join(nondeterministic)}"
                        if nondeterministic else ""))}


def resume_matches(task: tuple[Path, str], device: torch.device, sizes: TrainSizes,
                   progress: bool = False) -> dict[str, Any]:
    """A killed and resumed run equals an uninterrupted one (2 epochs, a checkpoint every 2
    steps). Run A uninterrupted; run R killed after 3 steps (last checkpoint at step 2) and
    after 4 more, then finished; run B uninterrupted again (the device's own run-to-run
    noise). Value = difference of R from A (:func:`_run_difference`); passes when it is at
    most :data:`RESUME_NOISE_FACTOR` x that of B from A (so exactly 0 where A and B agree
    bit for bit) and R's test accuracy and best epoch equal A's wherever B's do."""
    from train.loop import train_run

    tmp, retention = task
    spec = _spec(tmp, sizes, device, retention, epochs=2, checkpoint_every=2)
    with deterministic(device) as nondeterministic:
        full = train_run(spec, tmp / "A", progress=progress)
        for steps in (3, 4):  # simulated kills: train_run returns {} and writes no metrics
            if train_run(spec, tmp / "R", progress=progress, stop_after_steps=steps) != {}:
                raise RuntimeError(f"the run was not stopped after {steps} steps")
        resumed = train_run(spec, tmp / "R", progress=progress)
        again = train_run(spec, tmp / "B", progress=progress)
    wa, wr, wb = (_weights(tmp / x / "best.pt") for x in "ARB")
    diff, noise = _run_difference(full, resumed, wa, wr), _run_difference(full, again, wa, wb)
    same = [k for k in ("test_acc", "best_epoch") if again[k] == full[k]]
    passed = diff <= RESUME_NOISE_FACTOR * noise and all(resumed[k] == full[k] for k in same)
    return {"value": diff, "passed": passed,
            "note": (f"killed after 3 and 4 more steps, resumed: differs from the "
                     f"uninterrupted run by {diff:.3g} (weights and losses, relative); a "
                     f"second uninterrupted run differs by {noise:.3g}; test acc "
                     f"{resumed['test_acc']:.4f} vs {full['test_acc']:.4f}, best epoch "
                     f"{resumed['best_epoch']} vs {full['best_epoch']}"
                     + (f"; without a deterministic algorithm: {'; '.join(nondeterministic)}"
                        if nondeterministic else ""))}
