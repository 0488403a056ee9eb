"""The summary at the top of the report: the answer first.

The verdict of every claim at a glance (primary claims first, each verdict as its word on its
colour), the headline effect (the primary contrasts in accuracy points with their 95 % CI and
MDE), and what this run can and cannot show, written from the numbers: which rows are
underpowered and by how much, which rows rest on one seed, which tasks are generated rather
than LRA (the runs' data notes), the device and scale.
"""

from __future__ import annotations

import pandas as pd

from report.claims import effect_text
from report.parts import badge, esc, interval, is_number, points


def glance(claims: pd.DataFrame) -> str:
    """One line per claim: its verdict, the claim, the effect with its interval."""
    items = []
    for _, row in claims.iterrows():
        star = ' <span class="primary-tag">primary</span>' if row["primary"] else ""
        items.append(f"<li>{badge(row['verdict'])} {esc(row['claim'])}{star} "
                     f"<span class='effect'>{esc(effect_text(row, unit_word=True))}</span></li>")
    return f'<ul class="glance">{"".join(items)}</ul>'


def _count(n: object) -> str:
    return f"{int(float(n))}" if is_number(n) else "?"


def _seeds(n: object) -> str:
    return "seed" if is_number(n) and float(n) == 1 else "seeds"


def headline(claims: pd.DataFrame) -> str:
    """The primary contrasts' effects with CI, seeds, MDE, margin, verdict and reading ("" when
    no claim is primary: the list at a glance shows every effect)."""
    rows = claims[claims["primary"]]
    lines = []
    for _, row in rows.iterrows():
        if row["unit"] == "ratio":
            numbers = effect_text(row)
        else:
            numbers = (f"{points(row['effect'])} points {interval(row['ci_low'], row['ci_high'])}"
                       " (95 % CI)").replace("  ", " ")
        bits = [f"{_count(row['n'])} {_seeds(row['n'])}"]
        if is_number(row["mde"]):
            bits.append(f"MDE {points(row['mde'], signed=False)} points")
        if is_number(row["margin"]):
            bits.append(f"margin ±{points(row['margin'], signed=False)}")
        label = row["pair"] or row["claim"]
        reading = f" {esc(row['reading'])}" if row["reading"] else ""
        lines.append(f"<li><b>{esc(label)}</b>: {esc(numbers)}; {esc(', '.join(bits))} → "
                     f"{badge(row['verdict'])}.{reading}</li>")
    if not lines:
        return ""
    title = "Headline effect" + ("s" if len(lines) > 1 else "")
    return f"<h3>{title}</h3><ul class='headline'>{''.join(lines)}</ul>"


def power_limits(claims: pd.DataFrame) -> list[str]:
    """What the claims cannot show: inconclusive rows whose MDE exceeds their margin (by how
    much, and the seeds that would bring it down to the margin), rows on one seed, the other
    inconclusive rows and the seeds their effect would need."""
    out, under, single = [], [], []
    margins = {float(m) for m in claims["margin"] if is_number(m)}
    for _, row in claims[claims["unit"] != "ratio"].iterrows():
        name = esc(row["id"] or row["claim"])
        n = float(row["n"]) if is_number(row["n"]) else None
        if n is not None and n < 2:
            single.append(name)
        elif (row["verdict"] == "inconclusive" and is_number(row["mde"])
              and is_number(row["margin"]) and row["mde"] > row["margin"]):
            # a decided row (reproduced, contradicted, equivalent) is not underpowered
            bits = [f"MDE {points(row['mde'], signed=False)} points"]
            if len(margins) > 1:
                bits.append(f"margin ±{points(row['margin'], signed=False)}")
            if is_number(row["seeds_for_margin"]):
                bits.append(f"{_count(row['seeds_for_margin'])} seeds would reach the margin, "
                            f"this run has {_count(n)}")
            under.append(f"{name} {row['mde'] / row['margin']:.1f}× ({'; '.join(bits)})")
        elif row["verdict"] == "inconclusive" and is_number(row["seeds_needed"]):
            out.append(f"{name}: the observed {points(row['effect'])} points would need "
                       f"{_count(row['seeds_needed'])} seeds for 80 % power (this run: "
                       f"{_count(n)}).")
    if under:
        margin = (f"the ±{points(next(iter(margins)), signed=False)} equivalence margin"
                  if len(margins) == 1 else "their equivalence margins")
        out.insert(0, f"Underpowered: the MDE exceeds {margin}, so neither an effect of the "
                      "margin's size nor equivalence can be shown for " + ", ".join(under)
                   + ".")
    if single:
        out.append(f"{', '.join(single)}: one seed, so no interval and no test.")
    return out


def can_show(claims: pd.DataFrame) -> list[str]:
    """What the claims do show: the smallest effects this run detects."""
    rows = claims[claims["primary"]] if claims["primary"].any() else claims
    mdes = [float(m) for m in rows["mde"] if is_number(m)]
    if not mdes:
        return []
    span = (f"{min(mdes):.1f}" if max(mdes) - min(mdes) < 0.05
            else f"{min(mdes):.1f}–{max(mdes):.1f}")
    which = "the primary contrasts" if claims["primary"].any() else "the claims"
    return [f"Effects of {span} points or more on {which} (MDE: 80 % power after the Holm "
            "adjustment); a verdict for each claim above."]


def data_limits(runs: pd.DataFrame | None, accuracy: pd.DataFrame | None) -> list[str]:
    """Which tasks are generated rather than LRA (their data notes say so), the device and
    the scale; the paper's numbers are not comparable."""
    out = []
    if accuracy is not None and "data_note" in accuracy:
        notes = accuracy.groupby("task_title", sort=False)["data_note"].first().astype(str)
        generated = [t for t, n in notes.items()
                     if "generated" in n.lower() or "not lra" in n.lower()]
        if generated:
            every = "Every task is" if len(generated) == len(notes) else "Tasks"
            out.append(f"{every} generated, not the LRA benchmark ({esc(', '.join(generated))};"
                       " their data notes are under <a href='#accuracy'>Accuracy</a>).")
    if runs is not None and "device" in runs:
        devices = ", ".join(sorted(set(runs["device"].astype(str))))
        out.append(f"Reduced scale on {esc(devices)}: the paper's numbers (official LRA, full "
                   "scale, GPU) are not comparable.")
    return out


def summary_html(claims: pd.DataFrame | None, runs: pd.DataFrame | None,
                 accuracy: pd.DataFrame | None, dose: dict | None, biology: str) -> str:
    """The summary section (always present: without claims it says so)."""
    parts = ['<section id="summary" class="summary">', "<h2>Summary</h2>"]
    if claims is not None and len(claims):
        parts.append(glance(claims))
        parts.append(headline(claims))
    else:
        parts.append("<p>No claims in this configuration (experiment.claims).</p>")
    can = can_show(claims) if claims is not None and len(claims) else []
    if dose and dose.get("reading"):
        can.append("Dose-response: " + esc(dose["reading"]))
    if biology:
        can.append(esc(biology))
    cannot = (power_limits(claims) if claims is not None else []) + data_limits(runs, accuracy)
    if can or cannot:
        parts.append("<div class='limits'>")
        if can:
            parts.append("<div><h3>This run can show</h3><ul>"
                         + "".join(f"<li>{c}</li>" for c in can) + "</ul></div>")
        if cannot:
            parts.append("<div><h3>It cannot show</h3><ul>"
                         + "".join(f"<li>{c}</li>" for c in cannot) + "</ul></div>")
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)
