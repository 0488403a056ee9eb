"""Data parallelism across processes started by ``torchrun`` (gloo on CPU, NCCL on CUDA).

Gradients are averaged with one ``all_reduce`` per parameter after the training driver
has run, instead of wrapping the model in ``DistributedDataParallel``: AMRB and the
checkpointing driver call ``backward`` once per segment through the model's internals,
which DDP's per-forward bucketing does not support; averaging after the driver is the
same collective, correct for every driver. With equal per-process batches the averaged
gradient equals that of one process over the global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """Rank and world size of this process (0 and 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """True on the process that evaluates and writes files."""
        return self.rank == 0


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def average_gradients(model: torch.nn.Module, info: DistInfo) -> None:
    """Replace every gradient by its mean over processes (no-op for one process)."""
    if info.world == 1:
        return
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad.div_(info.world)


def mean_over_processes(value: float, info: DistInfo, device: torch.device) -> float:
    """Mean of a scalar over processes."""
    if info.world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / info.world


def barrier(info: DistInfo) -> None:
    """Wait for all processes (no-op for one process)."""
    if info.world > 1:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group."""
    if info.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
