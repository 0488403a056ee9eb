# Stage 1: simulate each condition with Brian2.


rule resolve_condition:
    """Write the full parameters of one condition (base simulation + its overrides)."""
    output:
        "results/config/{condition}.json",
    params:
        resolved=PLAN.condition_params,
    log:
        "logs/resolve_condition/{condition}.log",
    localrule: True
    run:
        write_text_atomic(output[0], params.resolved)
        write_text_atomic(log[0], f"wrote {output[0]}\n")


rule simulate:
    """Rate-based neuron-astrocyte network; traces and the cycle-boundary readout."""
    input:
        "results/config/{condition}.json",
    output:
        traces="results/simulation/{condition}/traces.csv.gz",
        readout="results/simulation/{condition}/readout.csv",
        info="results/simulation/{condition}/info.json",
    params:
        python=PYTHON,
    benchmark:
        "results/benchmarks/rules/simulate/{condition}.tsv"
    log:
        "logs/simulate/{condition}.log",
    threads: 1
    resources:
        mem_mb=2000,
    shell:
        "{params.python} -m simulation run --params {input} "
        "--out-dir results/simulation/{wildcards.condition} > {log} 2>&1"


rule plot_traces:
    """Neuron, synapse and astrocytic-process traces of one condition."""
    input:
        rules.simulate.output,
    output:
        report(
            "results/plots/{condition}/traces.png",
            category="1. LTP simulation",
            subcategory="{condition}",
            caption="../report/traces.rst",
        ),
    params:
        python=PYTHON,
    log:
        "logs/plot_traces/{condition}.log",
    shell:
        "{params.python} -m simulation plot --sim-dir results/simulation/{wildcards.condition} "
        "--out {output} > {log} 2>&1"
