"""The claims of the paper in the report: ``results/claims.csv`` read once, shown as a table
(one unit per quantity: accuracy effects in points, speed and memory as ratios) next to the
forest plot of ``report/forest.py``; the summary at the top of the page reads the same rows.

The file's columns are those ``python -m analysis claims`` writes (one row per claim: id,
claim, paper, scope, primary, family, tasks, ours, test, pair, n, effect, unit, sd, ci_low,
ci_high, p_value, p_adjusted, p_tost, p_tost_adjusted, margin, mde, seeds_needed,
seeds_for_margin, verdict, reading, note). A file written before the ``unit`` column existed
holds accuracy effects as fractions and a test description in ``test``; it is read into the
same layout (effects × 100, the description kept as ``test_description``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from report.parts import badge, esc, interval, is_number, p_text, points, ratio, scroll

#: Columns a claims table must have (the rest are filled in when an older file lacks them).
REQUIRED = ("id", "claim", "verdict", "effect", "ci_low", "ci_high")
#: Optional columns and the value a row gets when the file has no such column.
DEFAULTS: dict[str, object] = {
    "paper": "—", "scope": "", "primary": False, "family": "", "tasks": "", "ours": "",
    "test": "", "pair": "", "n": np.nan, "unit": "points", "sd": np.nan, "p_value": np.nan,
    "p_adjusted": np.nan, "p_tost": np.nan, "p_tost_adjusted": np.nan, "margin": np.nan,
    "mde": np.nan, "seeds_needed": np.nan, "seeds_for_margin": np.nan, "reading": "",
    "note": "", "test_description": ""}
TEXT = ("id", "claim", "paper", "scope", "family", "tasks", "ours", "test", "pair", "unit",
        "verdict", "reading", "note", "test_description")
#: What each test of a claim asks (said once under the table, for the tests it shows).
TEST_WORDS = {
    "better": "the first variant's test accuracy above the second's, paired by seed",
    "differs": "a difference in test accuracy either way, paired by seed",
    "equal": "the two variants give the same test accuracy (equivalence within ±margin)",
    "faster": "training throughput (tokens/s) of the first over the second, a ratio "
              "(geometric mean over paired runs)",
    "memory": "peak memory of BPTT over AMRB in the memory benchmark, a ratio"}
#: What each verdict word means.
VERDICT_WORDS = {
    "reproduced": "the paper's direction, significant after the Holm adjustment",
    "contradicted": "the opposite direction, significant",
    "equivalent": "the effect lies within ±margin (TOST)",
    "inconclusive": "neither: this run cannot decide"}


def _legacy(table: pd.DataFrame) -> pd.DataFrame:
    """A claims table written before the ``unit`` column: fractions -> points, and the test
    description (then in ``test``) kept apart. Speed and memory rows (ratios) are told by
    their words ("ratio" in the test, "×" in ours, or no benchmark)."""
    table = table.copy()
    desc = table["test"].fillna("").astype(str) if "test" in table else pd.Series(
        "", index=table.index)
    ours = table["ours"].fillna("").astype(str) if "ours" in table else desc
    is_ratio = desc.str.contains("ratio") | ours.str.contains("×") | ours.eq("no benchmark")
    for col in ("effect", "ci_low", "ci_high"):
        table[col] = table[col].astype(float).where(is_ratio, table[col].astype(float) * 100)
    table["unit"] = np.where(is_ratio, "ratio", "points")
    table["test_description"] = desc
    table["test"] = ""
    return table


def read_claims(path: str | Path) -> pd.DataFrame:
    """The claims table of ``path`` in the report's layout: every column of :data:`DEFAULTS`
    present, ``primary`` as bool, text columns as str; primary claims first (else file
    order). Raises ValueError naming the file and the missing columns."""
    path = Path(path)
    table = pd.read_csv(path)
    missing = [c for c in REQUIRED if c not in table]
    if missing:
        raise ValueError(f"{path}: claims table: missing column(s) {', '.join(missing)}; "
                         "write it with `python -m analysis claims`")
    if "unit" not in table:
        table = _legacy(table)
    for col, default in DEFAULTS.items():
        if col not in table:
            table[col] = default
    for col in TEXT:
        table[col] = table[col].fillna("").astype(str)
    table["primary"] = table["primary"].map(
        lambda v: str(v).strip().lower() in ("true", "1", "yes"))
    order = np.argsort(~table["primary"].to_numpy(), kind="stable")
    return table.iloc[order].reset_index(drop=True)


def effect_text(row: pd.Series, unit_word: bool = False) -> str:
    """"+1.2 [−0.5, +2.9]" in points (with " points" if ``unit_word``), or "1.31× [1.20×,
    1.43×]" for a ratio; "—" without an effect."""
    if row["unit"] == "ratio":
        text = ratio(row["effect"])
        ci = interval(row["ci_low"], row["ci_high"], ratio)
    else:
        text = points(row["effect"]) + (" points" if unit_word and is_number(row["effect"])
                                        else "")
        ci = interval(row["ci_low"], row["ci_high"])
    return f"{text} {ci}".strip()


