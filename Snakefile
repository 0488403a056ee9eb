"""RMAAT: from a neuron-astrocyte simulation to retention schedules (and, later, to LRA).

    snakemake --cores 8                            # default configuration
    snakemake --cores 8 --configfile other.yaml    # another configuration
"""

import os
import shlex  # used by the rules (workflow/rules/experiment.smk)
import sys

from pipeline.config import validate_config
from pipeline.folders import check_output_folders
from workflow.plan import RUN_DIR, Plan

# --configfile FILE replaces the default configuration (no merging of conditions).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"



# Validate before anything runs: unknown keys, bad values and bad units stop here.
config = validate_config(config)
check_output_folders(config)  # results/, data/, logs/: no broken link, no file in their place
# The interpreter running Snakemake also runs the stages (no reliance on PATH), and the stages
# are this checkout's packages (first on PYTHONPATH), whichever copy is installed: a workflow
# run with --directory elsewhere, or from a second checkout, runs the code beside its rules.
# Both paths reach the jobs through the environment (set again wherever Snakemake parses this
# file, Slurm jobs included), never through the rules' text: Snakemake reruns a job whose
# params or shell code differ from the last run's, so an absolute path there would rerun
# every job of a project copied to another folder or run from another environment. Set here,
# not required from the caller (no envvars directive): a remote job's own Snakemake sets its own.
os.environ.update({"RMAAT_PYTHON": sys.executable, "RMAAT_CODE": workflow.basedir})
PYTHON = 'PYTHONPATH="$RMAAT_CODE${PYTHONPATH:+:$PYTHONPATH}" "$RMAAT_PYTHON"'
# Every job and the files that join them (workflow/plan.py), planned once; an impossible
# experiment stops here, before any job. --cores is asked only when a job's threads are, and
# never sizes a job on a cluster (where Snakemake leaves it unset: pipeline/cluster.py).
PLAN = Plan(config, python=PYTHON, cores=lambda: workflow.resource_settings.cores,
            local=lambda: workflow.local_exec)
CONDITIONS = PLAN.conditions


# `snakemake --report report.zip`: the files marked with report() in the rules, with captions.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/distill.smk"
include: "workflow/rules/sweeps.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/experiment.smk"
include: "workflow/rules/train.smk"


rule all:
    input:
        expand("results/retention/{condition}.json", condition=CONDITIONS),
        expand("results/plots/{condition}/traces.png", condition=CONDITIONS),
        expand("results/plots/{condition}/fit.png", condition=CONDITIONS),
        expand("results/plots/{condition}/schedules.png", condition=CONDITIONS),
        "results/plots/conditions.png",
        PLAN.sweep_targets,
        SENSITIVITY_TARGETS,
        PLAN.dose_targets,
        PLAN.report_targets,
    default_target: True
