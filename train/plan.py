"""Expand the ``experiment`` section of the config into data jobs and run specs.

The Snakemake rules call these functions; they hold the logic so that it is tested
without Snakemake. Nothing here imports ``simulation`` or ``distill``: the config is a
plain dict, already validated against the schema.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from lra.errors import missing_data_error
from lra.tasks import GENERATED, get_task
from model.presets import RECURRENT_PRESETS, model_config, preset_needs_retention
from pipeline.claims import scope_error
from train.spec import RunSpec, with_task_segments

PARAM_KEYS = ("threads", "gpus", "runtime_min", "mem_mb")  # scheduling, not RunSpec fields
GENERATED_TASKS = ("listops", "pathfinder", "listops_long", "recall", "majority")
LISTOPS_KEYS = ("train", "val", "test", "min_len", "max_len", "max_depth", "max_args")


class ExperimentError(ValueError):
    """The experiment section is inconsistent (names the key and what to do)."""


def experiment(config: dict[str, Any]) -> dict[str, Any] | None:
    """The experiment section, or None when the config has none."""
    return config.get("experiment")


def variants(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every trained model: the plain presets (name = preset) and the named variants."""
    exp = experiment(config) or {}
    out = {name: {"preset": name} for name in exp.get("presets", [])}
    for name, spec in (exp.get("variants") or {}).items():
        if name in out:
            raise ExperimentError(f"experiment.variants.{name}: the name is already a preset "
                                  f"in experiment.presets; choose another name")
        out[name] = spec
    return out


def available_tasks(config: dict[str, Any], missing_ok: bool = False,
                    ) -> tuple[list[str], dict[str, str]]:
    """(tasks that will run, {skipped task: reason}) — optional tasks without data are skipped.

    A non-optional ``files`` task whose root is missing raises the loader's error, which
    names the expected layout and where to get the data; with ``missing_ok`` it stays in the
    plan instead (a dry run shows the whole plan; ``missing_data`` says what is missing).
    """
    exp = experiment(config) or {}
    run, skipped = [], {}
    for task, spec in exp.get("tasks", {}).items():
        get_task(task)
        if spec["source"] == "generate" and task not in GENERATED_TASKS:
            raise ExperimentError(
                f"experiment.tasks.{task}.source: only {', '.join(GENERATED_TASKS)} can be "
                f"generated; use source: files with the official data for {task}")
        if spec["source"] == "files" and not Path(spec["root"]).exists():
            if spec.get("optional", False):
                skipped[task] = f"data folder {spec['root']} not found (optional task skipped)"
                continue
            if not missing_ok:
                raise missing_data_error(task, spec["root"])
        run.append(task)
    return run, skipped


def missing_data(config: dict[str, Any]) -> dict[str, str]:
    """{task: what is missing and where to get it} of the non-optional ``files`` tasks whose
    data folder does not exist (empty when every task can run)."""
    out = {}
    for task, spec in (experiment(config) or {}).get("tasks", {}).items():
        if (spec["source"] == "files" and not spec.get("optional", False)
                and not Path(spec["root"]).exists()):
            out[task] = str(missing_data_error(task, spec["root"]))
    return out


def check_experiment(config: dict[str, Any]) -> None:
    """Semantic checks of the experiment section, before any job; raise ExperimentError.

    What the schema cannot say: a variant's ``tasks`` must name configured tasks, the
    retention condition must exist, every run's merged model settings must be valid
    (e.g. d_model divisible by n_heads) and ListOps generator settings must be satisfiable.
    """
    exp = experiment(config)
    if not exp:
        return
    tasks = exp.get("tasks", {})
    for name, var in variants(config).items():
        unknown = sorted(set(var.get("tasks") or []) - set(tasks))
        if unknown:
            raise ExperimentError(
                f"config key 'experiment.variants.{name}.tasks': {unknown} are not tasks of "
                f"experiment.tasks ({', '.join(tasks)}); fix the names or add the tasks")
    for task, cfg in tasks.items():
        if task == "listops" and cfg["source"] == "generate":
            _check_listops_generator(cfg.get("generate") or {})
    for task in tasks:
        for variant, var in variants(config).items():
            if var.get("tasks") and task not in var["tasks"]:
                continue
            spec = run_spec(config, task, variant, 0)
            where = (f"config keys 'experiment.model', 'experiment.tasks.{task}.model' and "
                     f"'experiment.variants.{variant}.model'" if variant in (exp.get("variants")
                     or {}) else f"config keys 'experiment.model' and "
                     f"'experiment.tasks.{task}.model'")
            info = get_task(task)
            try:
                model_config(spec.preset, vocab_size=info.vocab_size,
                             num_classes=info.num_classes, dual_encoder=info.paired,
                             **spec.model)
            except ValueError as err:
                raise ExperimentError(f"{where} (run {task}/{variant}): {err}") from err
    check_claims(config)


