"""The claims scorecard: each claim of the paper (or our own question), our numbers, a test
with the seed as the unit, and a verdict.

Input: the runs' ``metrics.json`` files (one per task x variant x seed) and, for the
benchmark claims, the CSVs of ``python -m benchmarks.bench_memory`` (peak memory per driver
and number of segments) and ``python -m benchmarks.bench_speed_claim`` (step time of rmaat
and rmt at the paper's segment length). Output: ``claims.csv`` and ``claims.md`` (one row
per claim; the columns are :data:`COLUMNS`, described in docs/statistics.md).

A claim is a dict (the ``experiment.claims`` list of the config)::

    {"id": "bio_vs_flat", "claim": "biological schedule beats a flat 1/T", "scope": "ours",
     "primary": true, "test": "better", "variants": ["rmaat", "rmaat_flat"],
     "tasks": ["majority"]}

``scope``: ``paper`` (the row tests the paper's own reading; ``paper`` holds its figure) or
``ours`` (our reading or our question; no paper figure is shown). ``primary``: the
pre-registered primary contrasts, one Holm family; every other accuracy row is in the
``secondary`` family.

Tests (``test``):

better / differs
    Accuracy of ``variants[0]`` against ``variants[1]`` (``better``: ``variants[0]`` >
    ``variants[1]`` > ... , an ordering when more than two; ``differs``: two-sided). The seed
    is the unit: each seed's accuracy (points, averaged over the claim's tasks) pairs with
    the same seed of the other arm, and :func:`analysis.stats.decide` gives the paired
    t-interval, the Holm-adjusted p within the family, the equivalence test against the
    margin, the minimum detectable effect and the verdict (reproduced / contradicted /
    equivalent / inconclusive; docs/statistics.md states the rule once).
equal
    The two variants must give the same model (AMRB vs BPTT: identical gradients): every
    paired run has the same test accuracy and, where stored, the same predictions.
    *reproduced* when all are equal, *contradicted* otherwise (no statistics: exactness).
faster
    The paper's speed claim as it tested it: the step time of rmt over rmaat from the speed
    benchmark CSV (``bench_speed_claim``, at the claim's segments x segment length, on the
    device that ran it). Effect: the ratio of medians; interval: the ratio's range over the
    timed repeats (slowest vs fastest step). *reproduced* when even the range is above 1,
    *contradicted* when it is below 1, else *inconclusive*; the note says the device and
    whether the paper's figure is reached.
memory
    Peak memory of the ``bptt`` over the ``amrb`` driver from the memory benchmark CSV at
    its largest number of segments (one deterministic measurement per driver: reproduced
    when the ratio is > 1, contradicted when <= 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import stats
from analysis.benchmarks import read_memory_csv, read_speed_csv
from analysis.runs import RunRecord, read_runs
from pipeline.claims import scope_error
from pipeline.io import atomic_write, atomic_write_text

TESTS = ("better", "differs", "equal", "faster", "memory")
VERDICTS = stats.VERDICTS
#: Columns of claims.csv (docs/statistics.md says what each means).
COLUMNS = ["id", "claim", "paper", "scope", "primary", "family", "tasks", "ours", "test",
           "pair", "n", "effect", "unit", "sd", "ci_low", "ci_high", "p_value", "p_adjusted",
           "p_tost", "p_tost_adjusted", "margin", "mde", "seeds_needed", "seeds_for_margin",
           "verdict", "reading", "note"]
NAN = float("nan")


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


def _tasks(index: Index, claim: dict[str, Any]) -> list[str]:
    """The claim's tasks: its own, else every task any of its variants ran on."""
    if claim.get("tasks"):
        return list(claim["tasks"])
    names = set(claim.get("variants") or [])
    return sorted({t for t, v, _ in index if v in names})


def seed_accuracies(index: Index, variant: str, tasks: Sequence[str]) -> dict[int, float]:
    """{seed: test accuracy in points, averaged over ``tasks``} of a variant, for the seeds
    that ran every one of the tasks (the seed is the unit of every test)."""
    seeds = sorted({s for t, v, s in index if v == variant and t in tasks})
    out = {}
    for seed in seeds:
        runs = [index.get((t, variant, seed)) for t in tasks]
        if all(r is not None for r in runs):
            out[seed] = float(np.mean([100.0 * r.test_acc for r in runs]))
    return out


