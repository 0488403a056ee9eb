"""Benchmarks of the model stage (not tests): run as ``python -m benchmarks.bench_memory`` and
``python -m benchmarks.bench_attention`` from the repository root. Shared output helpers."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.io import atomic_write

RESULTS = Path("results") / "benchmarks"


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write rows (dicts) as CSV atomically: temporary file, then replace. Columns are the
    union of the rows' keys in order of appearance; a row without a key leaves it empty."""
    fields = list(dict.fromkeys(k for r in rows for k in r))

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, restval="")
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)
    return path


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure atomically (PNG, 120 dpi)."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png",
                                               bbox_inches="tight"))
    return path


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    """Print rows as an aligned text table."""
    keys = list(rows[0])
    cells = [[f"{r[k]:.4g}" if isinstance(r[k], float) else str(r[k]) for k in keys]
             for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    print("  ".join(k.rjust(w) for k, w in zip(keys, widths, strict=True)))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)))
