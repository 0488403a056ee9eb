"""Validation before any job: names anchored at both ends, claims checked against the
variants and tasks they name, names drawn literally in plots, broken output-folder links."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipeline.config import ConfigError, load_schema, validate_config
from train.plan import ExperimentError, check_experiment

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny() -> dict:
    """config/test.yaml with a one-parameter sweep (raw, unvalidated)."""
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["sweeps"] = {"tau": {"condition": "baseline", "schedule_segments": [4],
                                "parameters": [{"name": "constants.tau_pl",
                                                "values": ["2 s", "4 s"]}]}}
    return config


def load(config: dict) -> dict:
    """What the Snakefile does before any job: the schema and semantic checks."""
    config = validate_config(config)
    check_experiment(config)
    return config


def _patterns(node, where="") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        found = [(where, node["pattern"])] if isinstance(node.get("pattern"), str) else []
        return found + [p for k, v in node.items() for p in _patterns(v, f"{where}/{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _patterns(v, f"{where}/{i}")]
    return []


def test_every_schema_pattern_is_anchored_at_both_ends():
    """jsonschema uses re.search, where '$' also matches before a final newline."""
    patterns = _patterns(load_schema())
    assert len(patterns) >= 6
    loose = [(w, p) for w, p in patterns if not (p.startswith(r"\A") and p.endswith(r"\Z"))]
    assert not loose, loose


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# (key named in the error, how to put a bad name there)
NAME_KEYS = [
    ("conditions", lambda c, bad: _rename(c["conditions"], "slow_ltp", bad)),
    ("sweeps", lambda c, bad: _rename(c["sweeps"], "tau", bad)),
    ("experiment.variants", lambda c, bad: _rename(c["experiment"]["variants"],
                                                   "rmaat_no_rf", bad)),
    ("experiment.claims.0.id", lambda c, bad: c["experiment"]["claims"][0].update(id=bad)),
    ("experiment.retention_condition",
     lambda c, bad: c["experiment"].update(retention_condition=bad)),
    ("experiment.variants.rmaat_no_rf.tasks",
     lambda c, bad: c["experiment"]["variants"]["rmaat_no_rf"].update(tasks=[bad])),
    ("experiment.claims[rf_helps].variants",
     lambda c, bad: c["experiment"]["claims"][0]["variants"].__setitem__(1, bad)),
    ("experiment.claims[rf_helps].tasks",
     lambda c, bad: c["experiment"]["claims"][0].update(tasks=[bad])),
    ("sweeps.tau.condition", lambda c, bad: c["sweeps"]["tau"].update(condition=bad)),
]
# names the key's own name is made of, so that the bad name differs only by its ending
BASE_NAMES = {"conditions": "slow_ltp", "sweeps": "tau", "experiment.variants": "rmaat_no_rf",
              "experiment.claims.0.id": "rf_helps", "experiment.retention_condition": "baseline",
              "experiment.variants.rmaat_no_rf.tasks": "listops",
              "experiment.claims[rf_helps].variants": "rmaat_no_rf",
              "experiment.claims[rf_helps].tasks": "listops", "sweeps.tau.condition": "baseline"}


def test_the_tiny_config_with_a_sweep_loads(tiny):
    load(tiny)


@pytest.mark.parametrize("suffix", ["\n", " ", "$x$"], ids=["newline", "space", "mathtext"])
@pytest.mark.parametrize("key,put", NAME_KEYS, ids=[k for k, _ in NAME_KEYS])
def test_a_name_that_only_looks_valid_is_refused_naming_the_key(tiny, key, put, suffix):
    """'baseline\\n' passed the schema (a '$' anchor matches before a final newline) and
    stopped Snakemake later with a traceback; '$x$' would be drawn as mathtext."""
    put(tiny, BASE_NAMES[key] + suffix)
    with pytest.raises((ConfigError, ExperimentError)) as err:
        load(tiny)
    assert key in str(err.value), str(err.value)


def test_name_errors_say_which_characters_a_name_may_hold(tiny):
    _rename(tiny["experiment"]["variants"], "rmaat_no_rf", "no-rf")
    with pytest.raises(ConfigError, match=r"'experiment.variants': name 'no-rf' is not allowed; "
                                          r"names under it start with a letter and use letters, "
                                          r"digits and '_'$"):
        load(tiny)


# --- claims, checked when the config is loaded ---------------------------------------------

def test_a_claim_naming_an_unknown_variant_is_refused_at_load(tiny):
    tiny["experiment"]["claims"][0]["variants"] = ["rmaat", "rmaat_no_rff"]
    with pytest.raises(ExperimentError) as err:
        load(tiny)
    message = str(err.value)
    assert "experiment.claims[rf_helps].variants" in message and "'rmaat_no_rff'" in message
    assert "rmaat_no_rf, transformer" in message  # the known names


def test_a_claim_naming_an_unknown_task_is_refused_at_load(tiny):
    tiny["experiment"]["claims"][1]["tasks"] = ["listop"]
    with pytest.raises(ExperimentError) as err:
        load(tiny)
    message = str(err.value)
    assert "experiment.claims[ordering].tasks" in message and "'listop'" in message
    assert "listops, pathfinder, recall" in message


def test_a_claim_whose_variants_share_no_task_is_refused_at_load(tiny):
    """rmaat_no_rf runs on listops only: a claim about recall has nothing to compare."""
    tiny["experiment"]["claims"][0]["tasks"] = ["recall"]
    with pytest.raises(ExperimentError, match=r"experiment.claims\[rf_helps\].*'rmaat' and "
                                              r"'rmaat_no_rf'.*no common task.*recall"):
        load(tiny)


def test_a_memory_claim_names_no_variants(tiny):
    tiny["experiment"]["claims"].append({"id": "mem", "claim": "AMRB saves memory",
                                         "paper": "-", "test": "memory"})
    load(tiny)


def test_claim_ids_are_unique(tiny):
    tiny["experiment"]["claims"][1]["id"] = "rf_helps"
    with pytest.raises(ExperimentError, match=r"experiment.claims\[rf_helps\].id': two claims"):
        load(tiny)


# --- names drawn literally ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["$x$", "cost $5", r"$\frac{$", r"a\$b", "$$"])
def test_literal_text_is_drawn_as_written(name):
    from matplotlib.text import Text

    from pipeline.plot_text import literal

    assert Text(text=literal(name))._preprocess_math(literal(name)) == (name, False)


def test_a_condition_mathtext_cannot_parse_is_plotted_literally(tmp_path):
    """`distill fit --condition` and `distill compare` take any name (not only config names):
    r'$\\frac{$' stopped them with a ParseException after the JSON was written."""
    from distill.__main__ import main
    from distill.io import write_readout_csv
    from distill.synthetic import synthetic_readout

    csv = tmp_path / "readout.csv"
    write_readout_csv(csv, synthetic_readout("sat_exp", dict(A=0.01, tau=8.0, c=0.0), 1.0, 80,
                                             2e-5, seed=1))
    name = r"$\frac{$"
    out = tmp_path / "rf.json"
    assert main(["fit", "--readout", str(csv), "--condition", name, "--max-segments", "16",
                 "--out", str(out), "--plot-dir", str(tmp_path / "plots")]) == 0
    assert json.loads(out.read_text())["condition"] == name
    assert main(["compare", "--retention", str(out), "--readout", str(csv),
                 "--out", str(tmp_path / "compare.png")]) == 0
    for png in (tmp_path / "plots" / "fit.png", tmp_path / "plots" / "schedules.png",
                tmp_path / "compare.png"):
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_report_curves_draw_run_names_literally(tmp_path):
    from report.page import ReportInputs, curves_section
    from tests.conftest import run_metrics

    run = run_metrics(task_title=r"List$\frac{$Ops", variant=r"$\frac{$", seed=0,
                      majority_acc=0.5, epochs=[{"epoch": 1, "val_acc": 0.6}])
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(run))
    assert "Training curves" in curves_section(ReportInputs(metrics=[path]))

