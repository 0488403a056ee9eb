"""Synthetic report inputs in the layout of the files the analysis writes (claims.csv and the
dose-response table and summary of issue 24, the accuracy and runs tables): known numbers, so
tests can say what the page must show."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from analysis.aggregate import write_tables
from tests.conftest import run_metrics

NAN, INF = math.nan, math.inf

#: claims.csv rows: two primary contrasts (one underpowered), an equivalence, a contradiction,
#: a single-seed row and two ratios (speed with a CI, memory without).
CLAIMS = [
    dict(id="rf_vs_flat", claim="RF schedule beats a flat 1/T", paper="—", scope="ours",
         primary=True, family="primary", tasks="majority",
         ours="rmaat 61.6 ± 3.1 vs rmaat_flat 60.7 ± 1.4 (n=24)", test="better",
         pair="rmaat vs rmaat_flat", n=24, effect=0.9, unit="points", sd=4.1, ci_low=-0.8,
         ci_high=2.6, p_value=0.28, p_adjusted=0.56, p_tost=0.41, p_tost_adjusted=0.82,
         margin=1.0, mde=2.5, seeds_needed=160, seeds_for_margin=150, verdict="inconclusive",
         reading="RF over flat: +0.9 points, not distinguishable from zero nor within ±1.",
         note=""),
    dict(id="rf_helps", claim="retention factor helps", paper="Retrieval 80.5 -> 83.2",
         scope="paper", primary=True, family="primary", tasks="majority",
         ours="rmaat 61.6 ± 3.1 vs rmaat_no_rf 58.2 ± 2.0 (n=24)", test="better",
         pair="rmaat vs rmaat_no_rf", n=24, effect=3.4, unit="points", sd=3.5, ci_low=1.9,
         ci_high=4.9, p_value=0.0002, p_adjusted=0.0004, p_tost=0.99, p_tost_adjusted=0.99,
         margin=1.0, mde=2.0, seeds_needed=9, seeds_for_margin=96, verdict="reproduced",
         reading="RF helps by 3.4 points.", note=""),
    dict(id="amrb_equal", claim="AMRB gives BPTT's accuracy", paper="identical gradients",
         scope="paper", primary=False, family="secondary", tasks="majority",
         ours="24/24 paired runs identical", test="equal", pair="rmaat vs rmaat_bptt", n=24,
         effect=0.05, unit="points", sd=0.3, ci_low=-0.2, ci_high=0.3, p_value=0.6,
         p_adjusted=1.0, p_tost=0.001, p_tost_adjusted=0.003, margin=1.0, mde=0.4,
         seeds_needed=INF, seeds_for_margin=4, verdict="equivalent",
         reading="AMRB and BPTT within ±1 point.", note=""),
    dict(id="ordering", claim="RMAAT above Transformer", paper="avg 68.0 vs 54.4",
         scope="paper", primary=False, family="secondary", tasks="majority, recall",
         ours="rmaat 61.6 vs transformer 63.8", test="better", pair="rmaat vs transformer",
         n=24, effect=-2.2, unit="points", sd=3.0, ci_low=-3.5, ci_high=-0.9, p_value=0.002,
         p_adjusted=0.006, p_tost=0.9, p_tost_adjusted=1.0, margin=1.0, mde=1.8,
         seeds_needed=12, seeds_for_margin=80, verdict="contradicted",
         reading="The Transformer is ahead by 2.2 points.", note="pairs: rmaat > transformer"),
    dict(id="one_seed", claim="learned RF helps", paper="—", scope="ours", primary=False,
         family="", tasks="recall", ours="rmaat_learned 40.0 (1 run)", test="better",
         pair="rmaat_learned vs rmaat", n=1, effect=1.5, unit="points", sd=NAN, ci_low=NAN,
         ci_high=NAN, p_value=NAN, p_adjusted=NAN, p_tost=NAN, p_tost_adjusted=NAN,
         margin=1.0, mde=NAN, seeds_needed=NAN, seeds_for_margin=NAN, verdict="inconclusive",
         reading="One seed: no test.", note=""),
    dict(id="speed", claim="RMAAT trains faster than RMT", paper="1.5–1.73×", scope="paper",
         primary=False, family="", tasks="majority", ours="rmaat / rmt tokens/s = 1.31×",
         test="faster", pair="rmaat vs rmt", n=24, effect=1.31, unit="ratio", sd=NAN,
         ci_low=1.2, ci_high=1.43, p_value=0.001, p_adjusted=NAN, p_tost=NAN,
         p_tost_adjusted=NAN, margin=NAN, mde=NAN, seeds_needed=NAN, seeds_for_margin=NAN,
         verdict="reproduced", reading="1.31× the tokens per second.", note="device: CPU"),
    dict(id="memory", claim="AMRB needs less memory than BPTT", paper="4.41×", scope="paper",
         primary=False, family="", tasks="benchmark", ours="BPTT / AMRB = 3.90×",
         test="memory", pair="bptt vs amrb", n=1, effect=3.9, unit="ratio", sd=NAN,
         ci_low=NAN, ci_high=NAN, p_value=NAN, p_adjusted=NAN, p_tost=NAN,
         p_tost_adjusted=NAN, margin=NAN, mde=NAN, seeds_needed=NAN, seeds_for_margin=NAN,
         verdict="reproduced", reading="BPTT needs 3.9× AMRB's memory.", note=""),
]

#: dose_response.csv rows: four swept values of tau_pl and the two references.
DOSE = [
    *[dict(kind="dose", parameter="constants.tau_pl", value=v, condition=f"dose_tau_pl_{i}",
           tau_ltp_segments=tau, rf_ratio=r, task="majority", seeds=8, acc_mean=m,
           ci_low=m - 1.5, ci_high=m + 1.5, sd=2.0)
      for i, (v, tau, r, m) in enumerate([("2 s", 0.8, 9.0, 58.0), ("4 s", 1.6, 4.1, 59.5),
                                          ("8 s", 3.1, 2.2, 60.9), ("16 s", 6.3, 1.5, 61.2)])],
    dict(kind="flat", parameter="", value="", condition="baseline", tau_ltp_segments=INF,
         rf_ratio=1.0, task="majority", seeds=8, acc_mean=60.1, ci_low=58.9, ci_high=61.3,
         sd=1.7),
    dict(kind="no_rf", parameter="", value="", condition="", tau_ltp_segments=NAN,
         rf_ratio=NAN, task="majority", seeds=8, acc_mean=57.4, ci_low=56.0, ci_high=58.8,
         sd=1.9),
]
DOSE_SUMMARY = {"parameter": "constants.tau_pl", "task": "majority",
                "trend": {"test": "paired regression of accuracy on log2 τ_LTP over seeds",
                          "slope": 1.05, "ci_low": 0.4, "ci_high": 1.7, "p_value": 0.004,
                          "n_seeds": 8},
                "reading": "Longer τ_LTP, higher accuracy: +1.0 points per doubling."}


def write_claims_csv(path: Path, rows: list[dict] | None = None) -> Path:
    """claims.csv with :data:`CLAIMS` (or ``rows``) in the contract's column order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows if rows is not None else CLAIMS).to_csv(path, index=False)
    return path


