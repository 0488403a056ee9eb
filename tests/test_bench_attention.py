"""bench_attention's committed markdown copy says where its numbers come from."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import bench_attention as ba

ENV = {"date": "2026-12-04T10:00:00Z", "commit": "abc123", "dirty": "no",
       "device": "CPU (x86_64, 1 thread)", "torch": "2.13.0"}


def rows(n: int, soft: float | str, lin: float, astro: float) -> list[dict]:
    return [{"attention": kind, "tokens": n, "device": "cpu", "fwd_bwd_cpu_s": t}
            for kind, t in zip(ba.KINDS, (soft, lin, astro), strict=True)]


def table(text: str) -> list[list[str]]:
    """The cells of the markdown table's body."""
    body = [line for line in text.splitlines() if line.startswith("| ")][1:]
    return [[c.strip() for c in line.strip("|").split("|")] for line in body]


def test_markdown_names_command_date_commit_and_device():
    text = ba.markdown_report(rows(8192, 2.5, 0.066, 0.0615),
                              "python -m benchmarks.bench_attention --lengths 8192", ENV)
    head = text.split("\n\n")[1]
    for part in ("`python -m benchmarks.bench_attention --lengths 8192`",
                 "2026-12-04T10:00:00Z", "abc123", "CPU (x86_64, 1 thread)", "torch 2.13.0"):
        assert part in head


def test_markdown_rows_hold_the_measured_seconds_and_their_ratios():
    text = ba.markdown_report(rows(1024, 0.04, 0.01, 0.02) + rows(8192, 2.5, 0.05, 0.0625),
                              "cmd", ENV)
    assert table(text) == [
        ["1,024", "0.0400", "0.0100", "0.0200", "2.00", "2.00"],
        ["8,192", "2.5000", "0.0500", "0.0625", "40.00", "1.25"],
    ]


def test_markdown_marks_a_skipped_softmax():
    text = ba.markdown_report(rows(16384, "skipped", 0.1, 0.12), "cmd", ENV)
    assert table(text) == [["16,384", "skipped", "0.1000", "0.1200", "-", "1.20"]]


@pytest.mark.usefixtures("one_torch_thread")
def test_main_writes_the_markdown_next_to_the_csv(tmp_path: Path):
    md = tmp_path / "measured" / "attention.md"
    ba.main(["--lengths", "32", "64", "--heads", "1", "--head-dim", "4", "--repeats", "1",
             "--out", str(tmp_path / "out"), "--markdown", str(md)])
    text = md.read_text(encoding="utf-8")
    assert "`python -m benchmarks.bench_attention --lengths 32 64 --heads 1" in text
    assert [r[0] for r in table(text)] == ["32", "64"]
    assert "of shape [1, 1, N, 4]" in text
    assert (tmp_path / "out" / "attention.csv").is_file()
