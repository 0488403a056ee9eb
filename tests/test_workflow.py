"""The Snakemake DAG: lint, a real run of the tiny config, and change-only reruns."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.drawn import assert_drawn
from tests.htmlpage import parse_page

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(config), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


# The one lint we answer with a decision instead of a change: the rules deliberately carry no
# conda directive (docs/outputs.md, "One environment for every rule").
ACCEPTED_LINT = "Specify a conda environment or container for each rule."


def test_lint_is_clean_apart_from_the_documented_conda_decision():
    result = snakemake(REPO, REPO / "config" / "config.yaml", "--lint")
    out = result.stdout + result.stderr
    findings = re.findall(r"^    \* (.+?):?$", out, flags=re.M)
    assert all(f.rstrip(":") == ACCEPTED_LINT for f in findings), findings
    assert "Congratulations" in out or findings, out


def test_rules_carry_no_decorative_conda_directive():
    rules = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    assert "conda:" not in rules


def test_bad_config_stops_before_any_job(tmp_path):
    config = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    config["simulation"]["dt"] = "5 s"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, bad, "--cores", "1")
    assert result.returncode != 0
    assert "simulation.dt" in result.stderr and "smaller than the cycle period" in result.stderr
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """The whole DAG on config/test.yaml, in a fresh working directory."""
    workdir = tmp_path_factory.mktemp("run")
    config = workdir / "config.yaml"
    config.write_text((REPO / "config" / "test.yaml").read_text())
    result = snakemake(workdir, config, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, config


def test_dag_produces_every_retention_file_and_plot(finished_run):
    workdir, config = finished_run
    names = list(yaml.safe_load(config.read_text())["conditions"])
    for name in names:
        retention = json.loads((workdir / "results" / "retention" / f"{name}.json").read_text())
        assert retention["condition"] == name
        assert retention["macro_model"]["r2"] >= 0.98
        assert sorted(int(t) for t in retention["schedules"]) == list(range(1, 17))
        for t, schedule in retention["schedules"].items():
            rf = np.asarray(schedule)
            assert len(rf) == int(t)
            assert np.all(rf > 0) and abs(rf.sum() - 1) < 1e-9
            assert np.all(np.diff(rf) <= 1e-15)
        for plot in ("traces", "fit", "schedules"):
            assert_drawn(workdir / "results" / "plots" / name / f"{plot}.png")
        assert (workdir / "logs" / "simulate" / f"{name}.log").exists()
    assert (workdir / "results" / "plots" / "conditions.png").exists()


def test_changing_one_condition_reruns_only_its_jobs(finished_run):
    workdir, config = finished_run
    unchanged = snakemake(workdir, config, "--dry-run")
    assert "Nothing to be done" in unchanged.stdout + unchanged.stderr
    data = yaml.safe_load(config.read_text())
    data["conditions"]["slow_ltp"]["constants"]["tau_pl"] = "9 s"
    changed = workdir / "changed.yaml"
    changed.write_text(yaml.safe_dump(data))
    result = snakemake(workdir, changed, "--dry-run")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    conditions = set(re.findall(r"condition=([A-Za-z0-9_-]+)", out))
    assert conditions == {"slow_ltp"}, out
    rules = set(re.findall(r"rule (\w+):", out))
    assert {"resolve_condition", "simulate", "distill", "compare_conditions"} <= rules


def other_interpreter(where: Path, record: Path) -> Path:
    """A second virtual environment with this one's packages: another interpreter path, the
    same code. Every process it starts appends "<sys.executable>\t<PYTHONPATH>" to
    ``record`` (a .pth line), so a test sees which interpreter and code a job really ran."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(where)], check=True, capture_output=True, timeout=120)
    python = where / "bin" / "python"
    site_dir = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    import site

    ours = [*site.getsitepackages(), site.getusersitepackages()]
    lines = [f"import site; site.addsitedir({d!r})" for d in ours if os.path.isdir(d)]
    lines.append(f"import os, sys; open({str(record)!r}, 'a').write(sys.executable + '\\t' + "
                 f"os.environ.get('PYTHONPATH', '') + '\\n')")
    Path(site_dir, "rmaat_test_parent_env.pth").write_text("\n".join(lines) + "\n")
    return python


@pytest.fixture(scope="module")
def moved_run(finished_run, tmp_path_factory):
    """The finished tiny run and the code beside it, copied (mtimes kept) to another folder,
    and another interpreter with the same packages: a project moved to another disk or
    machine. Returns (code folder, project folder, interpreter, record of its processes)."""
    workdir, _ = finished_run
    moved = tmp_path_factory.mktemp("moved")
    code, project = moved / "code", moved / "project"
    shutil.copytree(REPO, code, ignore=shutil.ignore_patterns(
        ".*", "results", "data", "logs", "__pycache__", "build", "*.egg-info"))
    shutil.copytree(workdir, project, symlinks=True)
    record = moved / "processes.txt"
    return code, project, other_interpreter(moved / "venv", record), record


