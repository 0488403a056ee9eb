"""One training run: train, validate every epoch, keep the best checkpoint, test.

Files in the run's output folder:

- ``last.pt``: resume point (model, optimiser, schedule, RNG, position in the epoch),
  rewritten atomically every ``checkpoint_every`` steps and at every epoch end;
- ``best.pt``: model weights of the epoch with the best validation accuracy;
- ``metrics.json``: settings (the run spec and ``resolved_model``, every model setting as
  the model was built), per-epoch metrics, the final test result (written last), and
  ``.metrics.json``, the run's own copy of it (see :data:`KEPT_METRICS`).

A run restarted after being killed at any point continues from ``last.pt`` and reaches
the same final metrics as an uninterrupted run: batches are a function of (seed, epoch),
and the RNG state is part of the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from lra.dataset import LRACollate
from lra.tasks import get_task
from model import build_model
from model.config import needs_retention
from model.drivers import backward
from model.optim import param_groups
from model.presets import preset_needs_retention
from pipeline.io import atomic_write_text
from pipeline.retention import load_retention
from train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from train.data import data_digest, epoch_batches, make_batch, run_datasets
from train.distributed import (
    DistInfo,
    average_gradients,
    barrier,
    init_distributed,
    mean_over_processes,
    shutdown,
)
from train.lock import run_folder_lock
from train.record import metrics_record, peak_memory_mb
from train.spec import RunSpec, with_task_segments

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("run spec asks for device 'cuda' but no CUDA device is available")
    return torch.device(name)


def use_autocast(device: torch.device) -> bool:
    """Whether training and evaluation run under bf16 autocast: on CUDA only (on a CPU bf16
    matrix products are slower than float32 ones). Tests switch it on for a CPU."""
    return device.type == "cuda"


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_run_model(spec: RunSpec, device: torch.device) -> torch.nn.Module:
    """The preset's model for the run's task (seeded: identical on every process).

    The retention file (when the run reads one) is loaded and checked here, through
    ``pipeline.retention``, and handed to the model as a schedule.
    """
    task = get_task(spec.task)
    torch.manual_seed(spec.seed)
    overrides = with_task_segments(spec.preset, dict(spec.model), spec.seq_len or task.seq_len)
    if task.paired:
        overrides["dual_encoder"] = True
    schedule = None
    if preset_needs_retention(spec.preset, overrides) and overrides.get("retention"):
        schedule = load_retention(overrides["retention"])
    net = build_model(spec.preset, schedule, init_seed=spec.seed, vocab_size=task.vocab_size,
                      num_classes=task.num_classes, **overrides)
    return net.to(device)


@torch.no_grad()
def evaluate(net: torch.nn.Module, dataset, spec: RunSpec, device: torch.device,
             autocast: bool) -> dict[str, float]:
    """Accuracy, mean cross-entropy and the predicted classes over a whole split (in order)."""
    net.eval()
    collate = LRACollate(trim_to_batch=spec.bucket, multiple_of=8)
    correct, loss_sum, n = 0, 0.0, 0
    predictions: list[int] = []
    for start in range(0, len(dataset), spec.eval_batch_size):
        idx = list(range(start, min(start + spec.eval_batch_size, len(dataset))))
        batch = make_batch(dataset, idx, collate, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = net(batch["tokens"], batch["mask"]).float()
        loss_sum += float(F.cross_entropy(logits, batch["label"], reduction="sum"))
        correct += int((logits.argmax(-1) == batch["label"]).sum())
        predictions += logits.argmax(-1).tolist()
        n += len(idx)
    net.train()
    return {"acc": correct / max(n, 1), "loss": loss_sum / max(n, 1), "n": n,
            "predictions": predictions}


def train_run(spec: RunSpec, out_dir: str | Path, progress: bool = True,
              stop_after_steps: int | None = None) -> dict[str, Any]:
    """Train and evaluate one run; returns the metrics also written to ``metrics.json``.

    ``stop_after_steps`` abandons the run after that many optimiser steps of this call,
    writing nothing more (tests use it to simulate a kill); it returns ``{}``.
    Raises :class:`TrainingDiverged` on a non-finite loss (``last.pt`` is left as it was),
    and :class:`train.lock.RunFolderBusy` (naming the holder, before any file of the run is
    read or moved) when another process is training in ``out_dir``.
    """
    spec.validate()
    out = Path(out_dir)
    device = pick_device(spec.device)
    info = init_distributed(device.type)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    if spec.batch_size % info.world:
        raise ValueError(f"batch_size {spec.batch_size} is not divisible by the "
                         f"{info.world} processes")
    try:
        with run_folder_lock(out) if info.main else nullcontext():  # one writer per folder
            return _train(spec, out, device, info, progress, stop_after_steps)
    finally:
        shutdown(info)


@dataclass
class _Run:
    """One call of :func:`train_run`: the run's settings, data, model, optimiser and the
    training state that checkpoints carry (``state``: position, history, best epoch, time)."""

    spec: RunSpec
    out: Path
    device: torch.device
    info: DistInfo
    autocast: bool
    data: dict[str, Any]
    net: torch.nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    collate: LRACollate
    inputs: dict[str, str | None]
    state: dict[str, Any]
    steps_this_call: int = 0


def _train(spec: RunSpec, out: Path, device: torch.device, info: DistInfo, progress: bool,
           stop_after_steps: int | None) -> dict[str, Any]:
    """Start or resume, train the remaining epochs (validating and checkpointing after
    each), then test the best epoch and write ``metrics.json``."""
    run = _setup(spec, out, device, info)
    _resume_or_start(run)
    run.net.train()
    while run.state["epoch"] < spec.epochs:
        if _train_epoch(run, progress, stop_after_steps):
            return {}  # simulated kill: no checkpoint beyond the last periodic one
        _end_epoch(run)
    return _test_and_record(run)


def _setup(spec: RunSpec, out: Path, device: torch.device, info: DistInfo) -> _Run:
    """Data, model, optimiser and learning-rate schedule of a run, in their initial state."""
    autocast = use_autocast(device)
    data = run_datasets(spec)
    train_set = data["train"]
    net = build_run_model(spec, device)
    if spec.compile:
        net.compile()
    opt = torch.optim.AdamW(param_groups(net, lr=spec.lr, weight_decay=spec.weight_decay,
                                         special_lr=spec.special_lr, rf_lr=spec.rf_lr))
    steps_per_epoch = len(epoch_batches(train_set, spec.batch_size, spec.seed, 0, spec.bucket))
    if steps_per_epoch == 0:
        raise ValueError(f"{spec.run_id}: {len(train_set)} training examples do not fill one "
                         f"batch of {spec.batch_size}")
    total = spec.epochs * steps_per_epoch
    warmup = max(1, int(spec.warmup_frac * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, warmup))
    collate = LRACollate(trim_to_batch=spec.bucket, multiple_of=8)
    # wall_s, peak_memory_mb (MiB, so far over every part of the run) and restarts are the
    # run's cost, carried by the checkpoints across kills
    state = {"epoch": 0, "batch": 0, "step": 0, "history": [], "best_val": -1.0,
             "best_epoch": -1, "epoch_stats": _new_stats(), "wall_s": 0.0,
             "peak_memory_mb": 0.0, "restarts": 0}
    return _Run(spec=spec, out=out, device=device, info=info, autocast=autocast, data=data,
                net=net, opt=opt, sched=sched, collate=collate, inputs=run_inputs(net, data),
                state=state)


def _resume_or_start(run: _Run) -> None:
    """Continue from ``last.pt`` when it belongs to this run (same settings and inputs);
    otherwise set earlier files aside (:func:`set_aside`) and start with a fresh dropout
    stream."""
    spec, out, info = run.spec, run.out, run.info
    ckpt = load_checkpoint(out / "last.pt")
    stale = _stale_reason(ckpt, spec, run.inputs) or _foreign_metrics(out, spec, run.inputs)
    if stale or (ckpt is None and _has_results(out)):
        ckpt = None
        barrier(info)  # every process has decided before the files move
        if info.main:
            kept = set_aside(out, stale or "no last.pt to resume from")
            if kept is not None:
                log.info("%s: starting over: %s; the previous files are kept in %s",
                         spec.run_id, stale or "no last.pt to resume from", kept)
        barrier(info)
    if ckpt is not None:
        run.net.load_state_dict(ckpt["model"])
        run.opt.load_state_dict(ckpt["optimizer"])
        run.sched.load_state_dict(ckpt["scheduler"])
        run.state = ckpt["state"]
        run.state["restarts"] = run.state.get("restarts", 0) + 1  # older files lack it
        torch.set_rng_state(ckpt["rng"][info.rank])
        if run.device.type == "cuda" and ckpt.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(ckpt["cuda_rng"][info.rank], run.device)
    else:
        torch.manual_seed(spec.seed * 1000 + 17 + info.rank)  # dropout stream of this process


def _checkpoint(run: _Run) -> None:
    """Write ``last.pt`` (the resume point: model, optimiser, schedule, state, RNG of every
    process); all processes wait for it."""
    info = run.info
    rng = _gather_rng(info)
    if info.main:
        run.state["peak_memory_mb"] = max(run.state.get("peak_memory_mb", 0.0),
                                          peak_memory_mb(run.device)[0])
        save_checkpoint(run.out / "last.pt", {
            "config_hash": run.spec.config_hash(), "inputs": run.inputs,
            "model": run.net.state_dict(), "optimizer": run.opt.state_dict(),
            "scheduler": run.sched.state_dict(), "state": run.state, "rng": rng,
            "cuda_rng": _gather_rng(info, cuda=True) if run.device.type == "cuda" else None,
        })
    barrier(info)


def _train_epoch(run: _Run, progress: bool, stop_after_steps: int | None) -> bool:
    """The remaining optimiser steps of the current epoch (checkpointing every
    ``checkpoint_every`` steps); True when ``stop_after_steps`` ended the call early."""
    spec, state, info = run.spec, run.state, run.info
    epoch = state["epoch"]
    batches = epoch_batches(run.data["train"], spec.batch_size, spec.seed, epoch, spec.bucket)
    bar = tqdm(total=len(batches), initial=state["batch"], disable=not (progress and info.main),
               desc=f"{spec.run_id} epoch {epoch + 1}/{spec.epochs}", mininterval=2.0)
    stats = state["epoch_stats"]
    while state["batch"] < len(batches):
        examples = len(batches[state["batch"]])
        loss, tokens, elapsed = _train_step(run, batches[state["batch"]])
        stats["loss_sum"] += loss * examples
        stats["n"] += examples
        stats["tokens"] += tokens
        stats["time_s"] += elapsed
        state["batch"] += 1
        state["step"] += 1
        state["wall_s"] += elapsed
        run.steps_this_call += 1
        bar.update(1)
        bar.set_postfix(loss=f"{stats['loss_sum'] / stats['n']:.4f}",
                        tok_s=f"{stats['tokens'] / max(stats['time_s'], 1e-9):.0f}")
        if spec.checkpoint_every and state["step"] % spec.checkpoint_every == 0:
            _checkpoint(run)
        if stop_after_steps is not None and run.steps_this_call >= stop_after_steps:
            bar.close()
            return True
    bar.close()
    return False


def _train_step(run: _Run, indices: list[int]) -> tuple[float, float, float]:
    """One optimiser step on the global batch ``indices`` (each process takes its share):
    the loss averaged over processes, the tokens of the global batch and the step's seconds.
    Raises :class:`TrainingDiverged` on a non-finite loss, before the weights change."""
    spec, info, device = run.spec, run.info, run.device
    start = time.perf_counter()
    batch = make_batch(run.data["train"], indices[info.rank::info.world], run.collate, device)
    run.opt.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=run.autocast):
        loss = backward(run.net, batch["tokens"], batch["label"], batch["mask"])
    loss = mean_over_processes(loss, info, device)
    if not math.isfinite(loss):
        raise TrainingDiverged(divergence_message(spec, loss, run.state["epoch"],
                                                  run.state["step"], run.out))
    average_gradients(run.net, info)
    if spec.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(run.net.parameters(), spec.grad_clip)
    run.opt.step()
    run.sched.step()
    elapsed = time.perf_counter() - start
    tokens = mean_over_processes(float(batch["mask"].sum()), info, device) * info.world
    return loss, tokens, elapsed


def _end_epoch(run: _Run) -> None:
    """Validate, record the epoch, keep ``best.pt`` when validation improved, move on to the
    next epoch and checkpoint."""
    spec, state, info = run.spec, run.state, run.info
    epoch, stats = state["epoch"], state["epoch_stats"]
    val = evaluate(run.net, run.data["val"], spec, run.device, run.autocast) if info.main else {}
    record = {"epoch": epoch + 1, "train_loss": stats["loss_sum"] / max(stats["n"], 1),
              "tokens_per_s": stats["tokens"] / max(stats["time_s"], 1e-9),
              "train_time_s": stats["time_s"], "lr": run.sched.get_last_lr()[0]}
    if info.main:
        record.update(val_acc=val["acc"], val_loss=val["loss"])
        if val["acc"] > state["best_val"]:
            state["best_val"], state["best_epoch"] = val["acc"], epoch + 1
            save_checkpoint(run.out / "best.pt", {"config_hash": spec.config_hash(),
                                                  "inputs": run.inputs,
                                                  "model": run.net.state_dict(),
                                                  "epoch": epoch + 1}, kind="best")
        log.info("%s epoch %d: train loss %.4f, val acc %.4f, %.0f tokens/s", spec.run_id,
                 epoch + 1, record["train_loss"], val["acc"], record["tokens_per_s"])
    state["history"].append(record)
    state["epoch"] += 1
    state["batch"] = 0
    state["epoch_stats"] = _new_stats()
    _checkpoint(run)


def _test_and_record(run: _Run) -> dict[str, Any]:
    """Test the best epoch's weights and write ``metrics.json`` (main process; the others
    return ``{}``)."""
    metrics: dict[str, Any] = {}
    if run.info.main:
        _load_best(run)
        test = evaluate(run.net, run.data["test"], run.spec, run.device, run.autocast)
        metrics = metrics_record(run.spec, run.net, run.data, run.state, test, run.inputs,
                                 run.device, run.info.world)
        write_metrics(run.out, metrics)
    barrier(run.info)
    return metrics


def _load_best(run: _Run) -> None:
    """Load ``best.pt`` into the model; a clear error when it is missing or foreign."""
    out, state, spec = run.out, run.state, run.spec
    best = load_checkpoint(out / "best.pt", kind="best")
    if best is None:
        raise CheckpointError(
            f"{out / 'best.pt'} is missing, but {out / 'last.pt'} says training finished "
            f"(best epoch {state['best_epoch']}); the test needs the best weights: delete "
            f"{out / 'last.pt'} to train this run again")
    if best.get("config_hash") != spec.config_hash() or best.get("inputs") != run.inputs:
        raise CheckpointError(
            f"{out / 'best.pt'} was written by another run (other settings or inputs than "
            f"{out / 'last.pt'}); delete both to train this run again")
    run.net.load_state_dict(best["model"])


def divergence_message(spec: RunSpec, loss: float, epoch: int, step: int, out: Path) -> str:
    """What happened and what to change; advises clipping only when it is off."""
    if spec.grad_clip > 0:
        advice = (f"gradient clipping is already on (grad_clip={spec.grad_clip}): lower the "
                  f"learning rates (lr={spec.lr}, special_lr={spec.special_lr}), lengthen the "
                  f"warm-up (warmup_frac={spec.warmup_frac}) or lower grad_clip")
    else:
        advice = (f"lower the learning rates (lr={spec.lr}, special_lr={spec.special_lr}) or "
                  f"turn on gradient clipping (grad_clip, e.g. 1.0; it is 0 = off)")
    return (f"{spec.run_id}: loss is {loss} at epoch {epoch + 1}, step {step}; the last good "
            f"checkpoint {out / 'last.pt'} is kept. To go on, {advice}; then delete "
            f"{out / 'last.pt'} to start over.")


def run_inputs(net: torch.nn.Module, data: dict[str, Any]) -> dict[str, str | None]:
    """Content hashes of what the run trains on, beyond its settings (the config hash).

    ``data``: SHA-256 of the full token splits (changes with the generator's settings or
    seed and with edited files); ``retention``: SHA-256 of the retention JSON the model
    reads, or None when it reads none (``model.config.needs_retention``).
    """
    retention = None
    if needs_retention(net.config):
        retention = hashlib.sha256(Path(net.config.retention).read_bytes()).hexdigest()
    return {"data": data_digest(data), "retention": retention}


def _stale_reason(ckpt: dict[str, Any] | None, spec: RunSpec,
                  inputs: dict[str, str | None]) -> str:
    """Why ``ckpt`` must not be resumed by this run ("" when it may)."""
    if ckpt is None:
        return ""
    if ckpt["config_hash"] != spec.config_hash():
        return (f"last.pt belongs to other settings (config hash {ckpt['config_hash']} != "
                f"{spec.config_hash()})")
    old = ckpt.get("inputs")
    if old is None:
        return "last.pt records no input hashes (written by an older version)"
    changed = [name for name in sorted(inputs) if old.get(name) != inputs[name]]
    if changed:
        return f"the {' and the '.join(changed)} changed since last.pt was written"
    return ""


def _foreign_metrics(out: Path, spec: RunSpec, inputs: dict[str, str | None]) -> str:
    """Why a finished result in ``out`` (``metrics.json`` or its copy) is not this run's
    ("" when both are this run's, or absent).

    A finished result of other settings or inputs may sit beside a resumable ``last.pt``
    (a crash between two moves of :func:`set_aside`, a file restored by hand); the run must
    move it aside, never write over it.
    """
    for name in ("metrics.json", KEPT_METRICS):
        path = out / name
        if not path.exists():
            continue
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            return f"{name} cannot be read ({err})"
        if not isinstance(old, dict) or old.get("config_hash") != spec.config_hash():
            theirs = old.get("config_hash") if isinstance(old, dict) else None
            return (f"{name} belongs to other settings (config hash {theirs} != "
                    f"{spec.config_hash()})")
        if old.get("inputs") != inputs:
            return f"{name} was computed from other data or another retention file"
    return ""


#: Files of a run that belong to one identity (settings + inputs).
RUN_FILES = ("last.pt", "best.pt", "metrics.json")
#: The run's own copy of ``metrics.json``, written just before it. Snakemake deletes a job's
#: declared outputs before the job runs, so when a run's settings change, the finished
#: result of the old ones survives only here until :func:`set_aside` keeps it (as
#: ``metrics.json``). (Marking the output ``update`` instead would let Snakemake restore the
#: old result after a failed rerun and then take it for the new settings' result.)
KEPT_METRICS = ".metrics.json"


def write_metrics(out: Path, metrics: dict[str, Any]) -> None:
    """Write a finished run's metrics: the run's own copy first, then ``metrics.json``
    (each atomically; a crash between them leaves the copy, never a lone metrics.json)."""
    text = json.dumps(metrics, indent=2)
    atomic_write_text(out / KEPT_METRICS, text)
    atomic_write_text(out / "metrics.json", text)


def _has_results(out: Path) -> bool:
    return any((out / name).exists() for name in (*RUN_FILES, KEPT_METRICS))


def set_aside(out: Path, reason: str) -> Path | None:
    """Move a run's files (:data:`RUN_FILES`, and :data:`KEPT_METRICS` as ``metrics.json``
    when that is gone) into ``out/superseded/<n>/``; return it.

    Nothing computed is deleted: a run whose settings or inputs changed starts over
    while its old checkpoint and metrics stay readable. Returns None if there was nothing.
    """
    present = [name for name in RUN_FILES if (out / name).exists()]
    copy = out / KEPT_METRICS
    if not present and not copy.exists():
        return None
    n = 1
    while (out / "superseded" / str(n)).exists():
        n += 1
    kept = out / "superseded" / str(n)
    kept.mkdir(parents=True)
    for name in present:
        os.replace(out / name, kept / name)
    if copy.exists():
        if "metrics.json" not in present:
            os.replace(copy, kept / "metrics.json")
        elif copy.read_bytes() == (kept / "metrics.json").read_bytes():
            copy.unlink()
        else:  # two different results: keep both
            os.replace(copy, kept / KEPT_METRICS)
    (kept / "why.txt").write_text(reason + "\n")
    return kept


def _new_stats() -> dict[str, float]:
    return {"loss_sum": 0.0, "n": 0, "tokens": 0.0, "time_s": 0.0}


def _gather_rng(info: DistInfo, cuda: bool = False) -> list[torch.Tensor]:
    """RNG state of every process (index = rank), gathered to all."""
    state = torch.cuda.get_rng_state() if cuda else torch.get_rng_state()
    if info.world == 1:
        return [state]
    import torch.distributed as dist

    states: list[Any] = [None] * info.world
    dist.all_gather_object(states, state)
    return states
