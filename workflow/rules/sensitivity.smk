# Sensitivity analysis (docs/design.md §2.4): which biological parameters move the schedule.
# One plan file per (condition, parameter), written without Python, so that a changed
# parameter or step reruns only its own plan; one job per condition simulates and distills
# the points, reusing every point whose parameters did not change (per-point cache).
from pipeline.config import dump_resolved, resolve_condition
from pipeline.sensitivity import condition_parameters, perturbation, sensitivity_segments
from pipeline.sensitivity import sensitivity_targets

SENSITIVITY_CONDITIONS = PLAN.sensitivity_conditions
SENSITIVITY_PARAMETERS = {c: condition_parameters(config, c) for c in SENSITIVITY_CONDITIONS}
SENSITIVITY_TARGETS = sensitivity_targets(config)
SENSITIVITY_MODELS = {c: resolve_condition(config, c)["model"] for c in SENSITIVITY_CONDITIONS}


wildcard_constraints:
    parameter=r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*",


rule sensitivity_plan:
    """The two points (value * (1 -/+ step)) of one parameter of one condition, with their full
    parameters or the reason a point is invalid; a change reruns only this parameter."""
    output:
        "results/sensitivity/{condition}/points/{parameter}.json",
    params:
        plan=lambda wc: dump_resolved(perturbation(config, wc.condition, wc.parameter)),
    log:
        "logs/sensitivity_plan/{condition}/{parameter}.log",
    localrule: True
    shell:
        "printf '%s\\n' {params.plan:q} > {output}.tmp && mv {output}.tmp {output} "
        "&& echo 'wrote {output}' > {log}"


rule sensitivity:
    """Simulate and distill every point of one condition not already in its cache, then the
    table, tornado plot and summary."""
    input:
        plans=lambda wc: expand(
            "results/sensitivity/{condition}/points/{parameter}.json",
            condition=wc.condition,
            parameter=SENSITIVITY_PARAMETERS[wc.condition],
        ),
        readout="results/simulation/{condition}/readout.csv",
        params="results/config/{condition}.json",
    output:
        csv=report(
            "results/sensitivity/{condition}.csv",
            category="3b. Sensitivity of the schedule",
            subcategory="{condition}",
            caption="../report/sensitivity.rst",
        ),
        png=report(
            "results/sensitivity/{condition}.png",
            category="3b. Sensitivity of the schedule",
            subcategory="{condition}",
            caption="../report/sensitivity.rst",
        ),
        summary="results/sensitivity/{condition}.json",
    params:
        python=PYTHON,
        max_segments=config["retention"]["max_segments"],
        segments=" ".join(map(str, sensitivity_segments(config))) if SENSITIVITY_CONDITIONS else "",
        threshold=(config.get("sensitivity") or {}).get("threshold"),
        tolerance=(config.get("sensitivity") or {}).get("tolerance"),
    benchmark:
        "results/benchmarks/rules/sensitivity/{condition}.tsv"
    log:
        "logs/sensitivity/{condition}.log",
    threads: 1
    resources:
        # a tripartite point with another cycle period builds its own C++ standalone project:
        # Brian2's parallel make peaked at 2.8 GB
        mem_mb=lambda wc: 4000 if SENSITIVITY_MODELS[wc.condition] == "tripartite" else 2000,
    shell:
        "{params.python} -m distill.sensitivity run --plans {input.plans} "
        "--base-readout {input.readout} --base-params {input.params} "
        "--max-segments {params.max_segments} --segments {params.segments} "
        "--threshold {params.threshold} --tolerance {params.tolerance} "
        "--cache-dir results/sensitivity/{wildcards.condition}/cache "
        "--out-csv {output.csv} --out-png {output.png} --out-json {output.summary} "
        "> {log} 2>&1"
