"""The retention file contract (pipeline.retention): one validator for distill, the model and
the demo writer; the RF table the model builds from it once."""

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import distill
from distill.errors import ReadoutError
from model import build_model
from model.retention import write_retention_json
from pipeline.retention import (
    SUM_ATOL,
    RetentionSchedule,
    load_retention,
    read_payload,
    validate_retention,
)

REPO = Path(__file__).resolve().parents[1]
ARGS = dict(vocab_size=11, num_classes=3, d_model=8, n_layers=1, n_heads=2, segment_len=4,
            num_mem_tokens=2, dropout=0.0)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return write_retention_json(tmp_path / "rf.json", max_segments=8, tau_cycles=3.0)


def test_demo_file_passes_distills_check_and_loads_the_same_factors(demo: Path) -> None:
    payload = json.loads(demo.read_text())
    distill.validate_retention(payload)  # the check distill applies to its own files
    assert distill.read_retention(demo) == payload
    sched = load_retention(demo)
    assert sorted(sched.schedules) == list(range(1, 9))
    for key, values in payload["schedules"].items():
        assert sched.factors(int(key)) == tuple(values)  # floats survive exactly
    assert sched.streaming == tuple(payload["streaming"]["factors"])
    assert sched.condition == "demo"


def test_one_tolerance_on_the_sum(demo: Path) -> None:
    payload = json.loads(demo.read_text())
    for excess, ok in ((0.5 * SUM_ATOL, True), (4 * SUM_ATOL, False)):
        bad = copy.deepcopy(payload)
        bad["schedules"]["2"][1] += excess  # still positive and non-increasing
        if ok:
            validate_retention(bad)
            RetentionSchedule.from_payload(bad)
        else:
            with pytest.raises(ValueError, match="schedule 2: RF sums to"):
                validate_retention(bad)
            with pytest.raises(ReadoutError, match="schedule 2: RF sums to"):  # distill reader
                demo.write_text(json.dumps(bad))
                distill.read_retention(demo)
            with pytest.raises(ValueError, match="schedule 2: RF sums to"):  # model loader
                load_retention(demo)


def test_read_errors_name_the_file_and_the_way_out(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    with pytest.raises(ValueError, match=r"none.json does not exist; regenerate it"):
        read_payload(missing)
    with pytest.raises(ReadoutError, match="none.json does not exist"):
        read_payload(missing, error=ReadoutError)
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        load_retention(broken)


def _old_table(sched: RetentionSchedule, n_segments: list[int], t_max: int,
               dtype: torch.dtype) -> torch.Tensor:
    """The RF table as the model built it before, row by row from the Python floats."""
    rows = [(list(sched.factors(t)) + [0.0] * t_max)[:t_max] for t in n_segments]
    return torch.tensor(rows, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_rf_table_equals_the_file_factors_bit_for_bit(demo: Path, dtype) -> None:
    sched = load_retention(demo)
    per_sample = build_model("rmaat", sched, **ARGS, rf_T="per_sample", retention=str(demo))
    n_seg = torch.tensor([3, 1, 7, 3])
    got = per_sample.rf_table(n_seg, 7, dtype)
    assert got.dtype == dtype and torch.equal(got, _old_table(sched, [3, 1, 7, 3], 7, dtype))
    fixed = build_model("rmaat", sched, **ARGS, rf_segments=6, retention=str(demo))
    got = fixed.rf_table(torch.tensor([2, 5]), 5, dtype)
    assert torch.equal(got, _old_table(sched, [6, 6], 5, dtype))
    streaming = build_model("rmaat", sched, **ARGS, rf_mode="streaming", retention=str(demo))
    got = streaming.rf_table(torch.tensor([2, 20]), 20, dtype)  # beyond the file's K = 8
    want = torch.tensor(sched.streaming_factors(20), dtype=dtype).expand(2, -1)
    assert torch.equal(got, want)


def test_rf_table_is_built_once_and_not_saved(demo: Path, monkeypatch) -> None:
    sched = load_retention(demo)
    net = build_model("rmaat", sched, **ARGS, rf_T="per_sample", retention=str(demo))
    assert not any("rf_table" in key for key in net.state_dict())  # checkpoints unchanged
    calls = []
    monkeypatch.setattr(RetentionSchedule, "factors",
                        lambda self, t: calls.append(t) or self.schedules[t])
    tokens = torch.randint(0, 11, (3, 20))
    net(tokens)
    net(tokens[:, :9])
    assert calls == []  # batches index the buffer; no per-batch rebuild from the schedule


def test_schedule_object_and_path_build_the_same_model(demo: Path) -> None:
    tokens = torch.randint(0, 11, (2, 16))
    torch.manual_seed(0)
    by_path = build_model("rmaat", **ARGS, rf_segments=4, retention=str(demo))
    torch.manual_seed(0)
    by_object = build_model("rmaat", load_retention(demo), **ARGS, rf_segments=4,
                            retention=str(demo))
    assert torch.equal(by_path(tokens), by_object(tokens))
    with pytest.raises(ValueError, match="reads none"):  # rmt has no RF: no schedule
        build_model("rmt", load_retention(demo), **ARGS)


def test_configuration_and_presets_import_no_torch() -> None:
    code = ("import sys, model, model.config, model.presets, train.spec, pipeline.retention; "
            "model.presets.preset_needs_retention('rmaat', {}); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("keys", [("3", "03"), ("3", "3"), ("3", " 3"), ("3", "+3"),
                                  ("3", "3.0"), ("3", "٣")])
def test_two_keys_for_one_T_are_refused_by_every_reader(demo: Path, keys) -> None:
    """A second key for T = 3 (written "03", "3" again, " 3", "+3", "3.0" or an Arabic-Indic
    digit) would replace the real schedule when the file is read; every reader refuses the
    file, naming it, the keys and how to regenerate it."""
    payload = json.loads(demo.read_text())
    real = json.dumps(payload["schedules"]["3"])
    bogus = json.dumps([0.5, 0.3, 0.2])  # a valid schedule for T = 3, but not the real one
    text = json.dumps(payload).replace(f'"3": {real}', f'"{keys[0]}": {real}, '
                                       f'"{keys[1]}": {bogus}', 1)
    demo.write_text(text, encoding="utf-8")
    assert text.count(real) == 1 and bogus in text
    want = r"rf\.json.*" + re.escape(repr(keys[1]))
    for read in (load_retention, read_payload):
        with pytest.raises(ValueError, match=want) as err:
            read(demo)
        assert "regenerate it" in str(err.value)
    with pytest.raises(ReadoutError, match=want):
        distill.read_retention(demo)


@pytest.mark.parametrize("key", ["03", " 3", "+3", "3.0", "٣", "0"])
def test_non_canonical_schedule_keys_are_refused(demo: Path, key: str) -> None:
    payload = json.loads(demo.read_text())
    payload["schedules"][key] = payload["schedules"].pop("3") if key != "0" else []
    with pytest.raises(ValueError, match=re.escape(f"schedule key {key!r}")):
        validate_retention(payload)


def test_duplicate_keys_elsewhere_in_the_file_are_refused(demo: Path) -> None:
    text = demo.read_text().replace('"condition": "demo"', '"condition": "demo", '
                                    '"condition": "other"', 1)
    demo.write_text(text)
    with pytest.raises(ValueError, match=r"rf\.json.*'condition' appears 2 times"):
        load_retention(demo)