def _acc_summary(acc: dict[int, float], name: str) -> str:
    """'name mean ± std (n=k)' in points; one run has no spread to show."""
    values = np.array(list(acc.values()))
    if len(values) == 0:
        return f"{name} (no runs)"
    if len(values) == 1:
        return f"{name} {values[0]:.1f} (1 run)"
    return f"{name} {values.mean():.1f} ± {values.std(ddof=1):.1f} (n={len(values)})"


def _empty(**extra: Any) -> dict[str, Any]:
    """A row's statistics columns, none applicable (benchmarks, exactness)."""
    row = {k: NAN for k in ("sd", "ci_low", "ci_high", "p_value", "p_adjusted", "p_tost",
                            "p_tost_adjusted", "margin", "mde", "seeds_needed",
                            "seeds_for_margin")}
    row.update(family="", pair="", reading="", note="")
    row.update(extra)
    return row


def _stat_rows(index: Index, claims: Sequence[dict[str, Any]],
               settings: dict[str, float]) -> dict[str, dict[str, Any]]:
    """{claim id: row} of every better/differs claim, decided together (Holm families)."""
    rows, ours = [], {}
    for claim in claims:
        if claim["test"] not in stats.TESTS:
            continue
        tasks = _tasks(index, claim)
        values = {name: seed_accuracies(index, name, tasks) for name in claim["variants"]}
        for a, b in zip(claim["variants"][:-1], claim["variants"][1:], strict=True):
            if not set(values[a]) & set(values[b]):
                raise ClaimError(
                    f"claim {claim['id']!r}: no seed has runs of both {a!r} and {b!r} on "
                    f"{', '.join(tasks) or 'any task'}; add the variants to experiment.variants "
                    f"/ presets or fix the claim")
        rows.append(stats.Row(id=claim["id"], test=claim["test"], arms=claim["variants"],
                              values=values,
                              family="primary" if claim.get("primary") else "secondary",
                              margin=settings["margin"]))
        ours[claim["id"]] = " vs ".join(_acc_summary(values[n], n) for n in claim["variants"])
    decided = stats.decide(rows, alpha=settings["alpha"], power=settings["power"])
    out = {}
    for result in decided:
        row = {k: result[k] for k in ("family", "pair", "n", "effect", "sd", "ci_low",
                                      "ci_high", "p_value", "p_adjusted", "p_tost",
                                      "p_tost_adjusted", "margin", "mde", "seeds_needed",
                                      "seeds_for_margin", "verdict", "reading")}
        row.update(ours=ours[result["id"]], unit="points",
                   note=f"pairs: {result['pairs']}" if result["pairs"] else "")
        out[result["id"]] = row
    return out


def _equal(index: Index, claim: dict[str, Any]) -> dict[str, Any]:
    a, b = claim["variants"]
    tasks = _tasks(index, claim)
    pairs = [(run, index[(t, b, s)]) for (t, v, s), run in sorted(index.items())
             if v == a and t in tasks and (t, b, s) in index]
    if not pairs:
        raise ClaimError(f"claim {claim['id']!r}: no (task, seed) has runs of both {a!r} and "
                         f"{b!r}; add the variants or fix the claim")
    unequal = []
    for ra, rb in pairs:
        same = ra.test_acc == rb.test_acc
        if ra.test_predictions is not None and rb.test_predictions is not None:
            same = same and ra.test_predictions == rb.test_predictions
        if not same:
            unequal.append(f"{ra.task}/seed{ra.seed}")
    d = [100.0 * (ra.test_acc - rb.test_acc) for ra, rb in pairs]
    verdict = "contradicted" if unequal else "reproduced"
    return _empty(
        ours=f"{len(pairs) - len(unequal)}/{len(pairs)} paired runs identical "
             f"(max |Δ acc| {max(abs(x) for x in d):.2f} points)",
        n=len(pairs), effect=float(np.mean(d)), unit="points", pair=f"{a} vs {b}",
        verdict=verdict,
        reading=("identical test predictions in every paired run" if not unequal else
                 f"the runs differ: {', '.join(unequal)}"),
        note=f"exact equality of test accuracy and predictions, {len(pairs)} paired runs")


