"""Long Range Arena data: loaders for the official release, the two synthetic generators,
and Fashion-MNIST (not LRA) as an offline real image task.

Training code calls `load_datasets(task, root, cache_dir)` and batches with `LRACollate`
(and optionally `BucketBatchSampler`); see docs/lra.md. This package never imports the
model, simulation or distillation stages.
"""

from typing import Any

from .errors import DataFormatError
from .listops_generator import ListOpsSettings, generate_listops, generate_listops_release
from .pathfinder_generator import make_pathfinder_image
from .pathfinder_params import PathfinderParams, lra_params
from .pathfinder_release import generate_pathfinder_release
from .splits import TokenSplit
from .tasks import TASKS, TaskSpec, get_task, load_datasets, load_splits, read_splits

_TORCH_NAMES = ("BucketBatchSampler", "LRACollate", "LRADataset")


def __getattr__(name: str) -> Any:
    """The torch-backed dataset classes, imported on first use (so that planning code that
    only reads the task registry does not import torch)."""
    if name in _TORCH_NAMES:
        from . import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'lra' has no attribute {name!r}")


__all__ = [
    "TASKS",
    "BucketBatchSampler",
    "DataFormatError",
    "LRACollate",
    "LRADataset",
    "ListOpsSettings",
    "PathfinderParams",
    "TaskSpec",
    "TokenSplit",
    "generate_listops",
    "generate_listops_release",
    "generate_pathfinder_release",
    "get_task",
    "load_datasets",
    "load_splits",
    "lra_params",
    "make_pathfinder_image",
    "read_splits",
]
