"""RMAAT: from a neuron-astrocyte simulation to retention schedules (and, later, to LRA).

    snakemake --cores 8                            # default configuration
    snakemake --cores 8 --configfile other.yaml    # another configuration
"""

import shlex
import sys

from pipeline.config import condition_names, validate_config

# --configfile FILE replaces the default configuration (no merging of conditions).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"



# Validate before anything runs: unknown keys, bad values and bad units stop here.
config = validate_config(config)
CONDITIONS = condition_names(config)
# The interpreter running Snakemake also runs the stages (no reliance on PATH), and the stages
# are this checkout's packages (first on PYTHONPATH), whichever copy is installed: a workflow
# run with --directory elsewhere, or from a second checkout, runs the code beside its rules.
PYTHON = (
    f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}} "
    f"{shlex.quote(sys.executable)}"
)


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
        SWEEP_TARGETS,
        SENSITIVITY_TARGETS,
        REPORT_TARGETS,
    default_target: True
