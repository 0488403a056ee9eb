"""The report leads with the answer: a summary (verdicts, headline effect with its interval,
what the run can and cannot show), a table of contents, the claims as a forest plot next to
their table in accuracy points, the dose-response section, each warning once, wide tables
split or in a scroll box, compact embedded figures. Built from synthetic files in the layout
of the analysis outputs (tests/report_fixtures.py); the page is parsed, never searched."""

from __future__ import annotations

import io
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from report.__main__ import main as report_main
from report.page import ReportInputs, claims_section, write_report
from tests.htmlpage import parse_page
from tests.report_fixtures import (
    CLAIMS,
    DOSE,
    write_claims_csv,
    write_dose,
    write_run_tables,
)

#: A claims.csv as `python -m analysis claims` wrote it before the contract of issue 24:
#: accuracy effects as fractions, the test described in words in every row.
LEGACY = [{"id": "rf_helps", "claim": "retention factor helps", "paper": "80.5 -> 83.2",
           "ours": "rmaat 6.2 (1 run) vs rmaat_no_rf 3.1 (1 run)", "n": 1,
           "test": "one-sided paired t-test over (task, seed) + paired bootstrap (2000)",
           "effect": 0.03125, "ci_low": 0.0, "ci_high": 0.09375, "p_value": float("nan"),
           "verdict": "inconclusive", "tasks": "listops", "note": ""},
          {"id": "ordering", "claim": "RMAAT above Transformer", "paper": "68.0 vs 54.4",
           "ours": "rmaat 31.6 vs transformer 30.6", "n": 3,
           "test": "one-sided paired t-test over (task, seed) + paired bootstrap (2000)",
           "effect": 0.0104, "ci_low": -0.0208, "ci_high": 0.0625, "p_value": 0.21,
           "verdict": "inconclusive", "tasks": "listops, recall", "note": ""},
          {"id": "speed", "claim": "faster than RMT", "paper": "1.5x",
           "ours": "rmaat / rmt tokens/s = 1.31× (geometric mean)", "n": 3,
           "test": "one-sided paired t-test of log(tokens/s ratio) over (task, seed); 95 % CI "
                   "of the ratio", "effect": 1.31, "ci_low": 1.2, "ci_high": 1.43,
           "p_value": 0.01, "verdict": "reproduced", "tasks": "listops", "note": ""}]


@pytest.fixture
def full_page(tmp_path):
    """A report of every synthetic input: claims, dose-response, 14 variants x 2 tasks."""
    runs = write_run_tables(tmp_path, variants=14)
    inputs = ReportInputs(claims=write_claims_csv(tmp_path / "claims.csv"),
                          dose_response=write_dose(tmp_path), accuracy=runs["accuracy"],
                          runs=runs["runs"], metrics=runs["metrics"])
    return parse_page(write_report(inputs, tmp_path / "report.html").read_text())


def _summary(page) -> str:
    """The summary's text, with the space the parser puts between text nodes taken out
    before punctuation (a bold label followed by ": ...")."""
    return re.sub(r"\s+([:;,.)])", r"\1", page.text[:page.text.index("Contents")])


def _row(page, first_cell: str) -> list[str]:
    return next(r for r in page.rows if r and r[0] == first_cell)


def test_summary_and_contents_come_first_and_every_link_lands(full_page):
    h2 = [text for tag, text in full_page.headings if tag == "h2"]
    assert h2[0] == "Summary"
    assert h2[1] == "The paper's claims at this scale"  # the answer before the biology
    assert h2.index("Accuracy") < h2.index("Training curves")
    contents = full_page.text.index("Contents")
    summary = full_page.text[:contents]
    for claim in CLAIMS:  # every verdict at a glance, above the contents
        assert claim["claim"] in summary
    assert summary.index("RF schedule beats a flat 1/T") < summary.index("AMRB gives BPTT")
    anchors = [link[1:] for link in full_page.links if link.startswith("#")]
    assert set(anchors) >= {"claims", "dose-response", "accuracy", "curves"}
    assert all(anchor in full_page.ids for anchor in anchors)  # no link to nowhere
    assert len(full_page.ids) == len(set(full_page.ids))


