"""The claims scorecard: each claim of the paper, our numbers, a paired test and a verdict.

Input: the runs' ``metrics.json`` files (one per task x variant x seed) and, for the memory
claim, the CSV of ``python -m benchmarks.bench_memory`` (peak memory per driver and number
of segments). Output: ``claims.csv`` and ``claims.md`` (one row per claim).

A claim is a dict (the ``experiment.claims`` list of the config)::

    {"id": "rf_scalar", "claim": "the retention factor helps", "paper": "80.5 -> 83.2",
     "test": "better", "variants": ["rmaat", "rmaat_no_rf"], "tasks": [...]}

Tests (``test``):

better
    Accuracy of ``variants[0]`` > ``variants[1]`` (> ``variants[2]`` ...: an ordering, each
    neighbouring pair tested). Runs are paired by (task, seed). Two tests, both reported:
    a one-sided paired t-test over the (task, seed) pairs of test accuracies, and a paired
    bootstrap over pairs x test examples (2,000 resamples of the pairs, and within each
    pair of its test examples, of the difference in per-example correctness; needs the
    ``test_predictions`` stored in metrics.json), giving a 95 % CI of the mean difference.
    Verdict: *reproduced* when the mean difference has the paper's sign, the t-test gives
    p < ALPHA and the bootstrap CI (where available) excludes 0; *contradicted* when the
    same holds for the opposite sign; otherwise *inconclusive*. For an ordering: reproduced
    when every neighbouring pair is, contradicted when any pair is, else inconclusive.
differs
    Two-sided version of ``better`` (does the choice make a measurable difference at all):
    *reproduced* when the difference is significant either way, else *inconclusive*.
equal
    The two variants must give the same model (AMRB vs BPTT: identical gradients): every
    paired run has the same test accuracy and, where stored, the same predictions.
    *reproduced* when all are equal, *contradicted* otherwise (no statistics: exactness).
faster
    Training throughput (tokens/s, measured in each run) of ``variants[0]`` over
    ``variants[1]``, paired by (task, seed): the ratio's geometric mean and a one-sided
    t-test of the log ratios > 0 (same verdict rule as ``better``).
memory
    Peak memory of the ``bptt`` over the ``amrb`` driver from the benchmark CSV at its
    largest number of segments (one deterministic measurement per driver: reproduced when
    the ratio is > 1, contradicted when <= 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.benchmarks import read_memory_csv
from analysis.runs import RunRecord, read_runs
from pipeline.io import atomic_write, atomic_write_text

ALPHA = 0.05  # significance level of every claim test
BOOTSTRAP = 2_000  # resamples of the paired bootstrap
TESTS = ("better", "differs", "equal", "faster", "memory")
VERDICTS = ("reproduced", "contradicted", "inconclusive")
COLUMNS = ["id", "claim", "paper", "ours", "n", "test", "effect", "ci_low", "ci_high",
           "p_value", "verdict", "tasks", "note"]


class ClaimError(ValueError):
    """A claim names a variant/task without runs, or is malformed (says which and why)."""


Index = dict[tuple[str, str, int], RunRecord]  # (task, variant, seed) -> run


def _index(runs: Sequence[RunRecord]) -> Index:
    out = {}
    for run in runs:
        key = (run.task, run.variant, int(run.seed))
        if key in out:
            raise ClaimError(f"two metrics files for {key[0]}/{key[1]}/seed{key[2]}")
        out[key] = run
    return out


def _pairs(index: Index, claim: dict, a: str, b: str) -> list[tuple[RunRecord, RunRecord]]:
    """(run of a, run of b) for every (task, seed) both have, in the claim's tasks."""
    tasks = claim.get("tasks")
    pairs = []
    for (task, variant, seed), run in sorted(index.items()):
        if variant != a or (tasks and task not in tasks):
            continue
        other = index.get((task, b, seed))
        if other is not None:
            pairs.append((run, other))
    if not pairs:
        raise ClaimError(f"claim {claim['id']!r}: no (task, seed) has runs of both {a!r} and "
                         f"{b!r}{' on ' + ', '.join(tasks) if tasks else ''}; add the variants "
                         f"to experiment.variants / presets or fix the claim")
    return pairs


def _correct(run: RunRecord) -> np.ndarray | None:
    preds, labels = run.test_predictions, run.test_labels
    if preds is None or labels is None:
        return None
    return (np.asarray(preds) == np.asarray(labels)).astype(float)