def check_claims(config: dict[str, Any]) -> None:
    """Each claim of ``experiment.claims`` names known variants and tasks, its neighbouring
    variants run on a common task, and no two claims share an id: a claim that cannot be
    scored fails here, not after all training. Raises ExperimentError naming the key."""
    exp = experiment(config) or {}
    known = variants(config)
    tasks = list(exp.get("tasks") or {})
    seen = set()
    for claim in exp.get("claims") or []:
        where = f"experiment.claims[{claim['id']}]"
        if claim["id"] in seen:
            raise ExperimentError(f"config key '{where}.id': two claims have this id; give each "
                                  f"claim its own")
        seen.add(claim["id"])
        names = claim.get("variants") or []
        for key, given, allowed in (("variants", names, list(known)),
                                    ("tasks", claim.get("tasks") or [], tasks)):
            unknown = [name for name in given if name not in allowed]
            if unknown:
                raise ExperimentError(
                    f"config key '{where}.{key}': {', '.join(map(repr, unknown))} "
                    f"{'is' if len(unknown) == 1 else 'are'} not among the experiment's "
                    f"{key} ({', '.join(sorted(allowed))}); fix the names or add the {key}")
        problem = scope_error(claim)
        if problem:
            raise ExperimentError(f"config key '{where}.{problem[0]}': {problem[1]}")
        if claim.get("primary") and claim["test"] not in ("better", "differs"):
            raise ExperimentError(f"config key '{where}.primary': only better/differs claims "
                                  f"can be primary contrasts")
        if claim["test"] in ("memory", "faster"):
            continue
        scope = claim.get("tasks") or tasks
        for a, b in zip(names[:-1], names[1:], strict=True):
            common = [t for t in scope if all(not known[v].get("tasks") or t in known[v]["tasks"]
                                              for v in (a, b))]
            if not common:
                raise ExperimentError(
                    f"config key '{where}.variants': {a!r} and {b!r} run on no common task "
                    f"among {', '.join(scope)}, so the claim has nothing to compare; add the "
                    f"task to both variants' tasks or change the claim's tasks")


def _check_listops_generator(gen: dict[str, Any]) -> None:
    """ListOps generator settings (with the generator's defaults) must be satisfiable."""
    from lra.listops_generator import ListOpsSettings

    names = {"train": "n_train", "val": "n_val", "test": "n_test", "min_len": "min_length",
             "max_len": "max_length", "max_depth": "max_depth", "max_args": "max_args"}
    try:
        ListOpsSettings(**{names[k]: v for k, v in gen.items() if k in names})
    except ValueError as err:
        raise ExperimentError(f"config key 'experiment.tasks.listops.generate': {err}") from err


def run_names(config: dict[str, Any], missing_ok: bool = False,
              ) -> list[tuple[str, str, int]]:
    """(task, variant, seed) of every training run (``missing_ok``: see available_tasks)."""
    exp = experiment(config)
    if not exp:
        return []
    tasks, _ = available_tasks(config, missing_ok)
    out = []
    for name, var in variants(config).items():
        for task in tasks:
            if var.get("tasks") and task not in var["tasks"]:
                continue
            for seed in variant_seeds(config, name):
                out.append((task, name, seed))
    return out


def seed_list(seeds: int | list[int] | None) -> list[int]:
    """Seeds as configured: a list as it is, a count n as 0..n-1 (None: [0])."""
    if seeds is None:
        return [0]
    return list(range(seeds)) if isinstance(seeds, int) else list(seeds)