def test_summary_gives_the_headline_effect_and_what_the_run_cannot_show(full_page):
    text = _summary(full_page)
    # the primary contrasts in points with their CI, seeds, MDE and margin
    assert "rmaat vs rmaat_flat: +0.9 points [-0.8, +2.6] (95 % CI); 24 seeds, MDE 2.5 " \
           "points, margin ±1.0 → inconclusive" in text
    assert "rmaat vs rmaat_no_rf: +3.4 points [+1.9, +4.9]" in text
    # underpowered rows, by how much, and the seeds that would do; the single-seed row
    assert "the MDE exceeds the ±1.0 equivalence margin" in text
    assert "rf_vs_flat 2.5× (MDE 2.5 points; 150 seeds would reach the margin" in text
    # decided rows (ordering: contradicted, amrb_equal: equivalent) are not underpowered
    assert "ordering 1.8×" not in text and "amrb_equal" not in text.split("Underpowered")[1]
    assert "one_seed: one seed, so no interval and no test." in text
    # from the runs' data notes and devices
    assert "Every task is generated, not the LRA benchmark (majority, recall" in text
    assert "Reduced scale on CPU" in text
    assert "Effects of 2.0–2.5 points or more on the primary contrasts" in text
    assert "Longer τ_LTP, higher accuracy" in text  # the dose-response reading


def test_claims_table_in_points_with_the_contract_columns(full_page):
    head = _row(full_page, "claim")
    assert head == ["claim", "effect [95 % CI]", "p (Holm)", "MDE", "margin", "verdict",
                    "reading"]
    assert _row(full_page, "retention factor helps")[:6] == [
        "retention factor helps", "+3.4 [+1.9, +4.9]", "0.0004", "2.0", "±1.0", "reproduced"]
    assert _row(full_page, "RMAAT trains faster than RMT")[1] == "1.31× [1.20×, 1.43×]"
    assert _row(full_page, "learned RF helps")[1:4] == ["+1.5", "—", "—"]
    # primary rows first, under their own heading
    claims_rows = [r[0] for r in full_page.rows if r and r[0] in
                   {c["claim"] for c in CLAIMS} | {"Primary contrasts (pre-registered)"}]
    assert claims_rows[:3] == ["Primary contrasts (pre-registered)",
                               "RF schedule beats a flat 1/T", "retention factor helps"]
    # the rest of each row in the second table (closed details)
    assert _row(full_page, "rf_vs_flat")[:3] == ["rf_vs_flat", "—", "ours"]


def test_test_and_verdict_words_are_said_once(full_page):
    from report.claims import TEST_WORDS, VERDICT_WORDS

    for words in (TEST_WORDS["better"], TEST_WORDS["faster"], VERDICT_WORDS["equivalent"]):
        assert full_page.text.count(words) == 1
    assert TEST_WORDS["differs"] not in full_page.text  # no such claim: not described


def test_a_claims_file_in_fractions_is_shown_in_points_and_its_test_once(tmp_path):
    """claims.csv written before the unit column: fractions become points, the repeated test
    description is said once (it was in every row: defects of the old page)."""
    path = tmp_path / "claims.csv"
    pd.DataFrame(LEGACY).to_csv(path, index=False)
    page = parse_page(write_report(ReportInputs(claims=path), tmp_path / "r.html").read_text())
    # no MDE, margin or reading in such a file: no empty columns; p is not Holm-adjusted
    assert _row(page, "claim") == ["claim", "effect [95 % CI]", "p", "verdict"]
    assert _row(page, "retention factor helps")[1] == "+3.1 [+0.0, +9.4]"
    assert _row(page, "RMAAT above Transformer")[1] == "+1.0 [-2.1, +6.2]"
    assert _row(page, "faster than RMT")[1] == "1.31× [1.20×, 1.43×]"  # a ratio stays one
    assert page.text.count(LEGACY[0]["test"]) == 1
    assert "rf_helps, ordering: " + LEGACY[0]["test"] in page.text


def test_forest_plot_draws_points_and_ratios_apart(tmp_path, monkeypatch):
    from report import forest
    from report.claims import read_claims

    drawn = []
    monkeypatch.setattr(forest, "fig_img", lambda fig, alt: drawn.append(fig) or "<img>")
    assert forest.forest_plot(read_claims(write_claims_csv(tmp_path / "c.csv"))) == "<img>"
    points_ax, ratio_ax = drawn[0].axes
    labels = [t.get_text() for t in points_ax.get_yticklabels()]
    assert labels[0] == "RF schedule beats a flat 1/T ★" and len(labels) == 5
    assert [t.get_text() for t in ratio_ax.get_yticklabels()] == [
        "RMAAT trains faster than RMT", "AMRB needs less memory than BPTT"]
    assert ratio_ax.get_xscale() == "log" and points_ax.get_xscale() == "linear"
    # a margin band per accuracy row, the verdict written at the right of every row
    assert len(points_ax.patches) == 5
    words = [t.get_text() for t in points_ax.texts]
    assert words == [c["verdict"] for c in CLAIMS if c["unit"] == "points"]
    lo, hi = points_ax.get_xlim()
    assert lo < -3.5 and hi > 4.9  # every interval inside the panel
    plt.close(drawn[0])