def _faster(claim: dict[str, Any], speed_csv: str | Path | None) -> dict[str, Any]:
    if speed_csv is None or not Path(speed_csv).is_file():
        return _empty(ours="no benchmark", n=0, effect=NAN, unit="ratio",
                      verdict="inconclusive",
                      reading="not measured (python -m benchmarks.bench_speed_claim)",
                      note=f"speed benchmark CSV {speed_csv} not found")
    table = read_speed_csv(speed_csv)
    by = table.set_index("preset")
    if not {"rmaat", "rmt"} <= set(by.index):
        raise ClaimError(f"{speed_csv}: needs the rows of presets rmaat and rmt; rerun "
                         f"python -m benchmarks.bench_speed_claim")
    a, b = by.loc["rmaat"], by.loc["rmt"]
    ratio = float(b["step_median_s"] / a["step_median_s"])
    lo = float(b["step_min_s"] / a["step_max_s"])
    hi = float(b["step_max_s"] / a["step_min_s"])
    verdict = "reproduced" if lo > 1 else "contradicted" if hi < 1 else "inconclusive"
    paper = float(a["paper_speedup"]) if str(a.get("paper_speedup", "")) not in ("", "nan") \
        else NAN
    sizes = (f"{int(a['segments'])} segments x {int(a['segment_len'])} tokens, batch "
             f"{int(a['batch'])}, d_model {int(a['d_model'])}, {int(a['n_layers'])} layers")
    reached = ("" if math.isnan(paper) else
               f"; the paper's {paper:g}x is {'reached' if ratio >= paper else 'not reached'}")
    return _empty(
        ours=f"rmt / rmaat step time = {ratio:.2f}x ({a['system']} {a['step_median_s']:.3g} s "
             f"vs {b['system']} {b['step_median_s']:.3g} s)",
        n=int(min(a["repeats"], b["repeats"])), effect=ratio, unit="ratio", ci_low=lo,
        ci_high=hi, pair=f"{a['system']} vs {b['system']}", verdict=verdict,
        reading=(f"rmaat trains {ratio:.2f}x as fast as rmt at {sizes}{reached}"),
        note=f"device: {a['device']}; {sizes}; interval: range over the timed repeats "
             f"({a['time_kind']})")


def _memory(claim: dict[str, Any], memory_csv: str | Path | None) -> dict[str, Any]:
    if memory_csv is None or not Path(memory_csv).is_file():
        return _empty(ours="no benchmark", n=0, effect=NAN, unit="ratio",
                      verdict="inconclusive",
                      reading="not measured (python -m benchmarks.bench_memory)",
                      note=f"benchmark CSV {memory_csv} not found")
    table = read_memory_csv(memory_csv)  # checked: columns, numbers, rows as long as the header
    seg = int(table["segments"].max())
    at = table[table["segments"] == seg].set_index("driver")["peak_mb"]
    if not {"amrb", "bptt"} <= set(at.index):
        raise ClaimError(f"{memory_csv}: needs rows of drivers amrb and bptt at {seg} segments")
    ratio = float(at["bptt"] / at["amrb"]) if at["amrb"] > 0 else float("inf")
    return _empty(
        ours=f"BPTT / AMRB peak memory = {ratio:.2f}x at {seg} segments "
             f"({at['bptt']:.0f} vs {at['amrb']:.0f} MB)",
        n=1, effect=ratio, unit="ratio", pair="bptt vs amrb",
        verdict="reproduced" if ratio > 1 else "contradicted",
        reading=f"AMRB needs {ratio:.2f}x less peak memory than BPTT at {seg} segments",
        note="one deterministic measurement per driver (fresh process each)")


def check_claim(claim: dict[str, Any]) -> None:
    """Raise ClaimError unless the claim is well formed (id, test, variants, scope)."""
    where = f"experiment.claims[{claim.get('id', '?')!r}]"
    for key in ("id", "claim", "test"):
        if key not in claim:
            raise ClaimError(f"{where}: missing key {key!r}")
    if claim["test"] not in TESTS:
        raise ClaimError(f"{where}.test: {claim['test']!r} is not one of {', '.join(TESTS)}")
    problem = scope_error(claim)
    if problem:
        raise ClaimError(f"{where}.{problem[0]}: {problem[1]}")
    n = len(claim.get("variants") or [])
    need = {"better": 2, "differs": 2, "equal": 2, "faster": 0, "memory": 0}[claim["test"]]
    if n < need or (claim["test"] in ("differs", "equal") and n != 2):
        raise ClaimError(f"{where}.variants: test {claim['test']!r} needs "
                         f"{'exactly' if claim['test'] != 'better' else 'at least'} "
                         f"{need} variants, got {n}")
    if claim.get("primary") and claim["test"] not in stats.TESTS:
        raise ClaimError(f"{where}.primary: only better/differs claims can be primary "
                         f"contrasts (they have a p-value and a power)")


