"""The report shows the retention factors the models applied: each variant's final RF(t, T)
next to the biological schedule, a table of the mean line's numbers and a caption written
from them; runs without factors (no RF, older files) are left out, and so is the section when
no run has factors. Pages are parsed, never searched (tests/htmlpage.py)."""

from __future__ import annotations

import json

import pytest

from analysis.runs import read_runs
from report.factors import caption, factor_lines, factors_section
from report.page import ReportInputs, write_report
from tests.conftest import run_metrics
from tests.htmlpage import parse_page
from tests.report_fixtures import BIO4, FACTORS, write_factor_runs, write_run_tables

TITLE = "Retention factors the models used"


def _table(page) -> dict[str, list[str]]:
    """The factors table's rows by variant (its header has an "RF(1, T)" column)."""
    table = next(t for t in page.tables if t and "RF(1, T)" in t[0])
    return {row[0]: row for row in table[1:]} | {"header": table[0]}


def test_the_section_shows_every_variant_with_factors_and_their_numbers(tmp_path):
    page = parse_page(write_report(ReportInputs(metrics=write_factor_runs(tmp_path)),
                                   tmp_path / "r.html").read_text())
    assert ("h2", TITLE) in page.headings and "#factors" in page.links
    assert "retention factors RF(t, T) per segment, final and initial" in page.attributes
    rows = _table(page)
    assert set(rows) == {"header", "rmaat", "rmaat_flat", "rmaat_learned"}  # no RF: left out
    col = {name: i for i, name in enumerate(rows["header"])}
    learned = rows["rmaat_learned"]
    # the mean over the two seeds: RF(1) = 0.38, RF(4) = 0.11; sums 1.02 and 0.96
    assert learned[col["schedule"]] == "learned, rf_lr 0.1"
    assert learned[col["seeds"]] == "2" and learned[col["T"]] == "4"
    assert float(learned[col["RF(1, T)"]]) == pytest.approx(0.38)
    assert float(learned[col["RF(T, T)"]]) == pytest.approx(0.11)
    assert float(learned[col["RF(1, T) / RF(T, T)"]]) == pytest.approx(0.38 / 0.11, rel=1e-3)
    assert float(learned[col["Σ_t RF(t, T)"]]) == pytest.approx(0.99)
    assert float(learned[col["largest change from start"]]) == pytest.approx(0.15)
    bio = rows["rmaat"]
    assert float(bio[col["RF(1, T) / RF(T, T)"]]) == pytest.approx(BIO4[0] / BIO4[3],
                                                                   rel=1e-3)
    assert float(bio[col["largest change from start"]]) == 0
    assert float(rows["rmaat_flat"][col["Σ_t RF(t, T)"]]) == pytest.approx(1.0)


def test_the_caption_is_written_from_the_sums_and_the_changes(tmp_path):
    runs = read_runs(write_factor_runs(tmp_path))
    lines = factor_lines(runs)
    assert [line.variant for line in lines] == ["rmaat", "rmaat_flat", "rmaat_learned"]
    text = caption(lines)
    assert text.startswith("The factors of rmaat (bio), rmaat_flat (flat) sum to 1 over the T "
                           "segments.")
    assert ("Summed over t, those of rmaat_learned (learned, rf_lr 0.1) to 0.96–1.02 (range "
            "over seeds and panels).") in text
    assert "Training changed the factors of rmaat_learned (learned, rf_lr 0.1) by up to 0.15" \
        in text
    # a learned schedule that does not sum to 1: the caption says what it sums to, per seed
    final = [0.5, 0.3, 0.2, 0.1]
    path = tmp_path / "lone.json"
    path.write_text(json.dumps(run_metrics(
        variant="lone", spec={"task": "recall", "preset": "rmaat",
                              "model": {"rf_schedule": "learned"}, "rf_lr": 0.5},
        rf_factors_final=final, rf_factors_initial=[0.25] * 4)))
    lone = factor_lines(read_runs([path]))
    assert lone[0].seeds_differ is False
    assert "those of lone (learned, rf_lr 0.5) to 1.1 (range" in caption(lone)
    assert "sum to 1 over" not in caption(lone)


def test_seed_bands_and_start_lines_only_where_they_differ(tmp_path):
    lines = {line.variant: line for line in factor_lines(read_runs(write_factor_runs(tmp_path)))}
    assert lines["rmaat_learned"].seeds_differ and not lines["rmaat"].seeds_differ
    assert lines["rmaat_learned"].moved > 0 and lines["rmaat_flat"].moved == 0
    assert lines["rmaat_learned"].mean.tolist() == pytest.approx(
        [(a + b) / 2 for a, b in zip(*(FACTORS["rmaat_learned", "learned"][s][0]
                                        for s in (0, 1)), strict=True)])


def test_one_panel_per_task_and_T(tmp_path):
    paths = write_factor_runs(tmp_path / "a", task="majority")
    paths += write_factor_runs(tmp_path / "b", task="recall")
    lines = factor_lines(read_runs(paths))
    assert sorted({(line.task, line.T) for line in lines}) == [("majority", 4), ("recall", 4)]
    page = parse_page(factors_section(ReportInputs(metrics=paths)))
    rows = [r for t in page.tables for r in t[1:]]
    assert len(rows) == 6 and {r[2] for r in rows} == {"majority", "recall"}


def test_without_factors_the_section_is_left_out(tmp_path):
    """Runs written before the factors were recorded (and runs without RF) read, and the page
    has no empty figure for them."""
    runs = write_run_tables(tmp_path, variants=2)  # older files: no rf_factors keys
    assert all(r.rf_factors_final is None for r in read_runs(runs["metrics"]))
    assert factors_section(ReportInputs(metrics=runs["metrics"])) == ""
    page = parse_page(write_report(ReportInputs(metrics=runs["metrics"], runs=runs["runs"],
                                                accuracy=runs["accuracy"]),
                                   tmp_path / "r.html").read_text())
    assert ("h2", TITLE) not in page.headings and "#factors" not in page.links
    assert factors_section(ReportInputs()) == ""


def test_a_variant_name_with_dollars_is_drawn_as_written(tmp_path):
    """Legend text goes through pipeline.plot_text.literal: "$\\frac{$" would stop matplotlib's
    mathtext parser."""
    path = tmp_path / "m.json"
    path.write_text(json.dumps(run_metrics(variant="$\\frac{$", rf_factors_final=BIO4,
                                           rf_factors_initial=BIO4)))
    page = parse_page(factors_section(ReportInputs(metrics=[path])))
    assert _table(page)["$\\frac{$"][1] == "bio"
