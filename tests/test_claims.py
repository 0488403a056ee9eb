"""The claims scorecard from hand-built metrics: verdicts, numbers and the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.__main__ import main as analysis_main
from analysis.claims import (
    COLUMNS,
    ClaimError,
    check_claim,
    claims_table,
    write_claims,
)
from analysis.runs import RunRecord, read_runs
from tests.conftest import run_metrics
from tests.htmlpage import parse_page

N_TEST = 200


def run(task: str, variant: str, seed: int, correct: np.ndarray, tokens_per_s: float = 1000.0):
    """A run's metrics.json payload whose predictions are right exactly where `correct` is."""
    labels = np.arange(N_TEST) % 4
    preds = np.where(correct, labels, (labels + 1) % 4)
    return run_metrics(task=task, task_title=task, variant=variant, preset="transformer",
                       seed=seed, test_acc=float(correct.mean()), n_test=N_TEST,
                       tokens_per_s=tokens_per_s, majority_acc=0.25,
                       test_predictions=preds.tolist(), test_labels=labels.tolist())


def records(runs: list[dict]) -> list[RunRecord]:
    """The runs as the analysis reads them."""
    return [RunRecord.from_metrics(r) for r in runs]


def correct_at(rate: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(N_TEST) < rate


@pytest.fixture()
def runs() -> list[dict]:
    out = []
    for seed in range(4):
        base = correct_at(0.5, seed)
        # "good" is the baseline plus 50-65 extra right answers (a clear gain)
        good = base.copy()
        good[np.flatnonzero(~base)[:50 + 5 * seed]] = True
        # "noisy" flips a few answers either way: no real difference
        noisy = base.copy()
        flip = np.random.default_rng(100 + seed).choice(N_TEST, 6, replace=False)
        noisy[flip] = ~noisy[flip]
        out += [run("recall", "base", seed, base, 1000.0 + seed),
                run("recall", "good", seed, good, 1600.0 + seed),
                run("recall", "noisy", seed, noisy, 1000.0),
                run("recall", "twin", seed, base.copy(), 900.0)]
    return out


def claim(cid: str, test: str, variants: list[str], **kw) -> dict:
    return {"id": cid, "claim": cid, "paper": "x", "test": test, "variants": variants, **kw}


def accuracy_runs(variant: str, accs: list[float], task: str = "recall") -> list[dict]:
    """Runs of one variant with the given test accuracies (fractions), seeds 0.."""
    return [run_metrics(task=task, task_title=task, variant=variant, preset="rmaat", seed=s,
                        test_acc=a, n_test=N_TEST, majority_acc=0.25)
            for s, a in enumerate(accs)]


def test_reproduced_contradicted_equivalent_inconclusive(runs):
    table = claims_table(records(runs), [claim("up", "better", ["good", "base"]),
                                         claim("down", "better", ["base", "good"]),
                                         claim("flat", "better", ["noisy", "base"])])
    table = table.set_index("id")
    assert table.loc["up", "verdict"] == "reproduced"
    assert table.loc["down", "verdict"] == "contradicted"
    assert table.loc["up", "ci_low"] > 0 and table.loc["down", "ci_high"] < 0
    assert table.loc["up", "n"] == 4 and table.loc["up", "unit"] == "points"
    # noisy differs from base by at most a few answers in 200: within ±3 points, so with 4
    # seeds the equivalence test may or may not decide; a tight, many-seed case decides
    a = accuracy_runs("a", [0.60 + 0.001 * (s % 3) for s in range(20)])
    b = accuracy_runs("b", [0.60 + 0.001 * ((s + 1) % 3) for s in range(20)])
    eq = claims_table(records(a + b), [claim("eq", "better", ["a", "b"])]).iloc[0]
    assert eq["verdict"] == "equivalent" and eq["p_tost_adjusted"] < 0.025
    # the same two arms, one seed apart by 5 points: no longer within the margin
    c = accuracy_runs("c", [0.60 + 0.001 * (s % 3) + (0.05 if s == 0 else 0) for s in range(3)])
    few = claims_table(records(c + b[:3]), [claim("few", "better", ["c", "b"])]).iloc[0]
    assert few["verdict"] == "inconclusive" and "underpowered" in few["reading"]


def test_numbers_recompute_from_metrics(runs):
    from scipy import stats as sps

    row = claims_table(records(runs), [claim("up", "better", ["good", "base"])]).iloc[0]
    good = np.array([r["test_acc"] for r in runs if r["variant"] == "good"]) * 100
    base = np.array([r["test_acc"] for r in runs if r["variant"] == "base"]) * 100
    d = good - base
    assert row["effect"] == pytest.approx(d.mean())
    assert row["sd"] == pytest.approx(d.std(ddof=1))
    half = sps.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row["p_value"] == pytest.approx(sps.ttest_rel(good, base).pvalue)
    assert row["p_adjusted"] == pytest.approx(row["p_value"])  # alone in its family
    assert (f"good {good.mean():.1f} ± {good.std(ddof=1):.1f} (n=4)" in row["ours"])


def test_holm_within_the_primary_family_only(runs):
    claims = [claim("up", "better", ["good", "base"], primary=True),
              claim("flat", "better", ["noisy", "base"], primary=True),
              claim("side", "better", ["good", "noisy"])]
    table = claims_table(records(runs), claims).set_index("id")
    p = table["p_value"]
    lo, hi = sorted(["up", "flat"], key=lambda i: p[i])
    assert table.loc[lo, "p_adjusted"] == pytest.approx(min(1.0, 2 * p[lo]))
    assert table.loc[hi, "p_adjusted"] == pytest.approx(max(min(1.0, 2 * p[lo]), p[hi]))
    assert table.loc["side", "p_adjusted"] == pytest.approx(p["side"])  # its own family
    assert list(table["family"]) == ["primary", "primary", "secondary"]
    assert bool(table.loc["up", "primary"]) and not bool(table.loc["side", "primary"])
    # the MDE is that of the family's size (2 tests)
    from analysis.stats import mde

    assert table.loc["up", "mde"] == pytest.approx(
        mde(table.loc["up", "sd"], 4, family_size=2))


def test_several_tasks_average_each_seed_first():
    a = accuracy_runs("a", [0.7, 0.6, 0.8]) + accuracy_runs("a", [0.5, 0.5, 0.5], "majority")
    b = accuracy_runs("b", [0.6, 0.6, 0.6]) + accuracy_runs("b", [0.4, 0.5, 0.5], "majority")
    row = claims_table(records(a + b), [claim("x", "better", ["a", "b"])]).iloc[0]
    per_seed = np.array([(70 + 50) / 2 - (60 + 40) / 2, (60 + 50) / 2 - (60 + 50) / 2,
                         (80 + 50) / 2 - (60 + 50) / 2])
    assert row["n"] == 3 and row["effect"] == pytest.approx(per_seed.mean())
    assert row["tasks"] == "majority, recall"


def test_one_run_has_no_spread(runs):
    one = [r for r in runs if r["seed"] == 0]
    table = claims_table(records(one), [claim("up", "better", ["good", "base"])])
    row = table.iloc[0]
    good = next(r["test_acc"] for r in one if r["variant"] == "good")
    assert f"good {100 * good:.1f} (1 run)" in row["ours"] and "±" not in row["ours"]
    assert row["verdict"] == "inconclusive" and "no test" in row["reading"]


def test_ordering_rule(runs):
    table = claims_table(records(runs), [claim("order", "better", ["good", "base", "noisy"]),
                                         claim("wrong", "better", ["base", "good", "noisy"])])
    assert table.iloc[1]["verdict"] == "contradicted"  # base > good is contradicted
    assert table.iloc[0]["verdict"] != "reproduced"  # base > noisy is not shown
    assert "good > base: reproduced" in table.iloc[0]["note"]


def test_equal_and_differs(runs):
    table = claims_table(records(runs), [claim("same", "equal", ["base", "twin"]),
                                         claim("notsame", "equal", ["base", "noisy"]),
                                         claim("diff", "differs", ["base", "good"])])
    table = table.set_index("id")
    assert table.loc["same", "verdict"] == "reproduced"
    assert table.loc["notsame", "verdict"] == "contradicted"
    assert table.loc["diff", "verdict"] == "reproduced"


def speed_csv(path: Path, rmaat: tuple[float, float, float], rmt: tuple[float, float, float],
              ) -> Path:
    rows = []
    for preset, driver, (med, lo, hi) in (("rmaat", "amrb", rmaat), ("rmt", "bptt", rmt)):
        rows.append({"date": "d", "commit": "c", "dirty": False, "device": "CPU (x, 1 thread)",
                     "system": f"{preset}+{driver}", "preset": preset, "driver": driver,
                     "segments": 16, "segment_len": 512, "batch": 1, "d_model": 64,
                     "n_layers": 2, "repeats": 3, "time_kind": "cpu_process_time",
                     "step_median_s": med, "step_min_s": lo, "step_max_s": hi,
                     "paper_speedup": 1.73 if preset == "rmaat" else ""})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_faster_from_the_speed_benchmark_and_memory(runs, tmp_path):
    csv = tmp_path / "memory.csv"
    pd.DataFrame({"driver": ["bptt", "amrb", "bptt", "amrb"], "segments": [4, 4, 16, 16],
                  "peak_mb": [50.0, 40.0, 400.0, 100.0]}).to_csv(csv, index=False)
    claims = [claim("speed", "faster", []), claim("mem", "memory", [])]
    fast = speed_csv(tmp_path / "fast.csv", (0.2, 0.19, 0.21), (0.4, 0.38, 0.42))
    table = claims_table(records(runs), claims, memory_csv=csv, speed_csv=fast).set_index("id")
    assert table.loc["speed", "effect"] == pytest.approx(2.0)
    assert (table.loc["speed", "ci_low"], table.loc["speed", "ci_high"]) == pytest.approx(
        (0.38 / 0.21, 0.42 / 0.19))
    assert table.loc["speed", "verdict"] == "reproduced"
    assert "16 segments x 512 tokens" in table.loc["speed", "reading"]
    assert "CPU (x, 1 thread)" in table.loc["speed", "note"]
    assert table.loc["mem", "effect"] == pytest.approx(4.0)  # largest T only
    assert table.loc["mem", "verdict"] == "reproduced" and table.loc["mem", "tasks"] == "benchmark"
    slow = speed_csv(tmp_path / "slow.csv", (0.5, 0.45, 0.55), (0.4, 0.38, 0.42))
    assert claims_table(records(runs), claims[:1], speed_csv=slow).iloc[0]["verdict"] == \
        "contradicted"
    close = speed_csv(tmp_path / "close.csv", (0.4, 0.3, 0.5), (0.4, 0.35, 0.45))
    assert claims_table(records(runs), claims[:1], speed_csv=close).iloc[0]["verdict"] == \
        "inconclusive"
    missing = claims_table(records(runs), claims[:1]).iloc[0]
    assert missing["verdict"] == "inconclusive" and "not measured" in missing["reading"]
    bad = tmp_path / "bad.csv"
    bad.write_text("device,system\nx,y\n")
    with pytest.raises(ValueError, match="bad.csv lacks the column"):
        claims_table(records(runs), claims[:1], speed_csv=bad)


def test_bad_claims_named():
    with pytest.raises(ClaimError, match="test: 'bigger' is not one of"):
        check_claim(claim("x", "bigger", ["a", "b"]))
    with pytest.raises(ClaimError, match="needs exactly 2 variants"):
        check_claim(claim("x", "equal", ["a"]))
    with pytest.raises(ClaimError, match="scope 'paper' names the paper's figure"):
        check_claim({"id": "x", "claim": "x", "test": "better", "variants": ["a", "b"]})
    with pytest.raises(ClaimError, match="scope 'ours' tests our reading"):
        check_claim(claim("x", "better", ["a", "b"], scope="ours"))
    with pytest.raises(ClaimError, match="only better/differs claims can be primary"):
        check_claim(claim("x", "equal", ["a", "b"], primary=True))
    with pytest.raises(ClaimError, match="no seed has runs of both 'a' and 'zzz'"):
        claims_table(records([run("t", "a", 0, np.ones(N_TEST, bool))]),
                     [claim("x", "better", ["a", "zzz"])])


def test_scope_ours_shows_no_paper_figure(runs):
    row = claims_table(records(runs), [{"id": "q", "claim": "our question", "scope": "ours",
                                        "test": "differs", "variants": ["good", "base"]}])
    assert row.iloc[0]["paper"] == "ours" and row.iloc[0]["scope"] == "ours"


def test_files_and_cli(runs, tmp_path):
    paths = []
    for r in runs:
        r = {**r, "data_note": "generated recall (not LRA)"}
        p = tmp_path / "runs" / r["task"] / r["variant"] / f"seed{r['seed']}" / "metrics.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps(r))
        paths.append(p)
    claims = [claim("up", "better", ["good", "base"])]
    files = write_claims(paths, claims, tmp_path / "out", settings={"margin": 5.0})
    table = pd.read_csv(files["csv"])
    assert table.loc[0, "verdict"] == "reproduced" and table.loc[0, "margin"] == 5.0
    assert list(table.columns) == COLUMNS
    md = files["md"].read_text()
    assert "**reproduced**" in md
    assert "classify from" not in md  # no recurrent preset in these runs
    assert "| up | x | recall |" in md  # the tasks column
    assert "Data: recall: generated recall (not LRA)." in md
    assert md.count("Holm-adjusted within its family") == 1  # the rule said once
    cfile = tmp_path / "claims.json"
    cfile.write_text(json.dumps({"claims": claims, "statistics": {"margin": 5.0}}))
    assert analysis_main(["claims", "--metrics", *map(str, paths), "--claims", str(cfile),
                          "--out-dir", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "claims.md").read_text() == md
    cfile.write_text(json.dumps(claims))  # the plain list: the default statistics
    assert analysis_main(["claims", "--metrics", *map(str, paths), "--claims", str(cfile),
                          "--out-dir", str(tmp_path / "cli2")]) == 0
    assert pd.read_csv(tmp_path / "cli2" / "claims.csv").loc[0, "margin"] == 3.0
    assert len(read_runs(paths)) == len(runs)


def test_missing_metrics_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="run its training job first"):
        read_runs([tmp_path / "nope.json"])


def test_report_shows_the_scorecard(runs, tmp_path):
    from report.page import ReportInputs, write_report

    paths = []
    for r in runs:
        p = tmp_path / f"{r['variant']}{r['seed']}.json"
        p.write_text(json.dumps(r))
        paths.append(p)
    results = tmp_path / "results"
    files = write_claims(paths, [claim("up", "better", ["good", "base"], claim="RF helps")],
                         results)
    page = parse_page(write_report(ReportInputs(claims=files["csv"]),
                                   tmp_path / "report.html").read_text())
    assert "The paper's claims at this scale" in page.text
    assert "RF helps" in page.cells and "reproduced" in page.cells


def test_readout_note_says_what_recurrent_models_read():
    from analysis.claims import readout_note

    mem, both, tr = records([run_metrics(preset="rmaat", spec={"model": {"readout": "memory"}}),
                             run_metrics(preset="rmt", spec={"model": {"readout": "both"}}),
                             run_metrics(preset="transformer", spec={"model": {}})])
    assert "memory only" in readout_note([mem, tr])
    assert readout_note([mem, both]) == "Recurrent models classify from: both, memory (readout)."
    assert readout_note([tr]) == ""