def claims_table(runs: Sequence[RunRecord], claims: list[dict[str, Any]],
                 memory_csv: str | Path | None = None, speed_csv: str | Path | None = None,
                 settings: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per claim (columns COLUMNS); see the module docstring for the tests.
    ``settings``: alpha, power and margin (points) of the study (defaults: analysis.stats)."""
    settings = {"alpha": stats.ALPHA, "power": stats.POWER, "margin": stats.MARGIN,
                **(settings or {})}
    for claim in claims:
        check_claim(claim)
    index = _index(runs)
    decided = _stat_rows(index, claims, settings)
    rows = []
    for claim in claims:
        if claim["test"] in stats.TESTS:
            row = decided[claim["id"]]
        elif claim["test"] == "equal":
            row = _equal(index, claim)
        elif claim["test"] == "faster":
            row = _faster(claim, speed_csv)
        else:
            row = _memory(claim, memory_csv)
        benchmark = claim["test"] in ("memory", "faster")
        scope = claim.get("scope", "paper")
        row.update(id=claim["id"], claim=claim["claim"], test=claim["test"], scope=scope,
                   paper=claim.get("paper") if scope == "paper" else "ours",
                   primary=bool(claim.get("primary", False)),
                   tasks="benchmark" if benchmark else ", ".join(_tasks(index, claim)))
        if claim.get("note"):
            row["note"] = claim["note"] + ("; " + row["note"] if row["note"] else "")
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(v: float, unit: str) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "—"
    return f"{v:+.1f}" if unit == "points" else f"{v:.3g}x"


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


def rule_text(settings: dict[str, float]) -> str:
    """How to read the table: the units, the test and the verdict rule, said once."""
    return (f"Effects in accuracy points (first variant minus second; ratios for speed and "
            f"memory) with their 95 % t-interval over seeds (the seed is the unit: paired "
            f"runs share initialisation, data order and test set). p: two-sided paired "
            f"t-test, Holm-adjusted within its family (primary, secondary). A row is "
            f"*reproduced* when the adjusted p < {settings['alpha']:g} and the effect has the "
            f"claimed sign, *contradicted* when it has the opposite sign, *equivalent* when "
            f"the equivalence test (TOST) puts the effect within ±{settings['margin']:g} "
            f"points, else *inconclusive*; MDE: the smallest effect the design detects with "
            f"{100 * settings['power']:.0f} % power (docs/statistics.md).")


def claims_markdown(table: pd.DataFrame, settings: dict[str, float] | None = None,
                    readout: str = "", data: str = "") -> str:
    """The scorecard as a markdown table plus how to read it (``readout``: readout_note,
    ``data``: data_note)."""
    settings = {"alpha": stats.ALPHA, "power": stats.POWER, "margin": stats.MARGIN,
                **(settings or {})}
    lines = ["| claim | paper | tasks | ours | n | effect [95 % CI] | Holm p | MDE | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        effect = _fmt(r["effect"], r["unit"])
        ci = ("" if math.isnan(r["ci_low"]) else
              f" [{_fmt(r['ci_low'], r['unit'])}, {_fmt(r['ci_high'], r['unit'])}]")
        p = "—" if math.isnan(r["p_adjusted"]) else f"{r['p_adjusted']:.2g}"
        mde = "—" if math.isnan(r["mde"]) else f"{r['mde']:.1f}"
        name = f"**{r['claim']}** (primary)" if r["primary"] else r["claim"]
        lines.append(f"| {name} | {r['paper']} | {r['tasks']} | {r['ours']} | {r['n']} "
                     f"| {effect}{ci} | {p} | {mde} | **{r['verdict']}** |")
    lines += ["", (rule_text(settings) + " " + readout).rstrip(), ""]
    if data:
        lines += [data, ""]
    lines += [f"- {r['claim']}: {r['reading']}" + (f". {r['note']}" if r["note"] else "")
              for _, r in table.iterrows()]
    return "\n".join(lines) + "\n"


def write_claims(metric_paths: Sequence[str | Path], claims: list[dict[str, Any]],
                 out_dir: str | Path, memory_csv: str | Path | None = None,
                 speed_csv: str | Path | None = None,
                 settings: dict[str, float] | None = None) -> dict[str, Path]:
    """Write claims.csv and claims.md into ``out_dir`` (atomically); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = read_runs(metric_paths)
    table = claims_table(runs, claims, memory_csv, speed_csv, settings)
    files = {"csv": out / "claims.csv", "md": out / "claims.md"}
    atomic_write(files["csv"], lambda p: table.to_csv(p, index=False))
    atomic_write_text(files["md"], claims_markdown(table, settings, readout_note(runs),
                                                   data_note(runs)))
    return files
