"""Biology -> model: accuracy against the LTP time constant of the schedule a model read.

Input: the dose-response plan (``results/tables/dose_config.json``, written by the workflow
from ``experiment.dose_response``: the parameter, the task, each value's condition and
variant, the base condition and variant, the reference variants), the runs' metrics.json
files and the retention files of the conditions. Output (columns in docs/statistics.md):

- ``dose_response.csv``: one row per value (``kind`` dose; the base variant at the base
  condition is one of them) with the fitted τ_LTP in segments (STP cycles), RF(1, T) /
  RF(T, T) of the schedule the runs read, and the mean test accuracy over seeds with its
  95 % t-interval; one row per reference variant (``kind`` flat, no_rf or the variant's name);
- ``dose_response.json``: the trend test and a sentence generated from it.

The trend test keeps the seed as the unit: for every seed that ran every value, the slope of
accuracy (points) against log2 τ_LTP by least squares; then a one-sample t-test of those
per-seed slopes against 0 (points per doubling of τ_LTP, with its 95 % t-interval).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.runs import RunRecord, read_runs
from pipeline.io import atomic_write, atomic_write_json
from pipeline.retention import read_payload

COLUMNS = ["kind", "parameter", "value", "condition", "variant", "tau_ltp_segments",
           "rf_ratio", "task", "seeds", "acc_mean", "ci_low", "ci_high", "sd"]
ALPHA = 0.05


def _mean_ci(values: Sequence[float]) -> tuple[float, float, float, float]:
    """(mean, 95 % t-interval low, high, SD) of per-seed accuracies (points)."""
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return (math.nan,) * 4
    if len(x) == 1:
        return float(x[0]), math.nan, math.nan, math.nan
    sd = float(x.std(ddof=1))
    half = float(sps.t.ppf(1 - ALPHA / 2, len(x) - 1)) * sd / math.sqrt(len(x))
    return float(x.mean()), float(x.mean()) - half, float(x.mean()) + half, sd


def _accuracies(runs: Sequence[RunRecord], variant: str, task: str) -> dict[int, float]:
    return {int(r.seed): 100.0 * r.test_acc for r in runs
            if r.variant == variant and r.task == task}


def _schedule(path: str | Path, segments: int) -> tuple[float, float]:
    """(τ_LTP in STP cycles, RF(1, T) / RF(T, T)) of a retention file."""
    payload = read_payload(path)
    derived = payload.get("derived") or {}
    tau = derived.get("tau_ltp_cycles")
    if tau is None:
        raise ValueError(f"{path}: no derived.tau_ltp_cycles; rerun its distill job")
    factors = payload["schedules"].get(str(segments))
    if factors is None:
        raise ValueError(f"{path}: no schedule for T = {segments} segments; raise "
                         f"retention.max_segments and rerun distill")
    return float(tau), float(factors[0] / factors[-1])


def trend(per_seed: dict[int, dict[float, float]]) -> dict[str, Any]:
    """Per-seed least-squares slopes of accuracy (points) on log2 τ, then a t-test of the
    slopes (``per_seed``: seed -> {τ: accuracy}; seeds missing a τ are left out)."""
    taus = sorted({t for points in per_seed.values() for t in points})
    seeds = [s for s, points in sorted(per_seed.items()) if set(points) >= set(taus)]
    out: dict[str, Any] = {"test": "t-test over seeds of each seed's least-squares slope of "
                                   "accuracy on log2 tau_LTP (points per doubling)",
                           "n_seeds": len(seeds), "n_values": len(taus)}
    if len(taus) < 2 or len(seeds) < 2:
        return {**out, "slope": math.nan, "ci_low": math.nan, "ci_high": math.nan,
                "p_value": math.nan}
    x = np.log2(np.array(taus))
    # rounded to 1e-9 points: a flat line's least-squares slope is ~1e-15, not 0
    slopes = np.round([np.polyfit(x, [per_seed[s][t] for t in taus], 1)[0] for s in seeds], 9)
    mean, lo, hi, _ = _mean_ci(slopes)
    if np.ptp(slopes) <= 1e-12 * max(1.0, float(np.abs(slopes).max())):
        p = 1.0 if slopes[0] == 0 else 0.0
    else:
        p = float(sps.ttest_1samp(slopes, 0.0).pvalue)
    return {**out, "slope": mean, "ci_low": lo, "ci_high": hi, "p_value": p}


def trend_reading(result: dict[str, Any], parameter: str, margin: float | None = None) -> str:
    """One sentence from the trend test's numbers."""
    if not result["n_seeds"] >= 2:
        return f"{result['n_seeds']} seed(s) ran every value: no trend test"
    slope, lo, hi, p = (result[k] for k in ("slope", "ci_low", "ci_high", "p_value"))
    where = (f"{slope:+.2f} points per doubling of tau_LTP [{lo:+.2f}, {hi:+.2f}], p {p:.2g}, "
             f"{result['n_seeds']} seeds")
    if p < ALPHA:
        way = "rises" if slope > 0 else "falls"
        return (f"Accuracy {way} with the LTP time constant set by {parameter}: {where}.")
    return (f"No trend of accuracy with the LTP time constant set by {parameter} is "
            f"detected: {where}.")


