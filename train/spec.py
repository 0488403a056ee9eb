"""What one training run is: task, preset, seed, model and optimiser settings.

A run spec file (``spec.json``, read by ``python -m train run --spec``) is checked against
:func:`spec_schema`, which takes the type and range of every setting a config also has from
the config schema (``workflow/schemas/config.schema.yaml``: ``experiment.training``,
``experiment.model``, a task's ``max_train`` ...), so the two cannot drift apart; the
spec's own fields (task, preset, seed, variant, data_root, cache_dir) are described here.
Every violation is one line naming its key. The token cache (``cache_dir``) is written, so it
must lie inside the project (the working directory), as the config requires of every folder
the pipeline writes; ``data_root`` and the retention file are only read and may lie anywhere.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from model.presets import model_config, resolved_settings
from pipeline.schema import StrictValidator, inside_project, load_schema

#: Default learning rate of the learned retention factors (rf_schedule 'learned'); measured by
#: benchmarks/probe_rf_learned.py (model/README.md, "Where RF(t, T) comes from").
RF_LR = 0.1


@dataclass
class RunSpec:
    """Every setting of one training run (plain JSON; the config hash identifies the run).

    Lengths are in tokens, learning rates per optimiser step, times in optimiser steps.
    """

    task: str  # lra task name (lra.tasks.TASKS), e.g. "listops"
    preset: str  # model preset (model.presets), e.g. "rmaat"
    seed: int = 0
    variant: str = ""  # name of an ablation variant ("" = the plain preset)
    data_root: str = "data"  # folder holding the task's files in the official layout
    cache_dir: str = "data/cache"  # preprocessed token cache
    level: str = "hard"  # Pathfinder difficulty
    seq_len: int | None = None  # padded length; None = the task's LRA length
    max_train: int | None = None  # use at most this many training examples (None = all)
    max_eval: int | None = None  # use at most this many val/test examples (None = all)
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig overrides
    epochs: int = 2
    batch_size: int = 32  # global batch (split across processes under torchrun)
    eval_batch_size: int = 64
    lr: float = 1e-3
    special_lr: float = 1e-3  # astrocyte/memory parameters (own group, no weight decay)
    rf_lr: float = RF_LR  # learned retention factors (log space; own group, no weight decay)
    weight_decay: float = 0.01
    warmup_frac: float = 0.1  # share of all steps with linear warm-up
    grad_clip: float = 1.0  # max global gradient norm (0 = off)
    bucket: bool = True  # batch examples of similar length together
    checkpoint_every: int = 50  # also checkpoint every this many steps within an epoch (0 = off)
    device: str = "auto"  # auto | cpu | cuda
    compile: bool = False  # torch.compile the model
    data_note: str = ""  # how the data was obtained (shown in reports)

    def validate(self) -> RunSpec:
        """Check every field against :func:`spec_schema` (types, ranges, allowed values);
        ``ValueError`` naming each bad key, one per line. Returns self."""
        problems = schema_problems(self.to_dict())
        if problems:
            raise ValueError(_report(problems))
        return self

    def check_model(self) -> RunSpec:
        """The merged model settings must build (e.g. d_model divisible by n_heads): the
        task's T, vocabulary and classes as the training loop adds them. Returns self."""
        from lra.tasks import get_task  # numpy only; kept out of the plain import

        task = get_task(self.task)
        model = with_task_segments(self.preset, dict(self.model), self.seq_len or task.seq_len)
        try:
            model_config(self.preset, vocab_size=task.vocab_size, num_classes=task.num_classes,
                         dual_encoder=task.paired, **model)
        except ValueError as err:
            raise ValueError(_report([f"key 'model': {err}"])) from None
        return self

    def check_paths(self, project: str | Path | None = None) -> RunSpec:
        """``cache_dir`` (written) must lie inside ``project`` (default: the working
        directory); the data root and the retention file are only read. Returns self."""
        if not inside_project(self.cache_dir, project):
            where = Path(project if project is not None else ".").resolve()
            raise ValueError(_report([
                f"key 'cache_dir': {self.cache_dir!r} lies outside the project ({where}), and "
                "training writes the token cache there; use a path inside it (the plan uses "
                "data/cache/<task>; a link such as data -> /scratch/data is fine)"]))
        return self

    @property
    def run_id(self) -> str:
        """``{task}/{preset or variant}/seed{seed}``."""
        return f"{self.task}/{self.variant or self.preset}/seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return asdict(self)

    def config_hash(self) -> str:
        """First 12 hex digits of the SHA-256 of the canonical JSON of every setting."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, data: Any, project: str | Path | None = None) -> RunSpec:
        """Build from the JSON object of a spec file and check it in full: the schema
        (required and unknown keys, types, ranges), the model settings and the paths
        (``project``: see :meth:`check_paths`). ``ValueError`` naming every bad key."""
        if not isinstance(data, dict):
            raise ValueError(_report([f"the spec must be a JSON object of settings, got "
                                      f"{type(data).__name__}"]))
        problems = schema_problems(data)
        if problems:
            raise ValueError(_report(problems))
        return cls(**data).check_model().check_paths(project)

    @classmethod
    def load(cls, path: str | Path, project: str | Path | None = None) -> RunSpec:
        """Read and check a run spec JSON file (:meth:`from_dict`); errors name the file."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"run spec {path} does not exist")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"run spec {path} is not valid JSON: {err}") from err
        try:
            return cls.from_dict(data, project)
        except ValueError as err:
            raise ValueError(f"{str(err).replace('run spec', f'run spec {path}', 1)}") from None


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def spec_schema() -> dict[str, Any]:
    """The JSON schema of a run spec: one property per :class:`RunSpec` field. Settings a
    config also has take their entry from the config schema (training settings, a task's
    level, lengths and caps, the model settings plus ``retention``, the seeds' and presets'
    items, the task names); ``data_root`` and ``cache_dir`` are non-empty strings."""
    config = load_schema()
    defs = config["$defs"]
    exp = config["properties"]["experiment"]["properties"]
    task = {k: {kk: vv for kk, vv in v.items() if kk != "default"}
            for k, v in defs["task"]["properties"].items()}
    model = copy.deepcopy(defs["model_settings"])
    model["properties"]["retention"] = {
        "type": ["string", "null"], "minLength": 1,
        "description": "Retention JSON the model reads (only read: may lie anywhere)."}
    training = defs["training_settings"]["properties"]
    names = [f.name for f in fields(RunSpec)]
    props: dict[str, Any] = {
        "task": {"enum": exp["tasks"]["propertyNames"]["enum"]},
        "preset": exp["presets"]["items"],
        "seed": defs["seeds"]["oneOf"][1]["items"],
        "variant": {"anyOf": [{"const": ""}, {"type": "string",
                                              **exp["variants"]["propertyNames"]}]},
        "data_root": {**task["root"], "minLength": 1},
        "cache_dir": {"type": "string", "minLength": 1},
        "level": task["level"], "data_note": task["data_note"],
        **{key: _nullable(task[key]) for key in ("seq_len", "max_train", "max_eval")},
        "model": model,
        **{key: training[key] for key in names if key in training},
    }
    undescribed = [key for key in names if key not in props]
    if undescribed:  # a new RunSpec field: describe it here or in the config schema
        raise TypeError(f"RunSpec field(s) {undescribed} have no entry in the run spec "
                        "schema (train.spec.spec_schema or the config schema's "
                        "training_settings)")
    required = [f.name for f in fields(RunSpec)
                if f.default is MISSING and f.default_factory is MISSING]
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {key: props[key] for key in names}}


