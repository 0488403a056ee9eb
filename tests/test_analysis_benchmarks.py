"""Benchmark files the report shows are checked column by column (issue 20.6): a malformed
Snakemake benchmark TSV or benchmark CSV is an error naming the file, never a table of
shifted or missing numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from report.page import ReportInputs, write_report

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
ROW = "20.76\t0:00:20\t181.09\t273.06\t137.06\t139.88\t0.15\t0.10\t12.46\t2.68\n"
MEMORY = "driver,segments,peak_mb,device\nbptt,4,50.0,cpu\namrb,4,40.0,cpu\n"


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "benchmarks" / "rules" / "simulate" / name
    if name.endswith(".csv"):
        path = tmp_path / "benchmarks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _report(tmp_path: Path, *files: Path) -> str:
    return write_report(ReportInputs(benchmarks=list(files)), tmp_path / "r.html").read_text()


def test_well_formed_files_reach_the_page(tmp_path):
    page = _report(tmp_path, _file(tmp_path, "a.tsv", HEADER + ROW),
                   _file(tmp_path, "b.tsv", HEADER + ROW.replace("181.09", "-")),  # not sampled
                   _file(tmp_path, "claims_memory.csv", MEMORY))
    assert "<td>a</td><td>20.76</td><td>181.1</td><td>2.68</td>" in page
    assert "<td>b</td><td>20.76</td><td></td><td>2.68</td>" in page  # "-": no value, no error
    assert "Benchmark: claims_memory.csv" in page and "<td>bptt</td>" in page


@pytest.mark.parametrize(("name", "text", "message"), [
    # a row one field short: the old report showed max_vms (273) as the peak RSS
    ("short.tsv", HEADER + ROW.replace("0:00:20\t", ""), "line 2 has 9 fields, the header 10"),
    ("nowall.tsv", HEADER + ROW.replace("20.76", "-"), "'s' .* not a number"),
    ("header.tsv", HEADER, "no measurement"),
    ("norss.tsv", HEADER.replace("max_rss", "rss") + ROW, "lacks the column\\(s\\) max_rss"),
    ("words.tsv", HEADER + ROW.replace("2.68", "fast"), "'cpu_time' .* not a number"),
    ("empty.tsv", "", "is empty"),
    ("short.csv", MEMORY + "rmt,4\n", "line 4 has 2 fields, the header 4"),
    ("claims_memory.csv", MEMORY.replace("peak_mb", "peak"), "lacks the column\\(s\\) peak_mb"),
    ("memory.csv", MEMORY.replace("50.0", "much"), "'peak_mb' .* not a number"),
])
def test_a_malformed_benchmark_file_is_an_error_naming_it(tmp_path, name, text, message):
    bad = _file(tmp_path, name, text)
    good = _file(tmp_path, "good.tsv", HEADER + ROW)
    with pytest.raises(ValueError, match=message) as info:
        _report(tmp_path, good, bad)
    assert str(bad) in str(info.value)
    assert not (tmp_path / "r.html").exists()


def test_the_claims_read_the_memory_benchmark_through_the_same_check(tmp_path):
    from analysis.claims import claims_table

    bad = _file(tmp_path, "claims_memory.csv", MEMORY + "rmt,4\n")
    claim = {"id": "mem", "claim": "mem", "paper": "x", "test": "memory"}
    with pytest.raises(ValueError, match=f"{bad}.*line 4 has 2 fields"):
        claims_table([], [claim], memory_csv=bad)
    good = _file(tmp_path, "claims_memory.csv", MEMORY)
    assert claims_table([], [claim], memory_csv=good).loc[0, "effect"] == pytest.approx(1.25)
