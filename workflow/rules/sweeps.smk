# Parameter sweeps: each point is resolved, simulated and distilled on its own (a changed
# point reruns alone); the sweep's table and plots aggregate all points.
from pathlib import Path

from pipeline.config import dump_resolved
from pipeline.sweeps import base_parameters, resolve_sweep_point, sweep_uses_standalone

SWEEPS = PLAN.sweeps
SWEEP_EXPANDED = PLAN.sweep_expanded
SWEEP_POINTS = PLAN.sweep_points
# Full parameters of a sweep point; as a rule's params, a change reruns only that point.
SWEEP_PARAMS = lambda sweep, point: resolve_sweep_point(
    config, sweep, point, SWEEP_EXPANDED[sweep]
)


wildcard_constraints:
    sweep="|".join(SWEEPS) if SWEEPS else "(?!)",
    point=r"p\d{3}",


rule sweep_build:
    """Compile the sweep's C++ standalone project once (all points reuse it). Built from the
    sweep's base parameters, so that changing one point never reruns it (and every point);
    a point whose swept parameter changes the structure (e.g. n_pairs) builds its own."""
    output:
        build="results/sweeps/{sweep}/build.json",
        params="results/sweeps/{sweep}/build_params.json",
    params:
        python=PYTHON,
        resolved=lambda wc: dump_resolved(
            {**base_parameters(config, wc.sweep), "condition": f"{wc.sweep}-build"}
        ),
    log:
        "logs/sweep_build/{sweep}.log",
    threads: 2
    shell:
        "printf '%s\\n' {params.resolved:q} > {output.params} "
        "&& {params.python} -m simulation build --params {output.params} "
        "--out {output.build} > {log} 2>&1"


rule sweep_simulate:
    """Write one point's full parameters and simulate it (C++ standalone: run the shared
    binary with this point's values). No Python for the parameters: a run: job would re-parse
    the workflow, seconds per point."""
    input:
        # the shared compiled project (C++ standalone sweeps) before any point runs
        build=lambda wc: (
            [f"results/sweeps/{wc.sweep}/build.json"]
            if sweep_uses_standalone(config, wc.sweep)
            else []
        ),
    output:
        params="results/sweeps/{sweep}/points/{point}/params.json",
        traces="results/sweeps/{sweep}/points/{point}/traces.csv.gz",
        readout="results/sweeps/{sweep}/points/{point}/readout.csv",
        info="results/sweeps/{sweep}/points/{point}/info.json",
    params:
        python=PYTHON,
        # base + swept values; a change reruns only this point's jobs
        resolved=lambda wc: dump_resolved(SWEEP_PARAMS(wc.sweep, wc.point)),
    benchmark:
        "results/benchmarks/rules/sweep_simulate/{sweep}/{point}.tsv"
    log:
        "logs/sweep_simulate/{sweep}/{point}.log",
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "printf '%s\\n' {params.resolved:q} > {output.params}.tmp "
        "&& mv {output.params}.tmp {output.params} "
        "&& {params.python} -m simulation run --params {output.params} --no-progress "
        "--out-dir results/sweeps/{wildcards.sweep}/points/{wildcards.point} > {log} 2>&1"


rule sweep_fit:
    """Distill one point; a readout that does not saturate is recorded, not an error."""
    input:
        readout="results/sweeps/{sweep}/points/{point}/readout.csv",
        params="results/sweeps/{sweep}/points/{point}/params.json",
    output:
        "results/sweeps/{sweep}/points/{point}/fit.json",
    params:
        python=PYTHON,
        max_segments=config["retention"]["max_segments"],
    log:
        "logs/sweep_fit/{sweep}/{point}.log",
    shell:
        "{params.python} -m distill.sweeps fit-point --readout {input.readout} "
        "--params {input.params} --max-segments {params.max_segments} --out {output} > {log} 2>&1"


rule sweep_aggregate:
    """Table (parameter -> macro model, R2, tau/plateau, RF(t, T), status) and plots."""
    input:
        fits=lambda wc: expand(
            "results/sweeps/{sweep}/points/{point}/fit.json",
            sweep=wc.sweep,
            point=SWEEP_POINTS[wc.sweep],
        ),
    output:
        table=report(
            "results/sweeps/{sweep}/table.csv",
            category="3. Parameter sweeps",
            subcategory="{sweep}",
            caption="../report/sweep.rst",
        ),
        curves=report(
            "results/sweeps/{sweep}/ltp_curves.png",
            category="3. Parameter sweeps",
            subcategory="{sweep}",
            caption="../report/sweep.rst",
        ),
        fit=report(
            "results/sweeps/{sweep}/fit_vs_parameter.png",
            category="3. Parameter sweeps",
            subcategory="{sweep}",
            caption="../report/sweep.rst",
        ),
        schedules=report(
            "results/sweeps/{sweep}/schedules.png",
            category="3. Parameter sweeps",
            subcategory="{sweep}",
            caption="../report/sweep.rst",
        ),
    params:
        python=PYTHON,
        segments=lambda wc: " ".join(map(str, config["sweeps"][wc.sweep]["schedule_segments"])),
    log:
        "logs/sweep_aggregate/{sweep}.log",
    shell:
        "{params.python} -m distill.sweeps aggregate --sweep-dir results/sweeps/{wildcards.sweep} "
        "--segments {params.segments} --fits {input.fits} > {log} 2>&1"


rule sweep_heatmap:
    """Heat maps of a two-parameter sweep (t63, plateau, RF(1, T))."""
    input:
        table=rules.sweep_aggregate.output.table,
        fits=rules.sweep_aggregate.input.fits,
    output:
        report(
            "results/sweeps/{sweep}/heatmap.png",
            category="3. Parameter sweeps",
            subcategory="{sweep}",
            caption="../report/sweep.rst",
        ),
    params:
        python=PYTHON,
        segments=lambda wc: " ".join(map(str, config["sweeps"][wc.sweep]["schedule_segments"])),
    log:
        "logs/sweep_heatmap/{sweep}.log",
    shell:
        "{params.python} -m distill.sweeps aggregate --sweep-dir results/sweeps/{wildcards.sweep} "
        "--segments {params.segments} --fits {input.fits} --heatmap-only > {log} 2>&1"