def variant_seeds(config: dict[str, Any], variant: str) -> list[int]:
    """The seeds of a variant's runs: its own ``seeds``, else ``experiment.seeds``."""
    var = variants(config)[variant]
    return seed_list(var.get("seeds", (experiment(config) or {}).get("seeds")))


def run_spec(config: dict[str, Any], task: str, variant: str, seed: int) -> RunSpec:
    """The RunSpec of one run: experiment.model / training, then the task, then the variant."""
    exp = experiment(config)
    var = variants(config)[variant]
    task_cfg = exp["tasks"][task]
    model = dict(exp.get("model") or {})
    if "segment_len" in task_cfg:
        model["segment_len"] = task_cfg["segment_len"]
    model.update(task_cfg.get("model") or {})
    model.update(var.get("model") or {})
    if var["preset"] not in RECURRENT_PRESETS:  # no memory: non-recurrent presets pool tokens
        model.pop("readout", None)
    seq_len = var.get("seq_len", task_cfg.get("seq_len"))
    if var["preset"] in RECURRENT_PRESETS:
        spec_task = get_task(task)
        model = with_task_segments(var["preset"], model, seq_len or spec_task.seq_len)
        # The preset-resolved settings say whether the run reads the retention file (the
        # plan does not guess the preset's rf_mode); check_experiment validates them.
        if preset_needs_retention(var["preset"], model):
            model["retention"] = (
                f"results/retention/{retention_condition(config, variant)}.json")
    training = dict(exp.get("training") or {})
    training.update(task_cfg.get("training") or {})
    training.update(var.get("training") or {})
    for key in PARAM_KEYS:
        training.pop(key, None)
    spec = RunSpec(
        task=task, preset=var["preset"], seed=seed,
        variant=variant if variant != var["preset"] else "",
        data_root=task_cfg["root"], cache_dir=cache_dir(task),
        level=task_cfg.get("level", "hard"), seq_len=seq_len,
        max_train=task_cfg.get("max_train"), max_eval=task_cfg.get("max_eval"),
        model=model, data_note=task_cfg.get("data_note", _default_note(task, task_cfg)),
        **training,
    )
    return spec.validate()


def check_generated_settings(task: str, gen: dict[str, Any]) -> None:
    """Fail before any job when a generated token task (recall, majority) cannot satisfy
    ``generate``; its options and their checks belong to the task's entry in
    ``lra.tasks.GENERATED``."""
    from lra.tasks import GENERATED

    try:
        GENERATED[task].settings_from(gen)
    except ValueError as err:
        raise ExperimentError(f"experiment.tasks.{task}.generate: {err}") from None


def check_long_listops(gen: dict[str, Any]) -> None:
    """Fail before any job when long-ListOps lengths exceed the task's 1,024 tokens or no
    tree of the allowed depth and arity reaches min_len (the generator would loop forever)."""
    where = "experiment.tasks.listops_long.generate"
    lo, hi = gen.get("min_len", 500), gen.get("max_len", 2000)
    depth, args = gen.get("max_depth", 10), gen.get("max_args", 10)
    if hi > 1025:
        raise ExperimentError(f"{where}.max_len: {hi} exceeds the task's 1,024 tokens "
                              f"(max_len is exclusive: use <= 1025)")
    if hi - lo < 2:
        raise ExperimentError(f"{where}: no length satisfies {lo} < length < {hi}")
    longest = 1  # longest tree: every node an operator with max_args children to max_depth
    for _ in range(depth - 1):
        longest = 2 + args * longest
    if longest <= lo:
        raise ExperimentError(f"{where}: trees of max_depth {depth} and max_args {args} have "
                              f"at most {longest} tokens, not more than min_len {lo}; raise "
                              f"max_depth or max_args")


def retention_condition(config: dict[str, Any], variant: str) -> str:
    """The condition whose RF schedules a variant reads: its own ``retention_condition``,
    else the experiment's (default baseline). An unknown name raises ExperimentError."""
    exp = experiment(config) or {}
    var = variants(config)[variant]
    name = var.get("retention_condition", exp.get("retention_condition", "baseline"))
    known = config.get("conditions")
    if known is not None and name not in known:
        key = (f"experiment.variants.{variant}.retention_condition"
               if "retention_condition" in var else "experiment.retention_condition")
        raise ExperimentError(
            f"config key '{key}': {name!r} is not a condition of 'conditions' "
            f"({', '.join(known)}), but run(s) of {variant} read its retention file; name one "
            "of the conditions")
    return name