def dose_table(plan: dict[str, Any], runs: Sequence[RunRecord],
               retention: dict[str, str | Path]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """(the dose-response table, the trend summary) of a plan; ``retention``: condition ->
    its retention file."""
    task, segments, parameter = plan["task"], int(plan["segments"]), plan["parameter"]
    rows, per_seed = [], {}
    points = [{"value": plan["base_value"], "condition": plan["base_condition"],
               "variant": plan["variant"]}, *plan["points"]]
    for point in points:
        if point["condition"] not in retention:
            raise ValueError(f"no retention file given for condition {point['condition']!r}")
        tau, ratio = _schedule(retention[point["condition"]], segments)
        acc = _accuracies(runs, point["variant"], task)
        if not acc:
            raise ValueError(f"no runs of {point['variant']!r} on {task!r} among the metrics "
                             f"given; run its training jobs first")
        for seed, value in acc.items():
            per_seed.setdefault(seed, {})[tau] = value
        mean, lo, hi, sd = _mean_ci(list(acc.values()))
        rows.append({"kind": "dose", "parameter": parameter, "value": str(point["value"]),
                     "condition": point["condition"], "variant": point["variant"],
                     "tau_ltp_segments": tau, "rf_ratio": ratio, "task": task,
                     "seeds": len(acc), "acc_mean": mean, "ci_low": lo, "ci_high": hi,
                     "sd": sd})
    rows.sort(key=lambda r: r["tau_ltp_segments"])
    for ref in plan.get("references") or []:
        acc = _accuracies(runs, ref["variant"], task)
        if not acc:
            raise ValueError(f"no runs of reference {ref['variant']!r} on {task!r} among the "
                             f"metrics given")
        mean, lo, hi, sd = _mean_ci(list(acc.values()))
        rows.append({"kind": ref["kind"], "parameter": "", "value": "", "condition": "",
                     "variant": ref["variant"],
                     "tau_ltp_segments": math.inf if ref["kind"] == "flat" else math.nan,
                     "rf_ratio": 1.0 if ref["kind"] == "flat" else math.nan, "task": task,
                     "seeds": len(acc), "acc_mean": mean, "ci_low": lo, "ci_high": hi,
                     "sd": sd})
    result = trend(per_seed)
    reading = trend_reading(result, parameter)
    # JSON has no NaN: a number that cannot be computed (fewer than two seeds) is null
    result = {k: None if isinstance(v, float) and math.isnan(v) else v
              for k, v in result.items()}
    summary = {"parameter": parameter, "task": task, "segments": segments, "trend": result,
               "reading": reading}
    return pd.DataFrame(rows, columns=COLUMNS), summary


def write_dose_response(plan_path: str | Path, metric_paths: Sequence[str | Path],
                        retention_paths: Sequence[str | Path], out_csv: str | Path,
                        out_json: str | Path) -> dict[str, Path]:
    """Read the plan, runs and retention files; write the table and the summary
    (atomically); returns their paths."""
    plan = json.loads(Path(plan_path).read_text())
    runs = read_runs(metric_paths)
    retention = {}
    for path in retention_paths:
        retention[read_payload(path)["condition"]] = path
    table, summary = dose_table(plan, runs, retention)
    atomic_write(out_csv, lambda p: table.to_csv(p, index=False))
    atomic_write_json(out_json, summary)
    return {"csv": Path(out_csv), "json": Path(out_json)}
