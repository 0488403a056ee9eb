"""The results snapshot: docs/results.md, its JSON and the README block are generated from a
run's files, and the README says exactly what docs/results.json says."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from analysis.__main__ import main as analysis_main
from analysis.claims import COLUMNS
from analysis.snapshot import BEGIN, END, readme_block, replace_block

REPO = Path(__file__).resolve().parents[1]


def claims_csv(path: Path) -> Path:
    """A claims.csv of two rows: a reproduced primary contrast, an inconclusive secondary."""
    rows = [
        {"id": "bio_vs_flat", "claim": "biological schedule beats flat", "scope": "ours",
         "primary": True, "family": "primary", "tasks": "majority", "test": "better",
         "n": 20, "effect": 4.25, "unit": "points", "sd": 3.0, "ci_low": 2.85,
         "ci_high": 5.65, "p_value": 0.00001, "p_adjusted": 0.00002, "margin": 3.0,
         "mde": 2.1, "verdict": "reproduced", "reading": "rmaat is 4.2 points better"},
        {"id": "ordering", "claim": "RMAAT above Transformer", "paper": "68.0 vs 54.4",
         "scope": "paper", "primary": False, "family": "secondary", "tasks": "majority",
         "test": "better", "n": 3, "effect": -1.5, "unit": "points", "sd": 5.0,
         "ci_low": -13.9, "ci_high": 10.9, "p_value": 0.65, "p_adjusted": 0.65,
         "margin": 3.0, "mde": 14.2, "verdict": "inconclusive", "reading": ""},
    ]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False)
    return path


def dose_files(folder: Path) -> tuple[Path, Path]:
    table = pd.DataFrame([
        {"kind": "dose", "parameter": "constants.tau_pl", "value": "2 s",
         "tau_ltp_segments": 2.0, "rf_ratio": 5.0, "seeds": 5, "acc_mean": 60.0,
         "ci_low": 58.0, "ci_high": 62.0},
        {"kind": "flat", "parameter": "", "value": "", "tau_ltp_segments": float("inf"),
         "rf_ratio": 1.0, "seeds": 20, "acc_mean": 61.0, "ci_low": 60.0, "ci_high": 62.0}])
    table.to_csv(folder / "dose.csv", index=False)
    (folder / "dose.json").write_text(json.dumps({
        "parameter": "constants.tau_pl", "task": "majority", "segments": 8,
        "trend": {"slope": 0.1}, "reading": "No trend is detected: +0.10 points per doubling"}))
    return folder / "dose.csv", folder / "dose.json"


def test_snapshot_writes_results_and_the_readme_block_from_the_numbers(tmp_path):
    claims = claims_csv(tmp_path / "claims.csv")
    dose_csv, dose_json = dose_files(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{BEGIN}\nold words\n{END}\n\nrest\n")
    config = tmp_path / "config.yaml"
    config.write_text("seed: 1\n")
    assert analysis_main(["snapshot", "--claims", str(claims), "--accuracy", "",
                          "--dose-csv", str(dose_csv), "--dose-json", str(dose_json),
                          "--sensitivity", "--config", str(config),
                          "--out", str(tmp_path / "results.md"),
                          "--readme", str(readme)]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n") and text.endswith("\n\nrest\n")
    assert "old words" not in text and readme_block(data).strip() in text
    # the sentences carry the numbers of the files, not typed-in ones
    assert "*reproduced*, +4.2 points [+2.9, +5.7], n = 20 seeds, MDE 2.1" in text
    assert "- RMAAT above Transformer: *inconclusive*" in text
    assert "MDE 14.2" not in text  # secondary rows are listed by verdict only
    # only the undecided row is limited by its power
    assert "effect (points: ordering 14.2) could go unseen" in text
    assert "No trend is detected: +0.10 points per doubling." in text
    md = (tmp_path / "results.md").read_text()
    assert md.startswith("# Results of the default run (generated)")
    assert "SHA-256" in md and "| dose | 2 s | 2.0 | 5.0 | 5 | 60.0 |" in md
    assert data["dose"]["table"][1]["tau_ltp_segments"] is None  # inf is not JSON


def test_replace_block_needs_both_markers():
    with pytest.raises(ValueError, match="README has no <!-- results:begin -->"):
        replace_block("# no block\n", "x")
    assert replace_block(f"a {BEGIN} b {END} c", f"{BEGIN}\nnew\n{END}\n") == (
        f"a {BEGIN}\nnew\n{END} c")



def test_run_time_is_read_from_the_newest_finished_snakemake_log(tmp_path):
    from analysis.snapshot import run_time

    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "a.snakemake.log").write_text(
        "[Mon Dec  7 11:23:21 2026]\nrule x:\n[Mon Dec  7 11:54:16 2026]\n"
        "385 of 385 steps (100%) done\n")
    (logs / "b.snakemake.log").write_text(  # newer, but stopped early: not a finished run
        "[Mon Dec  7 12:00:00 2026]\n3 of 385 steps (1%) done\n")
    found = run_time(logs)
    assert found == {"wall_s": 1855.0, "log": "a.snakemake.log", "steps": 385}
    data = {"claims": [], "provenance": {"date": "d", "commit": "c", "cpus": 2},
            "run_time": found}
    assert "(commit c; 1,855 s (30 min 55 s) for 385 steps on 2 CPU cores;" in (
        readme_block(data))
    assert run_time(tmp_path / "none") is None


def test_the_readme_says_what_the_committed_snapshot_says():
    """README.md's results block is readme_block(docs/results.json): a hand edit of either
    (or a snapshot written without its README) fails here; rerun `python -m analysis
    snapshot` after the default run."""
    snapshot = REPO / "docs" / "results.json"
    assert snapshot.is_file(), "docs/results.json missing: run `python -m analysis snapshot`"
    readme = (REPO / "README.md").read_text()
    start, end = readme.find(BEGIN), readme.find(END)
    assert 0 <= start < end, "README.md lacks its generated results block"
    block = readme[start:end + len(END)]
    assert block == readme_block(json.loads(snapshot.read_text())).rstrip("\n")