def write_dose(folder: Path) -> list[Path]:
    """dose_response.csv and .json (:data:`DOSE`, :data:`DOSE_SUMMARY`) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    csv, js = folder / "dose_response.csv", folder / "dose_response.json"
    frame = pd.DataFrame(DOSE)
    frame["tau_ltp_segments"] = [("inf" if v == INF else "" if v != v else v)
                                 for v in frame["tau_ltp_segments"]]
    frame.to_csv(csv, index=False)
    js.write_text(json.dumps(DOSE_SUMMARY, indent=1))
    return [csv, js]


def write_run_tables(folder: Path, variants: int = 3, tasks: tuple[str, ...] = ("majority",
                     "recall"), seeds: int = 2) -> dict[str, Path]:
    """metrics.json of ``variants`` x ``tasks`` x ``seeds`` made-up runs (generated data, not
    LRA) and the tables of ``python -m analysis aggregate``: {"runs", "accuracy", "metrics"}."""
    paths = []
    for t, task in enumerate(tasks):
        for v in range(variants):
            name = "rmaat" if v == 0 else f"variant_{v:02d}"
            for seed in range(seeds):
                out = folder / "runs" / task / name / f"seed{seed}" / "metrics.json"
                out.parent.mkdir(parents=True, exist_ok=True)
                acc = 0.4 + 0.01 * v + 0.02 * seed + 0.05 * t
                out.write_text(json.dumps(run_metrics(
                    task=task, task_title=task, variant=name, preset="rmaat", seed=seed,
                    test_acc=acc, data_note=f"generated {task}, 64 examples (not LRA)")))
                paths.append(out)
    files = write_tables(paths, folder / "tables", {})
    return {"runs": files["runs"], "accuracy": files["accuracy"], "metrics": paths}


#: RF(t, T) per variant and seed for T = 4 (rf_factors_final, rf_factors_initial): a biological
#: schedule (fixed, sums to 1), the flat 1/T, a learned one that moved from 1/T differently in
#: each seed (does not sum to 1), and a run without RF (null).
BIO4 = [0.2916, 0.2581, 0.2339, 0.2164]
FACTORS = {
    ("rmaat", "bio"): {0: (BIO4, BIO4), 1: (BIO4, BIO4)},
    ("rmaat_flat", "flat"): {0: ([0.25] * 4, [0.25] * 4), 1: ([0.25] * 4, [0.25] * 4)},
    ("rmaat_learned", "learned"): {0: ([0.40, 0.30, 0.20, 0.12], [0.25] * 4),
                                   1: ([0.36, 0.28, 0.22, 0.10], [0.25] * 4)},
    ("rmaat_no_rf", "none"): {0: (None, None)},
}


def write_factor_runs(folder: Path, task: str = "majority") -> list[Path]:
    """metrics.json of the runs of :data:`FACTORS` on ``task`` (made-up, not LRA), plus one
    older transformer run whose file has no rf_factors keys; returns their paths."""
    paths = []
    for (variant, schedule), seeds in FACTORS.items():
        model = {"rf_mode": "none"} if schedule == "none" else {"rf_schedule": schedule}
        for seed, (final, initial) in seeds.items():
            out = folder / "runs" / task / variant / f"seed{seed}" / "metrics.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(run_metrics(
                task=task, task_title=task, variant=variant, preset="rmaat", seed=seed,
                spec={"task": task, "preset": "rmaat", "model": model, "rf_lr": 0.1},
                rf_factors_final=final, rf_factors_initial=initial)))
            paths.append(out)
    old = folder / "runs" / task / "transformer" / "seed0" / "metrics.json"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_text(json.dumps(run_metrics(task=task, task_title=task, variant="transformer",
                                          preset="transformer")))
    return [*paths, old]