def test_forest_plot_sits_above_the_claims_table(tmp_path):
    html = claims_section(ReportInputs(claims=write_claims_csv(tmp_path / "c.csv")))
    assert 'alt="forest plot of the claims' in html
    assert html.index('alt="forest plot of the claims') < html.index('<table class="claims"')


def test_dose_response_section(tmp_path, full_page):
    assert ("h2", "Dose-response: biology → accuracy") in full_page.headings
    assert "Longer τ_LTP, higher accuracy: +1.0 points per doubling." in full_page.text
    assert ("Trend (paired regression of accuracy on log2 τ_LTP over seeds): +1.1 points per "
            "doubling of τ_LTP [+0.4, +1.7] (95 % CI), p = 0.004, 8 seeds.") in full_page.text
    assert "dose-response: test accuracy against tau_LTP" in full_page.attributes
    flat = next(r for r in full_page.rows if r[:2] == ["flat", "majority"])
    assert flat[4] == "∞" and flat[7] == "60.1 [58.9, 61.3]"
    assert sum(1 for r in full_page.rows if r and r[0] == "dose") == 4


def test_dose_response_files_are_checked_and_passed_on_the_command_line(tmp_path):
    csv, js = write_dose(tmp_path)
    out = tmp_path / "r.html"
    assert report_main(["--out", str(out), "--dose-response", str(csv), str(js)]) == 0
    assert "Dose-response: biology → accuracy" in parse_page(out.read_text()).text
    pd.DataFrame(DOSE).drop(columns=["acc_mean"]).to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"dose_response.csv: .*missing column\(s\) acc_mean"):
        write_report(ReportInputs(dose_response=[csv, js]), out)
    assert report_main(["--out", str(out), "--dose-response", str(js)]) == 2  # no table


def test_wide_accuracy_table_is_split_and_keeps_every_variant(full_page):
    heads = [r for r in full_page.rows if r and r[0] == "task (test accuracy %)"]
    assert len(heads) == 3 and all(len(h) <= 8 for h in heads)
    variants = [c for h in heads for c in h[2:]]
    assert variants == ["rmaat", *[f"variant_{v:02d}" for v in range(1, 14)]]
    assert all(h[1] == "majority class" for h in heads)


def test_a_sweep_point_shows_each_warning_once(tmp_path):
    """A point's reason is one of its warnings: the row said it twice (old page)."""
    sweep = tmp_path / "sweeps" / "coupling"
    sweep.mkdir(parents=True)
    pd.DataFrame({"sweep": ["coupling"], "point": ["p000"], "x [s]": [1.0],
                  "status": ["weak"], "reason": ["rise below 5 %"],
                  "warnings": ["rise below 5 % | fit uncertain"], "model": ["sat_exp"],
                  "r2": [0.9]}).to_csv(sweep / "table.csv", index=False)
    page = parse_page(write_report(ReportInputs(sweep_tables=[sweep / "table.csv"]),
                                   tmp_path / "r.html").read_text())
    assert _row(page, "p000")[-1] == "rise below 5 %; fit uncertain"


def test_embedded_figures_are_palette_pngs_with_the_same_pixels():
    from PIL import Image

    from report.parts import compact_png

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.linspace(0, 1, 50) ** 2, label="curve")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    original = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    small = compact_png(buf.getvalue())
    compact = Image.open(io.BytesIO(small))
    assert compact.mode == "P" and compact.size == original.size
    assert len(small) < 0.7 * len(buf.getvalue())
    diff = np.abs(np.asarray(compact.convert("RGB"), float) - np.asarray(original, float))
    assert diff.mean() < 2.0  # of 255: the same picture
    assert compact_png(b"not a png") == b"not a png"


def test_summary_without_claims_says_so(tmp_path):
    page = parse_page(write_report(ReportInputs(), tmp_path / "r.html").read_text())
    assert page.headings[1] == ("h2", "Summary")
    assert "No claims in this configuration (experiment.claims)." in page.text


def test_dose_summary_json_must_be_an_object(tmp_path):
    csv, js = write_dose(tmp_path)
    js.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="dose_response.json: expected a JSON object"):
        write_report(ReportInputs(dose_response=[csv, js]), tmp_path / "r.html")