def cache_dir(task: str) -> str:
    """Token cache of a task: inside the project (data/cache/<task>), never under the data
    root, which may be read-only (the Debian Fashion-MNIST under /usr/share, an official
    LRA release on a shared disk). Entries are keyed by sources and settings."""
    return f"data/cache/{task}"


def job_resources(config: dict[str, Any], task: str, variant: str) -> dict[str, int]:
    """threads / gpus / runtime_min / mem_mb of a training job (for Snakemake resources)."""
    exp = experiment(config) or {}
    training = dict(exp.get("training") or {})
    training.update(exp["tasks"][task].get("training") or {})
    training.update(variants(config)[variant].get("training") or {})
    return {"threads": training.get("threads", 1), "gpus": training.get("gpus", 0),
            "runtime_min": training.get("runtime_min", 60), "mem_mb": training.get("mem_mb", 4000)}


def _default_note(task: str, cfg: dict[str, Any]) -> str:
    if cfg["source"] == "generate":
        gen = cfg.get("generate", {})
        if task == "recall":
            return (f"generated associative recall, {gen.get('train')} train examples of "
                    f"{gen.get('length')} tokens, {gen.get('pairs')} key-value pairs spread "
                    f"over the sequence (not LRA)")
        if task == "majority":
            return (f"generated majority vote, {gen.get('train')} train examples of "
                    f"{gen.get('length')} tokens, {gen.get('votes')} votes spread over the "
                    f"sequence (not LRA)")
        if task in ("listops", "listops_long"):
            return (f"generated ListOps (official algorithm), {gen.get('train')} train examples, "
                    f"lengths {gen.get('min_len')}-{gen.get('max_len')} (LRA: 96k, 500-2000)")
        return (f"generated Pathfinder-32 ({cfg.get('level', 'hard')}), {gen.get('n')} images "
                f"(LRA: 200k, hard)")
    if not get_task(task).lra:
        return "real data, not LRA"
    return "official LRA files"


def prepare_commands(config: dict[str, Any], task: str, python: str, seed: int) -> list[str]:
    """Shell commands that make a task's data ready: generate (if configured), preprocess.

    Options appear in a fixed (sorted) order: the commands are a rule's params, and the same
    settings written in another order (a config saved by a YAML library) must not rerun the
    data and every training run on it."""
    cfg = experiment(config)["tasks"][task]
    root = cfg["root"]
    q = shlex.quote
    cmds = []
    if cfg["source"] == "generate":
        gen = cfg.get("generate", {})
        if task in GENERATED:
            check_generated_settings(task, gen)
            flags = {opt.flag for opt in GENERATED[task].all_options()} - {"seed"}
            opts = " ".join(f"--{k} {v}" for k, v in sorted(gen.items()) if k in flags)
            cmds.append(f"{python} -m lra generate {task} --quiet --out {q(root)} {opts} "
                        f"--seed {seed}")
        elif task in ("listops", "listops_long"):
            if task == "listops_long":
                check_long_listops(gen)
            opts = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in sorted(gen.items())
                            if k in LISTOPS_KEYS)
            cmds.append(f"{python} -m lra generate listops --out {q(root + '/listops-1000')} "
                        f"{opts} --seed {seed}")
        else:
            cmds.append(f"{python} -m lra generate pathfinder --quiet "
                        f"--out {q(root + '/pathfinder32')} --resolution 32 "
                        f"--level {cfg.get('level', 'hard')} --n {gen.get('n', 1000)} "
                        f"--workers {gen.get('workers', 2)} --seed {seed}")
    strict = " --strict-tokens" if cfg.get("strict_tokens") else ""
    cmds.append(f"{python} -m lra preprocess {task} --quiet --root {q(root)} "
                f"--level {cfg.get('level', 'hard')} --cache {q(cache_dir(task))}{strict}")
    return cmds