def paired_bootstrap(diffs: list[np.ndarray], seed: int = 0,
                     resamples: int = BOOTSTRAP) -> np.ndarray:
    """Bootstrap distribution of the mean per-example difference: resample the pairs, and
    within each drawn pair its examples (both with replacement). ``diffs``: one array per
    pair of per-example differences (correct_a - correct_b). Returns ``resamples`` means."""
    rng = np.random.default_rng(seed)
    per_pair = np.stack([d[rng.integers(0, len(d), (resamples, len(d)))].mean(1)
                         for d in diffs])  # (pairs, resamples)
    pick = rng.integers(0, len(diffs), (resamples, len(diffs)))
    return per_pair[pick, np.arange(resamples)[:, None]].mean(1)


def _t_pvalue(d: np.ndarray, alternative: str) -> float:
    """p of a one-sample t-test of d against 0; exact cases when d has no spread."""
    if len(d) < 2:
        return float("nan")
    # all differences equal (to rounding): certain if non-zero, no evidence if zero
    if np.ptp(d) <= 1e-12 * max(1.0, float(np.abs(d).max())):
        if d[0] == 0:
            return 1.0
        sign_ok = {"greater": d[0] > 0, "less": d[0] < 0, "two-sided": True}[alternative]
        return 0.0 if sign_ok else 1.0
    return float(stats.ttest_1samp(d, 0.0, alternative=alternative).pvalue)


def compare(pairs: list[tuple[RunRecord, RunRecord]], two_sided: bool = False,
            ) -> dict[str, Any]:
    """Paired comparison of test accuracy a - b: effect, CI, p-values and the verdict."""
    d = np.array([a.test_acc - b.test_acc for a, b in pairs])
    mean = float(d.mean())
    corrects = [(_correct(a), _correct(b)) for a, b in pairs]
    boot = None
    if all(ca is not None and cb is not None and len(ca) == len(cb) for ca, cb in corrects):
        boot = paired_bootstrap([ca - cb for ca, cb in corrects])
    if boot is not None:
        lo, hi = (float(x) for x in np.percentile(boot, [2.5, 97.5]))
        test = (f"paired t-test over (task, seed) + paired bootstrap over seeds x test "
                f"examples ({BOOTSTRAP})")
    else:
        lo = hi = float("nan")
        test = "paired t-test over (task, seed) (no per-example predictions stored)"
    if two_sided:
        p = _t_pvalue(d, "two-sided")
        significant = p < ALPHA and (boot is None or lo > 0 or hi < 0)
        verdict = "reproduced" if significant else "inconclusive"
    else:
        p_up, p_down = _t_pvalue(d, "greater"), _t_pvalue(d, "less")
        p = p_up if mean >= 0 else p_down
        if mean > 0 and p_up < ALPHA and (boot is None or lo > 0):
            verdict = "reproduced"
        elif mean < 0 and p_down < ALPHA and (boot is None or hi < 0):
            verdict = "contradicted"
        else:
            verdict = "inconclusive"
    return {"effect": mean, "ci_low": lo, "ci_high": hi, "p_value": p, "verdict": verdict,
            "n": len(pairs), "test": ("two-sided " if two_sided else "one-sided ") + test}


def _acc_summary(runs: list[RunRecord], name: str) -> str:
    """'name mean ± std (n=k)' of test accuracy in %; one run has no spread to show."""
    acc = np.array([r.test_acc for r in runs]) * 100
    if len(acc) == 0:
        return f"{name} (no runs)"
    if len(acc) == 1:
        return f"{name} {acc[0]:.1f} (1 run)"
    return f"{name} {acc.mean():.1f} ± {acc.std(ddof=1):.1f} (n={len(acc)})"


def _better_or_differs(index: Index, claim: dict) -> dict[str, Any]:
    names = claim["variants"]
    two_sided = claim["test"] == "differs"
    results = [compare(_pairs(index, claim, a, b), two_sided)
               for a, b in zip(names[:-1], names[1:], strict=True)]
    verdicts = [r["verdict"] for r in results]
    if len(results) == 1:
        row = dict(results[0])
    else:  # an ordering: every neighbouring pair
        verdict = ("reproduced" if all(v == "reproduced" for v in verdicts) else
                   "contradicted" if "contradicted" in verdicts else "inconclusive")
        row = {"effect": min(r["effect"] for r in results),
               "ci_low": min(r["ci_low"] for r in results),
               "ci_high": max(r["ci_high"] for r in results),
               "p_value": max(r["p_value"] for r in results), "verdict": verdict,
               "n": min(r["n"] for r in results),
               "test": results[0]["test"] + ", each neighbouring pair of the ordering",
               "note": "pairs: " + "; ".join(
                   f"{a} > {b}: {r['verdict']} (Δ {100 * r['effect']:+.1f} pts, "
                   f"p {r['p_value']:.2g})"
                   for a, b, r in zip(names[:-1], names[1:], results, strict=True))}
    tasks = claim.get("tasks")
    row["ours"] = " vs ".join(
        _acc_summary([r for (t, v, _), r in sorted(index.items())
                      if v == name and (not tasks or t in tasks)], name) for name in names)
    row["effect_unit"] = "accuracy points (a - b)"
    return row


