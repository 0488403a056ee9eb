"""Collect the runs' metrics into tables: per run, and accuracy mean ± std over seeds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from scipy.stats import binomtest

from analysis.runs import RunRecord, read_runs
from pipeline.io import atomic_write, atomic_write_text

# A cell counts as above chance when a one-sided binomial test of its pooled test
# predictions against the majority-class rate gives p below this level.
CHANCE_P = 0.01

RUN_COLUMNS = ["task", "task_title", "lra", "variant", "preset", "seed", "driver", "test_acc",
               "best_val_acc", "majority_acc", "best_epoch", "n_train", "n_test",
               "peak_memory_mb", "memory_measure", "tokens_per_s", "train_wall_s", "device",
               "parameters", "data_note"]


def runs_frame(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per run (columns RUN_COLUMNS, values as the runs recorded them)."""
    rows = [{k: getattr(run, k) for k in RUN_COLUMNS} for run in runs]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def accuracy_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy per (task, variant): mean, std (ddof 1; 0 for one seed), seeds."""
    grouped = runs.groupby(["task", "task_title", "variant"], sort=False)
    table = grouped["test_acc"].agg(["mean", "std", "count"]).reset_index()
    table["std"] = table["std"].fillna(0.0)
    table = table.rename(columns={"mean": "test_acc_mean", "std": "test_acc_std",
                                  "count": "seeds"})
    extra = grouped[["majority_acc", "data_note"]].first().reset_index(drop=True)
    table = pd.concat([table, extra], axis=1)
    pooled = grouped.apply(_chance_p, include_groups=False).reset_index(drop=True)
    table["p_above_chance"] = pooled
    return table


def _chance_p(runs: pd.DataFrame) -> float:
    """One-sided binomial p-value of the seeds' pooled correct test predictions against
    the majority-class accuracy (H0: no better than always predicting the majority)."""
    n = runs["n_test"].astype(int)
    correct = int(round(float((runs["test_acc"] * n).sum())))
    total = int(n.sum())
    majority = float(runs["majority_acc"].iloc[0])
    if total == 0 or not 0.0 < majority < 1.0:
        return float("nan")
    return float(binomtest(correct, total, majority, alternative="greater").pvalue)


def chance_mark(p: float) -> str:
    """Suffix of a table cell: ' (chance)' when not clearly above the majority class
    (nothing when the test could not be made, p = NaN)."""
    return " (chance)" if p >= CHANCE_P else ""


def accuracy_pivot(table: pd.DataFrame, show_seeds: bool = False) -> pd.DataFrame:
    """Tasks as rows (index task_title), "majority class" then the variants as columns, in
    configuration order; cells "mean ± std" in % (with "(n=seeds)" if show_seeds; a
    single seed's cell is "value (1 seed)", never "± 0.0") and the chance mark. A table
    without p-values (written before the test existed) gets no marks."""
    p_values = table.get("p_above_chance", pd.Series(float("nan"), index=table.index))
    cells = table.assign(cell=[_cell(m, s, n, show_seeds) + chance_mark(p)
                               for m, s, n, p in zip(table["test_acc_mean"],
                                                     table["test_acc_std"], table["seeds"],
                                                     p_values, strict=True)])
    pivot = cells.pivot(index="task_title", columns="variant", values="cell").fillna("—")
    pivot = pivot.loc[in_order(table["task_title"]), in_order(table["variant"])]
    majority = table.groupby("task_title")["majority_acc"].first()
    pivot.insert(0, "majority class", [f"{100 * majority[t]:.1f}" for t in pivot.index])
    return pivot


def _cell(mean: float, std: float, seeds: int, show_seeds: bool) -> str:
    """"mean ± std" in % over seeds; one seed has no spread: "value (1 seed)"."""
    if int(seeds) == 1:
        return f"{100 * mean:.1f} (1 seed)"
    return f"{100 * mean:.1f} ± {100 * std:.1f}" + (f" (n={seeds})" if show_seeds else "")


def accuracy_markdown(table: pd.DataFrame, skipped: dict[str, str]) -> str:
    """Tasks as rows, variants as columns, cells "mean ± std" in %."""
    pivot = accuracy_pivot(table)
    lines = ["| task | " + " | ".join(pivot.columns) + " |",
             "|---" * (len(pivot.columns) + 1) + "|"]
    for task, row in pivot.iterrows():
        lines.append(f"| {task} | " + " | ".join(str(v) for v in row.values) + " |")
    notes = table.groupby("task_title")["data_note"].first()
    lines.append("")
    lines.append(f"Test accuracy %, mean ± std over seeds ((1 seed): a single run). "
                 f"(chance): not above the majority class (one-sided binomial test of the "
                 f"pooled test predictions, p ≥ {CHANCE_P}).")
    lines.append("")
    lines += [f"- {task}: {note}" for task, note in notes.items()]
    lines += [f"- {task}: skipped, {why}" for task, why in skipped.items()]
    return "\n".join(lines) + "\n"


def in_order(values: pd.Series) -> list:
    """Distinct values in order of first appearance (the configuration's order of tasks
    and presets, not the alphabet)."""
    return list(dict.fromkeys(values))


def write_tables(metric_paths: Sequence[str | Path], out_dir: str | Path,
                 skipped: dict[str, str]) -> dict[str, Path]:
    """Write runs.csv, accuracy.csv and accuracy.md into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = runs_frame(read_runs(metric_paths))
    table = accuracy_table(runs)
    files = {"runs": out / "runs.csv", "accuracy": out / "accuracy.csv",
             "accuracy_md": out / "accuracy.md"}
    atomic_write(files["runs"], lambda p: runs.to_csv(p, index=False))
    atomic_write(files["accuracy"], lambda p: table.to_csv(p, index=False))
    atomic_write_text(files["accuracy_md"], accuracy_markdown(table, skipped))
    atomic_write_text(out / "skipped.json", json.dumps(skipped, indent=2))
    return files
