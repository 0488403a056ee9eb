"""The biology sections of the report: the LTP simulation and its macro-model fits (τ_LTP,
warnings), the retention schedules, the parameter sweeps. Retention files are read through
``pipeline.retention`` (its checks name a bad file)."""

from __future__ import annotations

import pandas as pd

from pipeline.retention import read_payload
from report.inputs import ReportInputs
from report.parts import Section, esc, img, table


def once(*texts: object, sep: str = " | ") -> str:
    """The distinct non-empty parts of ``texts`` (each split at ``sep``), in order, joined by
    "; ": a sweep point's reason is also one of its warnings, and is shown once."""
    parts: list[str] = []
    for text in texts:
        if text is None or (isinstance(text, float) and text != text):
            continue
        parts += [p.strip() for p in str(text).split(sep) if p.strip()]
    return "; ".join(dict.fromkeys(parts))


def ltp_body(inputs: ReportInputs) -> str:
    """LTP fits: one row per condition (model, parameters, τ_LTP, warnings) and its plots."""
    if not inputs.retention:
        return "<p>No conditions in this configuration.</p>"
    parts = []
    conditions_png = inputs.plot("plots", "conditions")
    if conditions_png:
        parts.append(img(conditions_png, "conditions compared"))
    rows, names = [], []
    nan = float("nan")
    for path in inputs.retention:
        r = read_payload(path)  # the retention contract's checks; names a bad file
        names.append(r["condition"])
        mm = r["macro_model"]
        params = ", ".join(f"{k} = {v:.4g} ± {mm.get('stderr', {}).get(k, nan):.2g}"
                           for k, v in mm["params"].items())
        d = r.get("derived") or {}
        ci = ((r.get("bootstrap") or {}).get("ci95") or {}).get("tau_ltp_s")
        tau = d.get("tau_ltp_s")
        tau_text = "" if tau is None else f"{tau:.4g}"
        if tau is not None and ci:
            tau_text += f" [{ci[0]:.4g}, {ci[1]:.4g}]"
        elif tau is not None and d.get("tau_ltp_stderr_s") is not None:
            tau_text += f" ± {d['tau_ltp_stderr_s']:.2g}"
        rows.append({"condition": r["condition"], "selected model": mm["name"],
                     "parameters (time in s)": params, "R²": mm["r2"],
                     "AICc": mm.get("aicc") if mm.get("aicc") is not None else mm.get("aic"),
                     "τc (s)": r.get("tau_cycle_s", nan), "τ_LTP (s)": tau_text,
                     "τ_LTP (cycles)": d.get("tau_ltp_cycles", nan),
                     "plateau": d.get("plateau", nan),
                     "cycles to 90 %": d.get("cycles_to_90", nan),
                     "RF(1,16)/RF(16,16)": d.get("shape_ratio_16") or nan,
                     "RF(1, 16)": r["schedules"]["16"][0] if "16" in r["schedules"] else nan,
                     "warnings": once(*r.get("warnings", []), sep="\0") or "none"})
    parts.append(table(pd.DataFrame(rows), "{:.4g}"))
    parts.append('<p class="note">τ_LTP: the fitted LTP time constant (or the time to 63 % '
                 "of the rise for forms without one), ± its standard error or [95 % "
                 "bootstrap interval over pairs]; plateau p(∞); RF(1,16)/RF(16,16): how much "
                 "more the first of 16 segments is retained than the last (1 = uniform). "
                 "Warnings as the distill stage issued them.</p>")
    for name in names:
        for plot in ("fit", "traces"):
            png = inputs.plot(name, plot)
            if png:
                parts.append(f"<h3>{esc(name)}: {plot}</h3>" + img(png, f"{name} {plot}"))
    return "\n".join(parts)


def schedule_body(inputs: ReportInputs) -> str:
    """The retention schedule plot of every condition."""
    pngs = [p for p in inputs.plots if p.name == "schedules.png"]
    if not pngs:
        return ""
    parts = ['<p class="note">RF(t, T) = share of LTP growth during STP cycle t of T; it scales '
             "the memory handed from segment t to t+1. Not learned.</p>"]
    for path in pngs:
        parts.append(f"<h3>{esc(path.parent.name)}</h3>" + img(path, "schedules"))
    return "\n".join(parts)


#: Sweep table columns shown, with their headings (value columns come first, as written).
SWEEP_COLUMNS = {"point": "point", "status": "status", "model": "selected model", "r2": "R²",
                 "t63_s": "t63 (s)", "tau_s": "τ_LTP (s)", "plateau": "plateau"}


def sweeps_body(inputs: ReportInputs) -> str:
    """Each sweep: its points (swept values, fit, RF(1, T), warnings once) and its plots."""
    if not inputs.sweep_tables:
        return ""
    parts = ["<p class='note'>One row per point: the swept values, the selected macro model and "
             "its fit, RF(1, T) for the sweep's numbers of segments, and why a point was not "
             "fitted (status other than ok).</p>"]
    for path in inputs.sweep_tables:
        frame = pd.read_csv(path)
        sweep = path.parent.name
        values = [c for c in frame.columns if c.endswith("]")]
        rf = [c for c in frame.columns if c.startswith("RF1_T")]
        shown = frame[["point", *values, *[c for c in SWEEP_COLUMNS if c in frame
                                            and c != "point"], *rf]].copy()
        shown["warnings"] = [once(r, w) for r, w in zip(frame["reason"], frame["warnings"],
                                                        strict=True)]
        shown = shown.rename(columns={**SWEEP_COLUMNS,
                                      **{c: f"RF(1, {c[5:]})" for c in rf}})
        counts = ", ".join(f"{n} {s}" for s, n in frame["status"].value_counts().items())
        parts.append(f"<h3>{esc(sweep)} ({len(frame)} points: {esc(counts)})</h3>")
        parts.append(table(shown, "{:.4g}"))
        for plot in ("fit_vs_parameter", "ltp_curves", "schedules", "heatmap"):
            png = inputs.plot(sweep, plot)
            if png:
                parts.append(img(png, f"{sweep} {plot}"))
    return "\n".join(parts)


ltp_section = Section("ltp", "LTP simulation and macro-model fits", ltp_body)
schedule_section = Section("schedules", "Memory retention schedules RF(t, T)", schedule_body)
sweeps_section = Section("sweeps", "Parameter sweeps", sweeps_body)


def tau_facts(inputs: ReportInputs) -> str:
    """τ_LTP of every condition in one line, for the summary ("" without conditions)."""
    facts = []
    for path in inputs.retention:
        r = read_payload(path)
        d = r.get("derived") or {}
        if d.get("tau_ltp_s") is not None:
            cycles = d.get("tau_ltp_cycles")
            facts.append(f"{r['condition']} {d['tau_ltp_s']:.3g} s"
                         + (f" ({cycles:.2g} STP cycles)" if cycles is not None else ""))
    return ("Fitted τ_LTP: " + "; ".join(facts) + ".") if facts else ""