def _equal(index: Index, claim: dict) -> dict[str, Any]:
    a, b = claim["variants"]
    pairs = _pairs(index, claim, a, b)
    unequal = []
    for ra, rb in pairs:
        same = ra.test_acc == rb.test_acc
        if ra.test_predictions is not None and rb.test_predictions is not None:
            same = same and ra.test_predictions == rb.test_predictions
        if not same:
            unequal.append(f"{ra.task}/seed{ra.seed}")
    d = [ra.test_acc - rb.test_acc for ra, rb in pairs]
    return {"ours": f"{len(pairs) - len(unequal)}/{len(pairs)} paired runs identical "
                    f"(max |Δ acc| {100 * max(abs(x) for x in d):.2f} pts)",
            "n": len(pairs), "test": "exact equality of test accuracy and predictions",
            "effect": float(np.mean(d)), "ci_low": float("nan"), "ci_high": float("nan"),
            "p_value": float("nan"),
            "verdict": "contradicted" if unequal else "reproduced",
            "note": ("differ: " + ", ".join(unequal)) if unequal else ""}


def _faster(index: Index, claim: dict) -> dict[str, Any]:
    a, b = claim["variants"]
    pairs = _pairs(index, claim, a, b)
    logs = np.array([math.log(ra.tokens_per_s / rb.tokens_per_s) for ra, rb in pairs])
    ratio = float(np.exp(logs.mean()))
    p_up, p_down = _t_pvalue(logs, "greater"), _t_pvalue(logs, "less")
    if len(logs) >= 2 and logs.std(ddof=1) > 0:
        half = stats.t.ppf(0.975, len(logs) - 1) * logs.std(ddof=1) / math.sqrt(len(logs))
        lo, hi = math.exp(logs.mean() - half), math.exp(logs.mean() + half)
    else:
        lo = hi = ratio
    verdict = ("reproduced" if ratio > 1 and p_up < ALPHA else
               "contradicted" if ratio < 1 and p_down < ALPHA else "inconclusive")
    return {"ours": f"{a} / {b} tokens/s = {ratio:.2f}× (geometric mean)", "n": len(pairs),
            "test": "one-sided paired t-test of log(tokens/s ratio) over (task, seed); "
                    "95 % CI of the ratio",
            "effect": ratio, "ci_low": lo, "ci_high": hi,
            "p_value": p_up if ratio >= 1 else p_down, "verdict": verdict,
            "effect_unit": "throughput ratio"}


def _memory(claim: dict, memory_csv: str | Path | None) -> dict[str, Any]:
    if memory_csv is None or not Path(memory_csv).is_file():
        return {"ours": "no benchmark", "n": 0, "test": "benchmark peak memory ratio",
                "effect": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                "p_value": float("nan"), "verdict": "inconclusive",
                "note": f"benchmark CSV {memory_csv} not found (python -m benchmarks.bench_memory)"}
    table = read_memory_csv(memory_csv)  # checked: columns, numbers, rows as long as the header
    seg = int(table["segments"].max())
    at = table[table["segments"] == seg].set_index("driver")["peak_mb"]
    if not {"amrb", "bptt"} <= set(at.index):
        raise ClaimError(f"{memory_csv}: needs rows of drivers amrb and bptt at {seg} segments")
    ratio = float(at["bptt"] / at["amrb"]) if at["amrb"] > 0 else float("inf")
    return {"ours": f"BPTT / AMRB peak memory = {ratio:.2f}× at {seg} segments "
                    f"({at['bptt']:.0f} vs {at['amrb']:.0f} MB)",
            "n": 1, "test": "one deterministic measurement per driver (fresh process each)",
            "effect": ratio, "ci_low": float("nan"), "ci_high": float("nan"),
            "p_value": float("nan"), "verdict": "reproduced" if ratio > 1 else "contradicted",
            "effect_unit": "memory ratio"}


def check_claim(claim: dict[str, Any]) -> None:
    """Raise ClaimError unless the claim is well formed (id, test, variants)."""
    where = f"experiment.claims[{claim.get('id', '?')!r}]"
    for key in ("id", "claim", "paper", "test"):
        if key not in claim:
            raise ClaimError(f"{where}: missing key {key!r}")
    if claim["test"] not in TESTS:
        raise ClaimError(f"{where}.test: {claim['test']!r} is not one of {', '.join(TESTS)}")
    n = len(claim.get("variants") or [])
    need = {"better": 2, "differs": 2, "equal": 2, "faster": 2, "memory": 0}[claim["test"]]
    if n < need or (claim["test"] in ("differs", "equal", "faster") and n != 2):
        raise ClaimError(f"{where}.variants: test {claim['test']!r} needs "
                         f"{'exactly' if claim['test'] != 'better' else 'at least'} "
                         f"{need} variants, got {n}")


