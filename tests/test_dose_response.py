"""Biology -> model: the dose-response block expands into conditions and variants, and the
analysis turns their runs into accuracy against tau_LTP with a trend test over seeds."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from analysis.__main__ import main as analysis_main
from analysis.dose import dose_table, trend
from analysis.runs import RunRecord
from model.retention import write_retention_json
from pipeline.config import ConfigError, validate_config
from tests.conftest import run_metrics

ROOT = Path(__file__).resolve().parents[1]
BLOCK = {"condition": "baseline", "parameter": "constants.tau_pl",
         "values": ["2 s", "8 s", "16 s"], "variant": "rmaat", "task": "listops", "seeds": 2,
         "references": ["rmaat_no_rf"]}


def tiny(block: dict | None = None) -> dict:
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["experiment"]["dose_response"] = copy.deepcopy(block or BLOCK)
    return config


def test_each_value_becomes_a_condition_and_a_variant():
    config = validate_config(tiny())
    conditions, variants = config["conditions"], config["experiment"]["variants"]
    for value, slug in (("2 s", "2s"), ("8 s", "8s"), ("16 s", "16s")):
        name = f"dose_tau_pl_{slug}"
        assert conditions[name]["constants"]["tau_pl"] == value
        # the base condition's other overrides are kept (baseline sets none here)
        assert "dose-response" in conditions[name]["description"]
        var = variants[f"rmaat_{name}"]
        assert var == {"preset": "rmaat", "retention_condition": name, "tasks": ["listops"],
                       "seeds": 2, "description": f"rmaat on the schedule of {name}"}
    # the user's own conditions and variants are untouched
    assert set(tiny()["conditions"]) < set(conditions)


def test_the_base_conditions_overrides_are_kept():
    config = tiny({**BLOCK, "condition": "slow_ltp", "parameter": "constants.gamma_l",
                   "values": [0.5, 1.0, 2.0]})
    config = validate_config(config)
    cond = config["conditions"]["dose_gamma_l_0p5"]
    assert cond["constants"] == {"tau_pl": "8 s", "gamma_l": 0.5}
    # the base point is the variant's own runs, on baseline (its retention condition): the
    # plan labels it with baseline's value, not with the swept condition's
    from workflow.plan import Plan

    dose = json.loads(Plan(config).dose_config_json())
    assert dose["base_condition"] == "baseline" and dose["base_value"] == 1.0


@pytest.mark.parametrize("change, message", [
    ({"parameter": "constants.nope"}, "is not a parameter of condition 'baseline'"),
    ({"parameter": "constants"}, "is a group, not one parameter"),
    ({"condition": "nope"}, "'nope' is not a condition"),
    ({"task": "majority"}, "'majority' is not a task of experiment.tasks"),
    ({"variant": "rmt_x"}, "'rmt_x' is neither a preset"),
    ({"references": ["flat_x"]}, "'flat_x' is neither a preset nor a variant"),
    ({"values": ["2 s", "2 s ", "8 s"]}, "two values give the same condition name"),
    ({"values": ["2 s", "4 m", "8 s"]}, "conditions.dose_tau_pl_4m"),
    ({"values": ["2 s", "4000 ms"]}, "'4000 ms' is the value of condition 'baseline', on "
                                     "whose schedule 'rmaat' already runs"),
])
def test_bad_blocks_are_refused_naming_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(tiny({**BLOCK, **change}))


def test_a_generated_name_that_is_taken_is_refused():
    config = tiny()
    config["conditions"]["dose_tau_pl_2s"] = {"description": "mine"}
    with pytest.raises(ConfigError, match="'dose_tau_pl_2s' already exists"):
        validate_config(config)


def test_the_plan_runs_each_value_and_names_the_files():
    from workflow.plan import Plan

    plan = Plan(validate_config(tiny()))
    runs = set(plan.runs)
    for slug in ("2s", "8s", "16s"):
        assert {("listops", f"rmaat_dose_tau_pl_{slug}", s) for s in (0, 1)} <= runs
    assert ("pathfinder", "rmaat_dose_tau_pl_2s", 0) not in runs
    assert plan.dose_targets == ["results/dose_response.csv", "results/dose_response.json"]
    dose = json.loads(plan.dose_config_json())
    assert dose["base_value"] == "4 s" and dose["base_condition"] == "baseline"
    assert dose["segments"] == 5  # listops: 20 tokens in segments of 4
    assert dose["references"] == [{"variant": "rmaat_no_rf", "kind": "no_rf"}]
    assert "results/retention/dose_tau_pl_16s.json" in plan.dose_retention()
    assert all("/listops/" in m for m in plan.dose_metrics())


def test_changing_one_value_leaves_the_other_branches_as_they_were():
    """Swapping 16 s for 32 s changes one condition and its variant's run specs; the other
    values' conditions (what simulate and distill are keyed on) and run specs stay, so
    Snakemake reruns only that branch (and what reads every branch: the table, the claims)."""
    from pipeline.resolve import resolve_condition
    from train.plan import run_spec

    before = validate_config(tiny())
    after = validate_config(tiny({**BLOCK, "values": ["2 s", "8 s", "32 s"]}))
    for slug in ("2s", "8s"):
        condition, variant = f"dose_tau_pl_{slug}", f"rmaat_dose_tau_pl_{slug}"
        assert resolve_condition(before, condition) == resolve_condition(after, condition)
        assert (run_spec(before, "listops", variant, 0).to_dict()
                == run_spec(after, "listops", variant, 0).to_dict())
    assert "dose_tau_pl_16s" not in after["conditions"]
    assert resolve_condition(after, "dose_tau_pl_32s")["constants"]["tau_pl"] == "32 s"


def retention(path: Path, tau: float, condition: str) -> Path:
    """A valid retention file whose fitted tau_LTP is ``tau`` cycles."""
    write_retention_json(path, max_segments=8, tau_cycles=tau, condition=condition)
    payload = json.loads(path.read_text())
    payload["derived"] = {"tau_ltp_cycles": tau, "tau_ltp_s": tau, "plateau": 1.0,
                          "cycles_to_90": tau * math.log(10), "shape_ratio_16": None}
    path.write_text(json.dumps(payload))
    return path


def test_trend_is_a_t_test_of_per_seed_slopes():
    taus = [1.0, 2.0, 4.0, 8.0]
    rng = np.random.default_rng(0)
    per_seed = {s: {t: 50 + 2.0 * math.log2(t) + rng.normal(0, 1) for t in taus}
                for s in range(6)}
    per_seed[99] = {1.0: 10.0}  # a seed that missed values is left out
    result = trend(per_seed)
    slopes = [np.polyfit(np.log2(taus), [per_seed[s][t] for t in taus], 1)[0]
              for s in range(6)]
    assert result["n_seeds"] == 6 and result["slope"] == pytest.approx(np.mean(slopes))
    assert result["p_value"] == pytest.approx(sps.ttest_1samp(slopes, 0.0).pvalue)
    half = sps.t.ppf(0.975, 5) * np.std(slopes, ddof=1) / math.sqrt(6)
    assert result["ci_low"] == pytest.approx(np.mean(slopes) - half)
    flat = trend({s: dict.fromkeys(taus, 50.0) for s in range(3)})
    assert flat["slope"] == 0 and flat["p_value"] == 1.0


def test_table_and_files_from_runs(tmp_path):
    plan = {"parameter": "constants.tau_pl", "task": "majority", "variant": "rmaat",
            "segments": 8, "base_condition": "baseline", "base_value": "10 s",
            "points": [{"value": "2 s", "condition": "d2", "variant": "rmaat_d2"},
                       {"value": "32 s", "condition": "d32", "variant": "rmaat_d32"}],
            "references": [{"variant": "flat", "kind": "flat"},
                           {"variant": "none", "kind": "no_rf"}]}
    files = {"baseline": retention(tmp_path / "b.json", 10.0, "baseline"),
             "d2": retention(tmp_path / "d2.json", 2.0, "d2"),
             "d32": retention(tmp_path / "d32.json", 32.0, "d32")}
    acc = {"rmaat": [0.6, 0.62, 0.64], "rmaat_d2": [0.5, 0.52, 0.54],
           "rmaat_d32": [0.7, 0.72, 0.74], "flat": [0.61, 0.63, 0.6], "none": [0.8, 0.8, 0.79]}
    runs = [run_metrics(task="majority", variant=v, seed=s, test_acc=a, preset="rmaat")
            for v, accs in acc.items() for s, a in enumerate(accs)]
    table, summary = dose_table(plan, [RunRecord.from_metrics(r) for r in runs], files)
    dose = table[table["kind"] == "dose"]
    assert list(dose["tau_ltp_segments"]) == [2.0, 10.0, 32.0]  # sorted by tau
    assert list(dose["acc_mean"]) == pytest.approx([52.0, 62.0, 72.0])
    assert dose.iloc[0]["rf_ratio"] == pytest.approx(math.exp(7 / 2.0))
    assert table.set_index("kind").loc["flat", "tau_ltp_segments"] == math.inf
    assert summary["trend"]["slope"] > 0 and summary["trend"]["n_seeds"] == 3
    assert summary["reading"].startswith("Accuracy rises with the LTP time constant")
    # the CLI writes both files
    metrics = []
    for r in runs:
        p = tmp_path / "runs" / r["variant"] / f"{r['seed']}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(r))
        metrics.append(str(p))
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    assert analysis_main(["dose-response", "--plan", str(tmp_path / "plan.json"),
                          "--metrics", *metrics, "--retention", *map(str, files.values()),
                          "--out-csv", str(tmp_path / "d.csv"),
                          "--out-json", str(tmp_path / "d.json")]) == 0
    assert len(pd.read_csv(tmp_path / "d.csv")) == 5
    assert json.loads((tmp_path / "d.json").read_text())["trend"]["n_seeds"] == 3
    # one seed per value: no trend test, written as null (JSON has no NaN), and said so
    for r, path in zip(runs, metrics, strict=True):
        if r["seed"] != 0:
            Path(path).unlink()
    assert analysis_main(["dose-response", "--plan", str(tmp_path / "plan.json"),
                          "--metrics", *[m for m in metrics if Path(m).exists()],
                          "--retention", *map(str, files.values()),
                          "--out-csv", str(tmp_path / "d.csv"),
                          "--out-json", str(tmp_path / "d.json")]) == 0
    single = json.loads((tmp_path / "d.json").read_text())
    assert single["trend"]["slope"] is None and single["trend"]["n_seeds"] == 1
    assert single["reading"] == "1 seed(s) ran every value: no trend test"
    # a value without runs is named
    with pytest.raises(ValueError, match="no runs of 'rmaat_d2'"):
        dose_table(plan, [RunRecord.from_metrics(r) for r in runs
                          if r["variant"] != "rmaat_d2"], files)