_TYPE_WORDS = {"integer": "an integer", "number": "a finite number", "string": "a string",
               "boolean": "true or false", "object": "an object", "array": "a list",
               "null": "null"}
_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _problem(error: Any) -> str:
    """One line naming the key of a schema error and what it must be."""
    key = ".".join(str(p) for p in error.absolute_path)
    got = error.instance
    if error.validator == "required":
        return ""  # collected into one line by schema_problems
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(got) - set(allowed))
        where = f" under '{key}'" if key else ""
        return f"unknown key(s) {extra}{where}; allowed: {allowed}"
    if error.validator == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [
            error.validator_value]
        return f"key '{key}': must be {' or '.join(_TYPE_WORDS[t] for t in types)}, got {got!r}"
    if error.validator in _BOUNDS:
        return f"key '{key}': must be {_BOUNDS[error.validator]} {error.validator_value}, " \
               f"got {got!r}"
    if error.validator == "enum":
        return (f"key '{key}': {got!r} is not allowed; allowed: "
                f"{', '.join(map(repr, error.validator_value))}")
    if error.validator == "minLength":
        return f"key '{key}': must not be empty"
    if error.validator == "anyOf" and key == "variant":
        return (f"key 'variant': {got!r} is neither '' (the plain preset) nor a variant name "
                "(a letter, then letters, digits or '_')")
    return f"key '{key}': {error.message}"


@functools.cache
def _validator() -> Any:
    """The validator of :func:`spec_schema`, built once per process (the plan checks
    every run's spec)."""
    return StrictValidator(spec_schema())


def schema_problems(data: dict[str, Any]) -> list[str]:
    """Every violation of :func:`spec_schema` by ``data``, one line each, sorted by key."""
    errors = list(_validator().iter_errors(data))
    missing = sorted({name for e in errors if e.validator == "required"
                      for name in e.validator_value if name not in e.instance})
    lines = [f"missing required key(s) {', '.join(map(repr, missing))}"] if missing else []
    ordered = sorted((e for e in errors if e.validator != "required"),
                     key=lambda e: [str(p) for p in e.absolute_path])
    return lines + [_problem(e) for e in ordered]


def _report(problems: list[str]) -> str:
    if len(problems) == 1:
        return f"run spec: {problems[0]}"
    return f"run spec: {len(problems)} problems\n" + "\n".join(f"  {p}" for p in problems)


def with_task_segments(preset: str, model: dict[str, Any], seq_len: int) -> dict[str, Any]:
    """``model`` with ``rf_segments`` = ceil(seq_len / segment_len), the task's T, filled in
    for a recurrent preset when absent (rf_T 'fixed' and learned RF schedules need it).

    seq_len: the task's padded length in tokens (per document for the dual encoder).
    """
    settings = resolved_settings(preset, model)
    if not settings["recurrent"] or "rf_segments" in model:
        return model
    return {**model, "rf_segments": math.ceil(seq_len / settings["segment_len"])}
