"""The claims scorecard from hand-built metrics: verdicts, numbers and the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.__main__ import main as analysis_main
from analysis.claims import (
    ClaimError,
    check_claim,
    claims_table,
    paired_bootstrap,
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


def test_reproduced_contradicted_inconclusive(runs):
    table = claims_table(records(runs), [claim("up", "better", ["good", "base"]),
                                claim("down", "better", ["base", "good"]),
                                claim("flat", "better", ["noisy", "base"])]).set_index("id")
    assert table.loc["up", "verdict"] == "reproduced"
    assert table.loc["down", "verdict"] == "contradicted"
    assert table.loc["flat", "verdict"] == "inconclusive"
    assert table.loc["up", "ci_low"] > 0 and table.loc["down", "ci_high"] < 0
    assert table.loc["up", "n"] == 4


def test_numbers_recompute_from_metrics(runs):
    table = claims_table(records(runs), [claim("up", "better", ["good", "base"])]).iloc[0]
    good = np.array([r["test_acc"] for r in runs if r["variant"] == "good"])
    base = np.array([r["test_acc"] for r in runs if r["variant"] == "base"])
    assert table["effect"] == pytest.approx((good - base).mean())
    from scipy.stats import ttest_rel

    assert table["p_value"] == pytest.approx(ttest_rel(good, base, alternative="greater").pvalue)
    assert (f"good {100 * good.mean():.1f} ± {100 * good.std(ddof=1):.1f} (n=4)"
            in table["ours"])


def test_one_run_has_no_spread(runs):
    one = [r for r in runs if r["seed"] == 0]
    table = claims_table(records(one), [claim("up", "better", ["good", "base"])])
    ours = table.iloc[0]["ours"]
    good = next(r["test_acc"] for r in one if r["variant"] == "good")
    assert f"good {100 * good:.1f} (1 run)" in ours and "±" not in ours


def test_ordering_needs_every_pair(runs):
    table = claims_table(records(runs), [claim("order", "better", ["good", "base", "noisy"]),
                                claim("wrong", "better", ["base", "good", "noisy"])])
    assert list(table["verdict"]) == ["inconclusive", "contradicted"]
    assert "good > base: reproduced" in table.iloc[0]["note"]


def test_equal_and_differs(runs):
    table = claims_table(records(runs), [claim("same", "equal", ["base", "twin"]),
                                claim("notsame", "equal", ["base", "noisy"]),
                                claim("diff", "differs", ["base", "good"])]).set_index("id")
    assert table.loc["same", "verdict"] == "reproduced"
    assert table.loc["notsame", "verdict"] == "contradicted"
    assert table.loc["diff", "verdict"] == "reproduced"


def test_faster_and_memory(runs, tmp_path):
    csv = tmp_path / "memory.csv"
    pd.DataFrame({"driver": ["bptt", "amrb", "bptt", "amrb"], "segments": [4, 4, 16, 16],
                  "peak_mb": [50.0, 40.0, 400.0, 100.0]}).to_csv(csv, index=False)
    table = claims_table(records(runs), [claim("speed", "faster", ["good", "base"]),
                                claim("slow", "faster", ["twin", "noisy"]),
                                claim("mem", "memory", [])], memory_csv=csv).set_index("id")
    assert table.loc["speed", "verdict"] == "reproduced"
    assert table.loc["speed", "effect"] == pytest.approx(
        np.exp(np.mean([np.log((1600 + s) / (1000 + s)) for s in range(4)])))
    assert table.loc["slow", "verdict"] == "contradicted"  # 900 vs 1000 tokens/s every seed
    assert table.loc["mem", "effect"] == pytest.approx(4.0)  # largest T only
    assert table.loc["mem", "verdict"] == "reproduced" and table.loc["mem", "tasks"] == "benchmark"


def test_bootstrap_centres_on_mean_difference():
    diffs = [np.r_[np.ones(30), np.zeros(70)], np.r_[np.ones(10), np.zeros(90)]]
    boot = paired_bootstrap(diffs, resamples=4000)
    assert boot.mean() == pytest.approx(0.2, abs=0.02)
    assert boot.min() >= 0.0


def test_bad_claims_named():
    with pytest.raises(ClaimError, match="test: 'bigger' is not one of"):
        check_claim(claim("x", "bigger", ["a", "b"]))
    with pytest.raises(ClaimError, match="needs exactly 2 variants"):
        check_claim(claim("x", "equal", ["a"]))
    with pytest.raises(ClaimError, match="no \\(task, seed\\) has runs of both 'a' and 'zzz'"):
        claims_table(records([run("t", "a", 0, np.ones(N_TEST, bool))]),
                     [claim("x", "better", ["a", "zzz"])])


def test_files_and_cli(runs, tmp_path):
    paths = []
    for r in runs:
        r = {**r, "data_note": "generated recall (not LRA)"}
        p = tmp_path / "runs" / r["task"] / r["variant"] / f"seed{r['seed']}" / "metrics.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps(r))
        paths.append(p)
    claims = [claim("up", "better", ["good", "base"])]
    files = write_claims(paths, claims, tmp_path / "out")
    assert pd.read_csv(files["csv"]).loc[0, "verdict"] == "reproduced"
    assert "**reproduced**" in files["md"].read_text()
    md = files["md"].read_text()
    assert "classify from" not in md  # no recurrent preset in these runs
    assert "| up | x | recall |" in md  # the tasks column
    assert "Data: recall: generated recall (not LRA)." in md
    cfile = tmp_path / "claims.json"
    cfile.write_text(json.dumps(claims))
    assert analysis_main(["claims", "--metrics", *map(str, paths), "--claims", str(cfile),
                       "--out-dir", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "claims.md").read_text() == files["md"].read_text()
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