def moved_snakemake(moved, python: str | Path, *args: str,
                    config: Path | None = None) -> subprocess.CompletedProcess:
    code, project, _, _ = moved
    cmd = [str(python), "-m", "snakemake", "--snakefile", str(code / "Snakefile"),
           "--directory", str(project), "--configfile", str(config or project / "config.yaml"),
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_a_moved_project_run_by_another_interpreter_is_up_to_date(moved_run):
    """Nothing Snakemake compares (params, input, code) holds the project's or the
    interpreter's path: a copy elsewhere, run by another environment, has nothing to do."""
    for python in (sys.executable, moved_run[2]):
        dry = moved_snakemake(moved_run, python, "--dry-run")
        out = dry.stdout + dry.stderr
        assert dry.returncode == 0, out[-3000:]
        assert "Nothing to be done" in out, (python, out[-3000:])


def test_a_changed_run_in_a_moved_project_keeps_its_finished_results(moved_run):
    """Changing one run's settings reruns that run only, with the interpreter running
    Snakemake and the code beside the Snakefile; its finished metrics.json, best.pt and
    last.pt end in superseded/1 although Snakemake deletes a job's outputs before it runs.
    A rerun that fails first (another process holds the run folder) leaves nothing that a
    later run could take for the new settings' result."""
    from tests.test_train_lock import start_holder

    code, project, python, record = moved_run
    run = project / "results" / "runs" / "listops" / "rmaat_no_rf" / "seed0"
    before = {name: (run / name).read_bytes() for name in ("metrics.json", "best.pt", "last.pt")}
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["experiment"]["variants"]["rmaat_no_rf"]["training"] = {"lr": 0.001}
    changed = project / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    target = "results/runs/listops/rmaat_no_rf/seed0/metrics.json"
    holder = start_holder(run)
    try:
        failed = moved_snakemake(moved_run, python, "--cores", "1", target, config=changed)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0, out[-3000:]
    assert set(re.findall(r"rule (\w+):", out)) == {"run_spec", "train"}, out[-3000:]
    log = (project / "logs" / "train" / "listops" / "rmaat_no_rf" / "seed0.log").read_text()
    assert f"pid {holder.pid}" in log and "is in use" in log
    dry = moved_snakemake(moved_run, python, "--dry-run", target, config=changed)
    assert set(re.findall(r"rule (\w+):", dry.stdout + dry.stderr)) == {"train"}
    record.unlink(missing_ok=True)
    result = moved_snakemake(moved_run, python, "--cores", "1", target, config=changed)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert set(re.findall(r"rule (\w+):", out)) == {"train"}, out[-3000:]
    kept = run / "superseded" / "1"
    assert {name: (kept / name).read_bytes() for name in before} == before
    assert json.loads((run / "metrics.json").read_text())["spec"]["lr"] == 0.001
    # the training job ran with that interpreter and the moved code first on PYTHONPATH
    jobs = [line.split("\t") for line in record.read_text().splitlines()]
    assert [str(python), str(code)] in [[exe, path.split(":")[0]] for exe, path in jobs], jobs


def test_slurm_profile_dry_run(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config" / "test.yaml").read_text())
    result = snakemake(tmp_path, config, "--dry-run", "--profile",
                       str(REPO / "workflow" / "profiles" / "slurm"))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "rule train:" in out and "rule simulate:" in out


def test_missing_task_data_dry_run_lists_it_and_a_run_stops_before_any_job(tmp_path):
    """Without the data a dry run (also through the Slurm profile) shows the paper-scale plan
    and names what is missing; a real run stops with the instructions before any job."""
    for profile in ([], ["--profile", str(REPO / "workflow" / "profiles" / "slurm")]):
        dry = snakemake(tmp_path, REPO / "config" / "paper.yaml", "--dry-run", *profile)
        out = dry.stdout + dry.stderr
        assert dry.returncode == 0, out[-3000:]
        assert "warning: data missing" in out and "Expected layout" in out
        assert re.search(r"^train\s+\d{2,}$", out, flags=re.M), out[-3000:]  # the whole plan
    run = snakemake(tmp_path, REPO / "config" / "paper.yaml", "--cores", "1")
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert "error: data missing, nothing was run" in out
    assert "Expected layout" in out and "long-range-arena" in out and "generate" in out
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_only_runs_that_read_a_retention_file_depend_on_it(tmp_path):
    targets = [f"results/runs/majority/{v}/seed0/metrics.json" for v in ("rmt", "rlt", "rmaat")]
    result = snakemake(tmp_path, REPO / "config" / "config.yaml", "--dry-run", *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    inputs = dict(re.findall(r"input: (results/runs/majority/(\w+)/seed0/spec\.json[^\n]*)",
                             result.stdout)[i][::-1] for i in range(3))
    assert "retention" not in inputs["rmt"] and "retention" not in inputs["rlt"]
    assert "results/retention/baseline.json" in inputs["rmaat"]


def test_an_impossible_experiment_stops_before_any_job(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["experiment"]["variants"]["rmaat_bptt"]["tasks"] = ["listop"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, bad, "--dry-run")
    assert result.returncode != 0
    assert "experiment.variants.rmaat_bptt.tasks" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_claims_scorecard_recomputes_from_metrics(finished_run):
    import pandas as pd

    workdir, config = finished_run
    claims = yaml.safe_load(config.read_text())["experiment"]["claims"]
    table = pd.read_csv(workdir / "results" / "claims.csv")
    assert list(table["id"]) == [c["id"] for c in claims]
    assert set(table["verdict"]) <= {"reproduced", "contradicted", "inconclusive"}
    runs = workdir / "results" / "runs"
    metrics = {v: json.loads((runs / "listops" / v / "seed0" / "metrics.json").read_text())
               for v in ("rmaat", "rmaat_no_rf")}
    row = table.set_index("id").loc["rf_helps"]
    assert row["effect"] == pytest.approx(100 * (metrics["rmaat"]["test_acc"]  # points
                                                 - metrics["rmaat_no_rf"]["test_acc"]))
    assert row["n"] == 1 and row["verdict"] == "inconclusive"  # one seed: no test possible
    # the tiny ListOps spans several segments, so RF is applied: two different models
    assert metrics["rmaat"]["test_loss"] != metrics["rmaat_no_rf"]["test_loss"]
    assert len(metrics["rmaat"]["rf_factors_final"]) == 5  # T = 20 tokens / 4
    assert metrics["rmaat_no_rf"]["rf_factors_final"] is None
    assert len(metrics["rmaat"]["test_predictions"]) == metrics["rmaat"]["n_test"]
    assert (workdir / "results" / "data" / "recall.json").exists()
    page = parse_page((workdir / "results" / "report.html").read_text())
    assert "claims at this scale" in page.text
    # the dose-response (config/test.yaml: tau_pl 2 s and the baseline's 4 s)
    dose = pd.read_csv(workdir / "results" / "dose_response.csv")
    doses = dose[dose["kind"] == "dose"]
    assert len(doses) == 2 and doses["tau_ltp_segments"].is_monotonic_increasing
    assert set(dose["kind"]) == {"dose", "no_rf"}
    summary = json.loads((workdir / "results" / "dose_response.json").read_text())
    assert summary["reading"] == "1 seed(s) ran every value: no trend test"
    assert "Dose-response" in page.text


def test_slurm_profile_asks_for_the_rules_threads_not_a_fixed_cpu_count():
    profile = yaml.safe_load((REPO / "workflow" / "profiles" / "slurm" / "config.yaml").read_text())
    fixed = [name for name, res in {"default": profile["default-resources"],
                                     **profile["set-resources"]}.items()
             if "cpus_per_task" in res]
    assert not fixed, f"cpus_per_task fixed for {fixed}; the plugin should use threads"


def test_report_reads_only_its_declared_inputs(finished_run):
    """A stray file in results/ (the README's demo retention JSON) neither breaks nor enters
    the report; the rule benchmark files and the single-seed cells are shown as such."""
    workdir, config = finished_run
    demo = workdir / "results" / "retention" / "demo.json"
    demo.write_text(json.dumps({"schedules": {"1": [1.0]}}))  # not a distill result
    try:  # the finished run is shared by the module's tests: never leave the stray file
        (workdir / "results" / "report.html").unlink()
        result = snakemake(workdir, config, "--cores", "1", "results/report.html")
    finally:
        demo.unlink()
    assert result.returncode == 0, result.stderr[-3000:]
    # parsed: text and attributes, never the base64 of the embedded PNGs
    page = parse_page((workdir / "results" / "report.html").read_text())
    assert not page.mentions("demo")
    names = list(yaml.safe_load(config.read_text())["conditions"])
    assert all(name in page.cells for name in names)
    assert "Workflow jobs (Snakemake benchmark files)" in page.text and "simulate" in page.cells
    assert "(1 seed)" in page.text and "± 0.0 (n=1)" not in page.text


def test_snakemake_report_archive_holds_the_plots_and_tables(finished_run, tmp_path):
    import zipfile

    workdir, config = finished_run
    archive = tmp_path / "report.zip"
    result = snakemake(workdir, config, "--report", str(archive))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    # the archive keeps each marked file under report/data/raw/<hash>/<file name>
    raw = [Path(n).name for n in zipfile.ZipFile(archive).namelist() if "/data/raw/" in n]
    from pipeline.config import validate_config

    # the config's conditions and the dose-response's (dose_<parameter>_<value>)
    conditions = len(validate_config(yaml.safe_load(config.read_text()))["conditions"])
    for name, count in (("fit.png", conditions), ("traces.png", conditions),
                        ("schedules.png", conditions), ("conditions.png", 1),
                        ("accuracy.csv", 1), ("runs.csv", 1), ("claims.csv", 1),
                        ("report.html", 1)):
        assert raw.count(name) == count, (name, raw)
