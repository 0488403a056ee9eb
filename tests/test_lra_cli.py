"""`python -m lra`: generate, preprocess and inspect end to end on small data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from lra.cli import main

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, dict | str]:
    code = main(["--quiet", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def test_generate_preprocess_inspect_listops(tmp_path, capsys):
    code, result = run(
        capsys,
        "generate",
        "listops",
        "--out",
        str(tmp_path / "listops-1000"),
        "--train",
        "40",
        "--val",
        "5",
        "--test",
        "5",
        "--min-len",
        "10",
        "--max-len",
        "100",
        "--seed",
        "4",
    )
    assert code == 0 and result["examples"] == 50
    code, result = run(
        capsys, "preprocess", "listops", "--root", str(tmp_path), "--cache", str(tmp_path / "c")
    )
    assert code == 0 and result["counts"] == {"train": 40, "val": 5, "test": 5}
    assert len(list((tmp_path / "c").iterdir())) == 1
    code, result = run(
        capsys, "inspect", "listops", "--root", str(tmp_path), "--out", str(tmp_path / "report")
    )
    assert code == 0 and result["splits"]["train"]["examples"] == 40
    assert sum(result["splits"]["train"]["label_counts"]) == 40
    assert 10 < result["splits"]["train"]["length_min"] <= result["splits"]["train"]["length_max"]
    examples = (tmp_path / "report" / "examples.txt").read_text()
    assert "[train 0] label" in examples and "]" in examples
    assert (tmp_path / "report" / "lengths.png").stat().st_size > 0
    assert (tmp_path / "report" / "lengths.csv").read_text().startswith("bin_start,bin_end,train")


def test_generate_and_inspect_pathfinder_grid(tmp_path, capsys):
    code, result = run(
        capsys,
        "generate",
        "pathfinder",
        "--out",
        str(tmp_path / "pathfinder32"),
        "--n",
        "12",
        "--per-shard",
        "6",
        "--workers",
        "2",
        "--seed",
        "1",
    )
    assert code == 0 and result["images"] == 12
    code, result = run(
        capsys, "inspect", "pathfinder", "--root", str(tmp_path), "--out", str(tmp_path / "r")
    )
    assert code == 0
    counts = result["splits"]["train"]["label_counts"]
    assert sum(counts) == 9 and result["lra"] is True  # 80 % of 12
    with Image.open(tmp_path / "r" / "grid.png") as grid:
        assert grid.size[0] > 300 and np.asarray(grid).std() > 10


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed IDX file of unsigned bytes (the Fashion-MNIST format)."""
    magic = (0x08 << 8) | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_inspect_fashion_mnist_is_labelled_not_lra(tmp_path, capsys):
    rng = np.random.default_rng(0)
    (tmp_path / "fm").mkdir()
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(
            tmp_path / "fm" / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28))
        )
        write_idx(tmp_path / "fm" / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    code, result = run(
        capsys,
        "inspect",
        "fashion_mnist",
        "--root",
        str(tmp_path / "fm"),
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 0 and result["lra"] is False
    assert result["title"] == "Fashion-MNIST (not LRA)"
    assert "not LRA" in (tmp_path / "r" / "examples.txt").read_text()
    assert (tmp_path / "r" / "grid.png").is_file()


def test_missing_root_is_a_clear_error(tmp_path, capsys):
    code, err = run(
        capsys, "preprocess", "retrieval", "--root", str(tmp_path), "--cache", str(tmp_path / "c")
    )
    assert code == 2
    assert "tsv_data/new_aan_pairs.train.tsv" in err and "lra_release" in err


def test_module_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "lra", "--help"],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == 0
    assert "generate" in proc.stdout and "preprocess" in proc.stdout and "inspect" in proc.stdout


def test_quiet_after_subcommand_hides_progress(tmp_path, capsys, monkeypatch):
    """Bars only on a terminal and without --quiet (given after the subcommand too)."""
    argv = ["generate", "listops", "--out", str(tmp_path), "--train", "5", "--val", "1",
            "--test", "1", "--min-len", "5", "--max-len", "60"]  # fmt: skip
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main([*argv, "--quiet"]) == 0
    assert "tree/s" not in capsys.readouterr().err
    assert main(argv) == 0
    assert "tree/s" in capsys.readouterr().err


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert main(["generate", "listops", "--out", str(tmp_path), "--train", "5", "--val", "1",
                 "--test", "1", "--min-len", "5", "--max-len", "60"]) == 0
    err = capsys.readouterr().err
    assert "tree/s" not in err and "\r" not in err
