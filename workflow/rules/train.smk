# Stage 4: datasets -> training (task x variant x seed) -> tables -> report.
import os



rule prepare_data:
    """Generate (ListOps, Pathfinder) or check the task's files, then build the token cache."""
    output:
        "results/data/{task}.json",
    params:
        task_config=PLAN.task_config_json,
        commands=PLAN.generate_commands,
        preprocess=PLAN.preprocess_command,
    log:
        "logs/prepare_data/{task}.log",
    threads: 2
    shell:
        "({params.commands}) > {log} 2>&1 && "
        "{params.preprocess} > {output}.tmp 2>> {log} && mv {output}.tmp {output}"


rule run_spec:
    """All settings of one run; a change reruns only that run."""
    output:
        f"{RUN_DIR}/spec.json",
    params:
        spec=PLAN.spec_json,
    log:
        "logs/run_spec/{task}/{variant}/seed{seed}.log",
    localrule: True
    run:
        write_text_atomic(output[0], params.spec)
        write_text_atomic(log[0], f"wrote {output[0]}\n")


rule train:
    """Train, validate each epoch, keep the best checkpoint, test (resumes from last.pt)."""
    input:
        unpack(PLAN.train_inputs),
    output:
        f"{RUN_DIR}/metrics.json",
    params:
        python=PYTHON,
        out_dir=lambda w, output: os.path.dirname(output[0]),
    benchmark:
        "results/benchmarks/rules/train/{task}/{variant}/seed{seed}.tsv"
    log:
        "logs/train/{task}/{variant}/seed{seed}.log",
    threads: PLAN.train_threads
    resources:
        torch_threads=PLAN.torch_threads,
        mem_mb=PLAN.mem_mb,
        runtime=PLAN.runtime_min,
        gpu=PLAN.gpus,
    shell:
        "{params.python} -m train run --spec {input.spec} --out-dir {params.out_dir} "
        "--threads {resources.torch_threads} > {log} 2>&1"


rule aggregate:
    """Accuracy table (mean ± std over seeds) and per-run memory / speed table."""
    input:
        PLAN.run_metrics(),
    output:
        runs=report("results/tables/runs.csv", category="4. Accuracy, memory and speed",
                    caption="../report/runs.rst"),
        accuracy=report("results/tables/accuracy.csv", category="4. Accuracy, memory and speed",
                        caption="../report/accuracy.rst"),
        accuracy_md="results/tables/accuracy.md",
    params:
        python=PYTHON,
        skipped=PLAN.skipped_json(),
    log:
        "logs/aggregate.log",
    shell:
        "{params.python} -m analysis aggregate --metrics {input} --out-dir results/tables "
        "--skipped {params.skipped:q} > {log} 2>&1"


rule report:
    """One self-contained HTML page from this rule's inputs only: LTP fits, schedules, sweeps,
    accuracy, claims, memory and speed (runs, benchmarks, every timed job), curves."""
    input:
        unpack(PLAN.report_inputs),
    output:
        report(
            "results/report.html",
            category="0. Overview",
            caption="../report/report.rst",
        ),
    params:
        python=PYTHON,
        skipped=PLAN.skipped_json(),
        optional=PLAN.report_options,
    log:
        "logs/report.log",
    shell:
        "{params.python} -m report --out {output} --skipped {params.skipped:q} "
        "{params.optional} > {log} 2>&1"


rule claims_config:
    """The experiment.claims list and the study's statistics settings as JSON; a change
    reruns only the scorecard."""
    output:
        "results/tables/claims_config.json",
    params:
        claims=PLAN.claims_json(),
    log:
        "logs/claims_config.log",
    localrule: True
    run:
        write_text_atomic(output[0], params.claims)
        write_text_atomic(log[0], f"wrote {output[0]}\n")


rule dose_config:
    """The dose-response plan as JSON (values, their conditions and variants, references)."""
    output:
        "results/tables/dose_config.json",
    params:
        plan=lambda w: PLAN.dose_config_json(),
    log:
        "logs/dose_config.log",
    localrule: True
    run:
        write_text_atomic(output[0], params.plan)
        write_text_atomic(log[0], f"wrote {output[0]}\n")


rule dose_response:
    """Accuracy against the LTP time constant of each value's schedule, with a trend test."""
    input:
        plan="results/tables/dose_config.json",
        metrics=lambda w: PLAN.dose_metrics(),
        retention=lambda w: PLAN.dose_retention(),
    output:
        csv=report("results/dose_response.csv", category="5. Claims",
                   caption="../report/dose_response.rst"),
        json="results/dose_response.json",
    params:
        python=PYTHON,
    log:
        "logs/dose_response.log",
    shell:
        "{params.python} -m analysis dose-response --plan {input.plan} "
        "--metrics {input.metrics} --retention {input.retention} "
        "--out-csv {output.csv} --out-json {output.json} > {log} 2>&1"


rule claims_memory:
    """Peak memory of BPTT and AMRB at the study's model size (for the memory claim)."""
    output:
        "results/benchmarks/claims_memory.csv",
    params:
        python=PYTHON,
        args=lambda w: PLAN.bench_memory_args(),
    log:
        "logs/claims_memory.log",
    shell:
        "{params.python} -m benchmarks.bench_memory {params.args} --out results/benchmarks/claims "
        "> {log} 2>&1 && mv results/benchmarks/claims/memory.csv {output}"


rule claims_speed:
    """Training step time of rmaat (AMRB) and rmt (BPTT) at the speed claim's segments x
    segment length, as the paper measured its speed-up, on the device that runs the job."""
    output:
        "results/benchmarks/claims_speed.csv",
    params:
        python=PYTHON,
        args=lambda w: PLAN.bench_speed_args(),
    benchmark:
        "results/benchmarks/rules/claims_speed.tsv"
    log:
        "logs/claims_speed.log",
    shell:
        "{params.python} -m benchmarks.bench_speed_claim {params.args} --out {output}.tmp "
        "> {log} 2>&1 && mv {output}.tmp {output}"


rule claims:
    """The claims scorecard: each claim of the paper, ours, a paired test and a verdict."""
    input:
        metrics=PLAN.run_metrics(),
        claims="results/tables/claims_config.json",
        memory=PLAN.claims_memory_csv(),
        speed=PLAN.claims_speed_csv(),
    output:
        csv=report("results/claims.csv", category="5. Claims", caption="../report/claims.rst"),
        md="results/claims.md",
    params:
        python=PYTHON,
        memory=PLAN.memory_csv_option,
        speed=PLAN.speed_csv_option,
    log:
        "logs/claims.log",
    shell:
        "{params.python} -m analysis claims --metrics {input.metrics} --claims {input.claims} "
        "{params.memory} {params.speed} --out-dir results > {log} 2>&1"