def _p_holm(row: pd.Series) -> str:
    return p_text(row["p_adjusted"] if is_number(row["p_adjusted"]) else row["p_value"])


def _row_title(row: pd.Series) -> str:
    bits = [f"{k}: {row[k]}" for k in ("id", "ours", "pair", "note") if row[k]]
    return "; ".join(bits)


def claims_table_html(table: pd.DataFrame) -> str:
    """The claims a reader needs: effect [95 % CI], p (Holm), MDE, margin, verdict, reading
    (hover a row for its numbers in words); primary claims under their own heading. A column
    no row has a value for (an older file's MDE, margin, reading) is left out; p is headed
    "p (Holm)" only where adjusted p-values exist."""
    holm = table["p_adjusted"].map(is_number).any()
    columns = {
        "claim": lambda r: esc(r["claim"]),
        "effect [95 % CI]": lambda r: esc(effect_text(r)),
        "p (Holm)" if holm else "p": _p_holm,
        "MDE": lambda r: points(r["mde"], signed=False),
        "margin": lambda r: (f"±{points(r['margin'], signed=False)}"
                             if is_number(r["margin"]) else "—"),
        "verdict": lambda r: badge(r["verdict"]),
        "reading": lambda r: esc(r["reading"] or r["note"])}
    present = {"MDE": table["mde"].map(is_number).any(),
               "margin": table["margin"].map(is_number).any(),
               "reading": ((table["reading"] != "") | (table["note"] != "")).any()}
    columns = {h: f for h, f in columns.items() if present.get(h, True)}
    numeric = {"effect [95 % CI]", "p (Holm)", "p", "MDE", "margin"}
    cls = ["num" if h in numeric else "" for h in columns]
    head = "".join(f"<th>{h}</th>" for h in columns)
    rows, group = [], None
    groups = table["primary"].nunique() > 1
    for _, row in table.iterrows():
        if groups and row["primary"] != group:
            group = row["primary"]
            label = ("Primary contrasts (pre-registered)" if group
                     else "Secondary claims and our questions")
            rows.append(f'<tr class="group"><th colspan="{len(columns)}">{label}</th></tr>')
        primary = ' class="primary"' if row["primary"] else ""
        rows.append(f'<tr{primary} title="{esc(_row_title(row))}">'
                    + "".join(f'<td class="{c}">{cell(row)}</td>' if c else f"<td>{cell(row)}</td>"
                              for c, cell in zip(cls, columns.values(), strict=True))
                    + "</tr>")
    return scroll(f'<table class="claims"><tr>{head}</tr>{"".join(rows)}</table>')


#: Columns of the second table (the numbers behind each row), with their headings.
DETAILS = {"id": "id", "paper": "paper", "scope": "scope", "family": "Holm family",
           "tasks": "tasks", "ours": "ours", "test": "test", "pair": "pair", "n": "n (seeds)",
           "sd": "SD of differences (points)", "p_value": "p", "p_tost": "p (TOST)",
           "p_tost_adjusted": "p (TOST, Holm)", "seeds_needed": "seeds for this effect",
           "seeds_for_margin": "seeds for MDE = margin", "note": "note"}


def details_table_html(table: pd.DataFrame) -> str:
    """The rest of each row (paper, scope, tasks, ours, p's, seeds needed, notes), in a
    closed ``<details>``; columns that are empty in every row are left out."""
    def shown(value: object) -> str:
        if isinstance(value, float):
            if np.isnan(value):
                return ""
            return "∞" if np.isinf(value) else f"{value:.3g}"
        return esc(value)

    cols = [c for c in DETAILS if table[c].map(lambda v: shown(v) != "").any()]
    head = "".join(f"<th>{DETAILS[c]}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{shown(row[c])}</td>" for c in cols) + "</tr>"
                   for _, row in table.iterrows())
    return ("<details><summary>the numbers behind each claim</summary>"
            + scroll(f"<table><tr>{head}</tr>{body}</table>") + "</details>")


def legend_html(table: pd.DataFrame) -> str:
    """How to read the table, said once: units, columns, the tests shown, the verdicts."""
    tests = [t for t in TEST_WORDS if (table["test"] == t).any()]
    described = table.loc[table["test_description"] != ""]
    test_text = "; ".join(f"<i>{t}</i>: {TEST_WORDS[t]}" for t in tests)
    for desc, ids in described.groupby("test_description", sort=False)["id"]:
        test_text += ("; " if test_text else "") + f"{esc(', '.join(ids))}: {esc(desc)}"
    verdicts = "; ".join(f"{badge(v)} {w}" for v, w in VERDICT_WORDS.items()
                         if (table["verdict"] == v).any())
    return ("<p class='note'>Effects of accuracy in points (test accuracy of the first "
            "variant minus the second, in %); speed and memory as ratios (×). [95 % CI]: "
            "t-interval over the paired seeds. p (Holm): two-sided p, Holm-adjusted within its "
            "family (the raw p where no family applies). MDE: the smallest effect this many "
            "seeds detect with 80 % power after the adjustment. Margin: the equivalence margin "
            f"of the TOST.{' Tests: ' + test_text + '.' if test_text else ''}</p>"
            f"<p class='note'>Verdicts: {verdicts}.</p>")
