# Stage 2: fit the macro model to each condition's readout; retention schedules RF(t, T).


rule distill:
    """Fit the saturating candidates, select by AICc, write RF(t, T) for T = 1..max_segments;
    warning:/error: lines are copied from the log to stderr."""
    input:
        readout="results/simulation/{condition}/readout.csv",
    output:
        retention="results/retention/{condition}.json",
        fit_plot=report(
            "results/plots/{condition}/fit.png",
            category="2. Macro-model fits and retention schedules",
            subcategory="{condition}",
            caption="../report/fit.rst",
        ),
        schedule_plot=report(
            "results/plots/{condition}/schedules.png",
            category="2. Macro-model fits and retention schedules",
            subcategory="{condition}",
            caption="../report/schedules.rst",
        ),
    params:
        python=PYTHON,
        max_segments=config["retention"]["max_segments"],
        quantity=PLAN.readout_quantity,
    log:
        "logs/distill/{condition}.log",
    shell:
        "{params.python} -m distill fit --readout {input.readout} --condition {wildcards.condition} "
        "--max-segments {params.max_segments} --out {output.retention} "
        "--quantity {params.quantity} --plot-dir results/plots/{wildcards.condition} > {log} 2>&1 "
        # warnings and errors also reach the console, not only the log
        "&& status=0 || status=$?; grep -E '^(warning|error):' {log} >&2 || true; exit $status"


rule compare_conditions:
    """Fitted LTP curves and retention schedules of all conditions side by side."""
    input:
        retention=expand("results/retention/{condition}.json", condition=CONDITIONS),
        readout=expand("results/simulation/{condition}/readout.csv", condition=CONDITIONS),
    output:
        report(
            "results/plots/conditions.png",
            category="2. Macro-model fits and retention schedules",
            caption="../report/conditions.rst",
        ),
    params:
        python=PYTHON,
        segments=config["retention"]["compare_segments"],
    log:
        "logs/compare_conditions.log",
    shell:
        "{params.python} -m distill compare --retention {input.retention} --readout {input.readout} "
        "--T {params.segments} --out {output} > {log} 2>&1"