def claims_table(runs: Sequence[RunRecord], claims: list[dict[str, Any]],
                 memory_csv: str | Path | None = None) -> pd.DataFrame:
    """One row per claim (columns COLUMNS); see the module docstring for the tests."""
    index = _index(runs)
    rows = []
    for claim in claims:
        check_claim(claim)
        if claim["test"] in ("better", "differs"):
            row = _better_or_differs(index, claim)
        elif claim["test"] == "equal":
            row = _equal(index, claim)
        elif claim["test"] == "faster":
            row = _faster(index, claim)
        else:
            row = _memory(claim, memory_csv)
        tasks = ("benchmark" if claim["test"] == "memory" else
                 ", ".join(claim.get("tasks") or sorted({t for t, _, _ in index})))
        row.update(id=claim["id"], claim=claim["claim"], paper=claim["paper"], tasks=tasks)
        row.setdefault("note", "")
        if claim.get("note"):
            row["note"] = (claim["note"] + ("; " + row["note"] if row["note"] else ""))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(v: float, pct: bool) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "—"
    return f"{100 * v:+.1f}" if pct else f"{v:.3g}"


def readout_note(runs: Sequence[RunRecord]) -> str:
    """What the recurrent runs classify from (the ``readout`` each run recorded; the
    presets' default is the final memory), for the note under the table."""
    readouts = sorted({r.model["readout"] for r in runs if r.model["recurrent"]})
    if not readouts:
        return ""
    if readouts == ["memory"]:
        return "Recurrent models classify from their memory only (the paper's setting)."
    return f"Recurrent models classify from: {', '.join(readouts)} (readout)."


def data_note(runs: Sequence[RunRecord]) -> str:
    """What data each task is (the runs' ``data_note``, which says "not LRA" for generated
    tasks), for the note under the table."""
    notes = {r.task: r.data_note or r.task_title or r.task
             for r in sorted(runs, key=lambda r: r.task)}
    return "Data: " + "; ".join(f"{task}: {note}" for task, note in notes.items()) + "."


def claims_markdown(table: pd.DataFrame, claims: list[dict[str, Any]],
                    readout: str = "", data: str = "") -> str:
    """The scorecard as a markdown table plus how to read it (``readout``: readout_note,
    ``data``: data_note)."""
    tests = {c["id"]: c["test"] for c in claims}
    lines = ["| claim | paper | tasks | ours | n | effect [95 % CI] | p | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        pct = tests.get(r["id"]) in ("better", "differs", "equal")
        effect = _fmt(r["effect"], pct)
        ci = ("" if math.isnan(r["ci_low"]) else
              f" [{_fmt(r['ci_low'], pct)}, {_fmt(r['ci_high'], pct)}]")
        p = "—" if math.isnan(r["p_value"]) else f"{r['p_value']:.2g}"
        lines.append(f"| {r['claim']} | {r['paper']} | {r['tasks']} | {r['ours']} | {r['n']} "
                     f"| {effect}{ci} "
                     f"| {p} | **{r['verdict']}** |")
    lines += ["", f"Accuracy effects in percentage points (first variant minus second); "
                  f"ratios for speed and memory. A claim is *reproduced* only when the "
                  f"difference has the paper's sign and is significant (p < {ALPHA}, and "
                  f"the 95 % bootstrap CI over seeds x test examples excludes 0 where "
                  f"per-example predictions are stored); *contradicted* when the opposite "
                  f"sign is significant; otherwise *inconclusive* at this scale. n: paired "
                  f"(task, seed) runs. {readout}".rstrip(), ""]
    if data:
        lines += [data, ""]
    lines += [f"- {r['claim']}: {r['test']}" + (f". {r['note']}" if r["note"] else "")
              for _, r in table.iterrows()]
    return "\n".join(lines) + "\n"


def write_claims(metric_paths: Sequence[str | Path], claims: list[dict[str, Any]],
                 out_dir: str | Path, memory_csv: str | Path | None = None) -> dict[str, Path]:
    """Write claims.csv and claims.md into ``out_dir`` (atomically); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = read_runs(metric_paths)
    table = claims_table(runs, claims, memory_csv)
    files = {"csv": out / "claims.csv", "md": out / "claims.md"}
    atomic_write(files["csv"], lambda p: table.to_csv(p, index=False))
    atomic_write_text(files["md"], claims_markdown(table, claims, readout_note(runs),
                                                   data_note(runs)))
    return files
