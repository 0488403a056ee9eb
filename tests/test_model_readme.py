"""The README's "Using the model from Python" code block runs (x-transformers style)."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("one_torch_thread")


ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Using the model from Python"


def quickstart_code() -> str:
    """First ```python block after the "Using the model from Python" heading of README.md."""
    source = ROOT / "README.md"
    text = source.read_text(encoding="utf-8")
    assert HEADING in text, f"README.md has no section {HEADING!r}"
    text = text[text.index(HEADING):]
    match = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert match, f"no python code block after {HEADING!r} in {source}"
    return match.group(1)


def test_quickstart_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the snippet writes results/retention/demo.json here
    import torch

    torch.manual_seed(0)  # the snippet draws its weights and data: the same ones every run
    exec(compile(quickstart_code(), "quickstart", "exec"), {"__name__": "__quickstart__"})
    out = capsys.readouterr().out
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", out)]
    assert len(losses) == 3 and all(0 < x < 5 for x in losses)
    assert "torch.Size([8, 2])" in out
    assert (tmp_path / "results" / "retention" / "demo.json").is_file()
