"""The report in a real browser (`python -m report.check`): headless Chromium renders the page
at 1280 x 900 and the check fails on horizontal overflow or a broken image. Skipped where no
Chromium is installed (Debian: apt-get install chromium; .ci/run installs it as root)."""

from __future__ import annotations

import pytest

from report.check import HEIGHT, WIDTH, check_page, find_browser
from report.check import main as check_main
from report.page import ReportInputs, write_report
from tests.drawn import assert_drawn
from tests.report_fixtures import (
    write_claims_csv,
    write_dose,
    write_factor_runs,
    write_run_tables,
)

pytestmark = pytest.mark.skipif(
    find_browser() is None,
    reason="no Chromium (apt-get install chromium; .ci/run installs it when run as root)")

#: A 1x1 PNG that decodes, and bytes that do not.
GOOD_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGA"
            "hKmMIQAAAABJRU5ErkJggg==")
BROKEN_PNG = "iVBORw0KGgoAAAANSUhEUg=="


def _page(tmp_path, body: str, name: str = "page.html"):
    path = tmp_path / name
    path.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
                    "body{max-width:800px;margin:0 auto;padding:0 1em}"
                    ".scroll{overflow-x:auto}</style></head><body>"
                    f"<h1>test</h1>{body}</body></html>")
    return path


def test_a_report_of_every_input_passes_and_its_first_screen_is_drawn(tmp_path, capsys):
    """14 variants (the accuracy table that ran off the page), claims, dose-response, the
    retention factors of two tasks."""
    runs = write_run_tables(tmp_path, variants=14)
    factors = [*write_factor_runs(tmp_path / "f1", "majority"),
               *write_factor_runs(tmp_path / "f2", "recall")]
    page = write_report(ReportInputs(claims=write_claims_csv(tmp_path / "claims.csv"),
                                     dose_response=write_dose(tmp_path),
                                     accuracy=runs["accuracy"], runs=runs["runs"],
                                     metrics=[*runs["metrics"], *factors]),
                       tmp_path / "report.html")
    shot = tmp_path / "first-screen.png"
    assert check_main([str(page), "--screenshot", str(shot)]) == 0, capsys.readouterr().err
    assert "nothing overflows" in capsys.readouterr().out
    image = assert_drawn(shot, min_side=800)
    assert image.shape[:2] == (HEIGHT, WIDTH)


def test_overflow_and_broken_images_are_caught_and_named(tmp_path, capsys):
    # variant names do not wrap: 15 columns of them ran off the old page
    wide = "<table><tr>" + "".join(f"<th>rmaat_variant_{i:02d}</th>"
                                   for i in range(15)) + "</tr></table>"
    page = _page(tmp_path, f"<section id='accuracy'>{wide}</section>"
                 f"<p><img alt='the broken one' src='data:image/png;base64,{BROKEN_PNG}'>"
                 f"<img alt='a good one' src='data:image/png;base64,{GOOD_PNG}'></p>")
    assert check_main([str(page)]) == 1
    err = capsys.readouterr().err
    assert "page: " in err  # the window scrolls sideways
    assert "element table in section #accuracy" in err
    assert 'broken image img ("the broken one")' in err and "a good one" not in err


def test_an_element_past_the_column_is_caught_even_when_the_window_is_wide_enough(tmp_path):
    page = _page(tmp_path, "<div id='wide' style='width:1000px'>text</div>")
    problems = check_page(page)["problems"]
    assert len(problems) == 1 and problems[0].startswith("element div#wide")


def test_a_wide_table_in_a_scroll_box_passes_and_closed_details_are_checked(tmp_path):
    wide = "<table><tr>" + "".join(f"<td>column_{i:02d}</td>" for i in range(40)) + "</tr></table>"
    assert check_page(_page(tmp_path, f"<div class='scroll'>{wide}</div>"))["problems"] == []
    hidden = _page(tmp_path, f"<details><summary>more</summary>{wide}</details>", "d.html")
    assert any(p.startswith("element table") for p in check_page(hidden)["problems"])


def test_a_missing_page_is_bad_input(tmp_path, capsys):
    assert check_main([str(tmp_path / "none.html")]) == 2
    assert "no such page" in capsys.readouterr().err
