"""pyproject.toml and environment.yml describe the same dependencies; CI runs the README."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def _normalise(requirement: str) -> str:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-") + spec.replace(" ", "")


# Extras that environment.yml does not install (optional comparisons, not the pipeline).
NOT_IN_ENVIRONMENT = {"peers"}


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_environment_yml_lists_the_pyproject_dependencies():
    project = _pyproject()
    wanted = {_normalise(r) for r in project["dependencies"]}
    for extra, requirements in project["optional-dependencies"].items():
        if extra not in NOT_IN_ENVIRONMENT:
            # "rmaat[workflow]" inside an extra refers to another extra, not a package.
            wanted |= {_normalise(r) for r in requirements if not r.startswith("rmaat[")}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    listed = {_normalise(r) for r in pip if not r.startswith("-e")}
    assert listed == wanted, (
        f"only in pyproject: {sorted(wanted - listed)}; only in environment.yml: "
        f"{sorted(listed - wanted)}"
    )
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert "3.11" in python and project["requires-python"] == ">=3.11"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    commands = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, flags=re.S)
    test_command = next(line for block in commands for line in block.splitlines()
                        if "pytest" in line)
    assert test_command.strip() in ci


def test_base_install_leaves_out_the_workflow_and_simulation_tools():
    base = {_normalise(r).split("=")[0].split(">")[0].split("<")[0]
            for r in _pyproject()["dependencies"]}
    assert {"torch", "numpy", "scipy", "einops"} <= base
    assert not base & {"snakemake", "brian2", "snakemake-executor-plugin-slurm", "pytest"}


def test_console_scripts_point_at_existing_entry_points():
    import importlib

    for name, target in _pyproject()["scripts"].items():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), name


def test_every_command_line_reports_the_package_version():
    import subprocess
    import sys
    from importlib.metadata import version

    for module in ("simulation", "distill", "distill.sweeps", "lra", "train", "analysis",
                   "report"):
        out = subprocess.run([sys.executable, "-m", module, "--version"], cwd=REPO,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().endswith(version("rmaat")), (module, out.stdout)


def test_every_command_line_option_has_help_text(monkeypatch):
    """Each stage's argparse options all say what they are (``--help`` is read by users)."""
    import argparse
    import importlib

    missing: list[str] = []
    original = argparse._ActionsContainer.add_argument

    def recording(self, *args, **kwargs):
        action = original(self, *args, **kwargs)
        if action.help in (None, "") and action.option_strings and "--help" not in args:
            missing.append("/".join(action.option_strings))
        return action

    monkeypatch.setattr(argparse._ActionsContainer, "add_argument", recording)
    for module, entry in (("simulation.__main__", "main"), ("distill.__main__", "main"),
                          ("distill.sweeps.__main__", "main"),
                          ("lra.cli", "main"), ("train.__main__", "main"),
                          ("analysis.__main__", "main"),
                          ("report.__main__", "main")):
        missing.clear()
        with pytest.raises(SystemExit):
            getattr(importlib.import_module(module), entry)(["--help"])
        assert not missing, f"{module}: options without help: {missing}"
