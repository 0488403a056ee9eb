"""The one reader of run outputs: complete metrics.json files become records, anything else
is an error naming the file, wherever it is read (tables, claims, the report)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.aggregate import write_tables
from analysis.claims import write_claims
from analysis.runs import RunRecord, read_run, read_runs
from report.page import ReportInputs, write_report
from tests.conftest import run_metrics


def _write(path: Path, payload) -> Path:
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_a_complete_file_keeps_its_values(tmp_path):
    metrics = run_metrics(test_acc=0.625, seed=3, test_predictions=[1, 0], test_labels=[1, 1])
    record = read_run(_write(tmp_path / "metrics.json", metrics))
    assert isinstance(record, RunRecord) and record.path == str(tmp_path / "metrics.json")
    assert (record.test_acc, record.seed, record.test_predictions) == (0.625, 3, [1, 0])
    assert record.epochs == metrics["epochs"] and record.spec == metrics["spec"]
    assert record.extra["test_loss"] == metrics["test_loss"]  # other keys are kept too
    assert [r.seed for r in read_runs([tmp_path / "metrics.json"] * 2)] == [3, 3]


@pytest.mark.parametrize(("payload", "error", "message"), [
    (None, FileNotFoundError, "is missing; run its training job first"),
    ("{", ValueError, "is not valid JSON"),
    ([1, 2], ValueError, "is not the metrics of a run"),
    ({k: v for k, v in run_metrics().items() if k not in ("test_acc", "epochs")}, ValueError,
     "is incomplete: it lacks test_acc, epochs"),
    (run_metrics(seed="0"), ValueError, "'seed' must be an integer, got '0'"),
    (run_metrics(test_acc=True), ValueError, "'test_acc' must be a number"),
    (run_metrics(test_predictions=[0, "1"]), ValueError, "'test_predictions' must be a list"),
])
def test_a_bad_file_is_an_error_naming_it(tmp_path, payload, error, message):
    path = tmp_path / "run" / "metrics.json"
    path.parent.mkdir()
    if payload is not None:
        _write(path, payload)
    with pytest.raises(error, match=message) as info:
        read_run(path)
    assert str(path) in str(info.value)


def test_tables_claims_and_report_all_refuse_an_incomplete_file(tmp_path):
    """Before the one reader the tables wrote empty cells for missing keys and the report's
    curves stopped with a KeyError; now each names the file."""
    good = _write(tmp_path / "good.json", run_metrics())
    bad = _write(tmp_path / "bad.json", {k: v for k, v in run_metrics().items()
                                         if k not in ("majority_acc", "n_test")})
    claims = [{"id": "x", "claim": "x", "paper": "x", "test": "better",
               "variants": ["rmaat", "rmt"]}]
    for call in (lambda: write_tables([good, bad], tmp_path / "tables", {}),
                 lambda: write_claims([good, bad], claims, tmp_path / "claims"),
                 lambda: write_report(ReportInputs(metrics=[good, bad]), tmp_path / "r.html")):
        with pytest.raises(ValueError, match=f"{bad}.*lacks majority_acc, n_test"):
            call()
    assert not (tmp_path / "tables").exists() or not any((tmp_path / "tables").iterdir())
    assert not (tmp_path / "r.html").exists()


def test_the_analysis_reads_the_settings_the_run_recorded(tmp_path):
    """A run records its model as built; if the presets change later (here: a recorded
    readout the preset would not give), the claims still describe what was trained."""
    from analysis.claims import readout_note

    recorded = {**run_metrics()["resolved_model"], "readout": "both"}
    run = read_run(_write(tmp_path / "m.json", run_metrics(preset="rmaat",
                                                           resolved_model=recorded)))
    assert run.model_recorded and run.model["readout"] == "both"
    assert readout_note([run]) == "Recurrent models classify from: both (readout)."
    with pytest.raises(ValueError, match="'resolved_model' must be an object with"):
        read_run(_write(tmp_path / "bad.json", run_metrics(resolved_model={"readout": "x"})))


def test_a_file_without_recorded_settings_falls_back_to_its_spec_with_a_warning(tmp_path,
                                                                                 caplog):
    """metrics.json files written before ``resolved_model`` existed stay readable: their
    settings come from their recorded spec and this version's presets, and one warning names
    them and says to rerun."""
    from model.presets import resolved_settings

    spec = {"task": "recall", "preset": "rmt", "model": {"segment_len": 16}}
    old = _write(tmp_path / "old.json", run_metrics(preset="rmt", spec=spec,
                                                    resolved_model=None))
    new = _write(tmp_path / "new.json", run_metrics())
    assert "resolved_model" not in json.loads(old.read_text())
    with caplog.at_level("WARNING", logger="analysis.runs"):
        runs = read_runs([old, new])
    assert [r.model_recorded for r in runs] == [False, True]
    assert runs[0].model == resolved_settings("rmt", {"segment_len": 16})
    assert runs[0].model["readout"] == "memory" and runs[0].model["segment_len"] == 16
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "1 metrics.json file(s) record no 'resolved_model'" in warning
    assert str(old) in warning and str(new) not in warning and "rerun" in warning
    unknown = _write(tmp_path / "gone.json", run_metrics(preset="gpt", resolved_model=None))
    with pytest.raises(ValueError, match="preset 'gpt' is unknown"):
        read_run(unknown)


def test_the_command_line_exits_2_naming_the_bad_file(tmp_path, capsys):
    from analysis.__main__ import main

    bad = _write(tmp_path / "metrics.json", "{")
    assert main(["aggregate", "--metrics", str(bad), "--out-dir", str(tmp_path / "t")]) == 2
    assert f"error: {bad} is not valid JSON" in capsys.readouterr().err
    good = _write(tmp_path / "good.json", run_metrics())
    assert main(["aggregate", "--metrics", str(good), "--out-dir", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "accuracy.md").read_text() in capsys.readouterr().out


def test_the_retention_factors_a_run_applied_are_kept_and_older_files_read_as_none(tmp_path):
    """RF(t, T), t = 1..T, at the end and the start of training (the report draws them);
    files written before runs recorded them, and runs without RF (null), read as None."""
    final, initial = [0.3, 0.25, 0.2, 0.15], [0.25] * 4
    run = read_run(_write(tmp_path / "rf.json", run_metrics(rf_factors_final=final,
                                                           rf_factors_initial=initial)))
    assert (run.rf_factors_final, run.rf_factors_initial) == (final, initial)
    assert "rf_factors_final" not in run.extra
    none = read_run(_write(tmp_path / "none.json", run_metrics(rf_factors_final=None,
                                                              rf_factors_initial=None)))
    old = read_run(_write(tmp_path / "old.json", run_metrics()))
    assert "rf_factors_final" not in json.loads((tmp_path / "old.json").read_text())
    for record in (none, old):
        assert (record.rf_factors_final, record.rf_factors_initial) == (None, None)
    for bad in ([0.5, "0.5"], [], 0.5, [True]):
        with pytest.raises(ValueError, match="'rf_factors_final' must be a list of numbers"):
            read_run(_write(tmp_path / "bad.json", run_metrics(rf_factors_final=bad)))
