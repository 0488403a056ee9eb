"""A broken `results`, `data` or `logs` link is a clear error before any job (not a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import validate_config
from pipeline.folders import FolderError, check_output_folders, folder_problem

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_usable_folders_and_links_pass(in_tmp):
    (in_tmp / "elsewhere").mkdir()
    os.symlink(in_tmp / "elsewhere", "data")  # data -> another disk: fine
    (in_tmp / "logs").mkdir()
    for path in ("results", "results/runs", "data", "data/test/listops", "logs"):
        assert folder_problem(path) is None, path


def test_a_dangling_link_names_the_link_its_target_and_what_to_do(in_tmp):
    os.symlink("/nonexistent/scratch/results", "results")
    problem = folder_problem("results/runs/listops")
    assert "'results' is a link to '/nonexistent/scratch/results', which does not exist" in problem
    assert "mount" in problem and "rm results" in problem


def test_a_looping_link_is_named(in_tmp):
    os.symlink("logs", "logs")
    problem = folder_problem("logs/train")
    assert "'logs' is a link that loops" in problem and "rm logs" in problem


def test_a_file_where_a_folder_belongs_is_named(in_tmp):
    Path("target.txt").write_text("x")
    os.symlink("target.txt", "data")
    assert "'data' is a link to 'target.txt', which is not a folder" in folder_problem("data/x")
    Path("results").write_text("x")
    assert "'results' is a file, not a folder" in folder_problem("results")


def test_check_output_folders_covers_the_configured_writers(in_tmp):
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["simulation"]["cache_dir"] = "cache/brian"
    config = validate_config(config)
    check_output_folders(config)  # nothing there yet: fine
    os.symlink("/nonexistent/cache", "cache")
    with pytest.raises(FolderError, match="simulation.cache_dir.*'cache' is a link to"):
        check_output_folders(config)


def test_snakemake_stops_with_the_message_before_any_job(tmp_path):
    """A looping `results` link: a traceback from Snakemake's file inventory before."""
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config" / "test.yaml").read_text())
    os.symlink("results", tmp_path / "results")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(tmp_path), "--configfile", str(config), "--dry-run"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'results' is a link that loops" in out, out[-3000:]
    assert "Traceback" not in out and "Errno" not in out, out[-3000:]
