"""The MDE-against-run-time table: MDEs from analysis.stats at the primary rows' SD and Holm
family, run time projected from the run's own training cost."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import stats
from analysis.__main__ import main as analysis_main
from analysis.claims import COLUMNS
from analysis.tradeoff import markdown, tradeoff


def claims_table() -> pd.DataFrame:
    rows = [{"id": "bio_vs_flat", "primary": True, "unit": "points", "pair": "rmaat > rmaat_flat",
             "n": 20, "sd": 5.0},
            {"id": "rf_scalar", "primary": True, "unit": "points", "pair": "rmaat > rmaat_no_rf",
             "n": 20, "sd": 8.0},
            {"id": "ordering", "primary": False, "unit": "points", "pair": "rmaat > rmt",
             "n": 3, "sd": 9.0},
            {"id": "speed", "primary": False, "unit": "ratio", "pair": "", "n": 3, "sd": None}]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_mde_and_projected_time_per_seed_count():
    table = tradeoff(claims_table(), job_wall_s=16.0, run_wall_s=1800.0, cores=2,
                     seeds=[10, 40])
    assert set(table["id"]) == {"bio_vs_flat", "rf_scalar"}  # primary rows only
    row = table[(table["id"] == "bio_vs_flat") & (table["seeds"] == 40)].iloc[0]
    assert row["mde"] == pytest.approx(stats.mde(5.0, 40, family_size=2))
    # 3 arms (rmaat, rmaat_flat, rmaat_no_rf) x 20 more seeds x 16 s / 2 cores
    assert row["extra_runs"] == 60 and row["projected_wall_s"] == pytest.approx(1800 + 480)
    now = table[(table["seeds"] == 20)]
    assert now["measured"].all() and (now["projected_wall_s"] == 1800.0).all()
    assert table[table["seeds"] == 10]["projected_wall_s"].iloc[0] == pytest.approx(1560.0)
    text = markdown(table)
    assert "| 20 | " in text and "1,800 (this run, measured)" in text


def test_cli_reads_the_run_files_and_names_what_is_missing(tmp_path, capsys):
    claims_table().to_csv(tmp_path / "claims.csv", index=False)
    bench = tmp_path / "train"
    for variant, wall in (("rmaat", 10.0), ("rmaat_flat", 20.0), ("rmaat_no_rf", 30.0)):
        folder = bench / "majority" / variant
        folder.mkdir(parents=True)
        (folder / "seed0.tsv").write_text(f"s\th:m:s\n{wall}\t0:00:10\n")
    logs = tmp_path / "log"
    logs.mkdir()
    args = ["tradeoff", "--claims", str(tmp_path / "claims.csv"), "--train-benchmarks",
            str(bench), "--log-dir", str(logs), "--seeds", "30", "--cores", "2",
            "--out", str(tmp_path / "t.csv")]
    assert analysis_main(args) == 2
    assert "no finished Snakemake log" in capsys.readouterr().err
    (logs / "a.snakemake.log").write_text("[Mon Dec  7 11:00:00 2026]\n"
                                          "[Mon Dec  7 11:30:00 2026]\n9 of 9 steps (100%) done\n")
    assert analysis_main(args) == 0
    table = pd.read_csv(tmp_path / "t.csv")
    # mean training job 20 s; 10 more seeds x 3 arms x 20 s / 2 cores = 300 s
    assert table[table["seeds"] == 30]["projected_wall_s"].iloc[0] == pytest.approx(2100.0)
