"""Probe: does the learned retention factor move away from flat in the default study's budget?

    python -m benchmarks.probe_rf_learned --rf-lr 0.0015 0.01 0.05 0.2 --seeds 0 1 \
        [--config config/config.yaml --task majority --variant rmaat_learned \
         --set rf_mode=accumulate]

Plans each run exactly as the study does (``train.plan.run_spec`` of the config: model,
epochs, batch, lr with warm-up and cosine decay, special_lr), generates the task's data with
the config's settings into a scratch folder, overrides only ``rf_lr`` (and model fields given
with ``--set``), trains with one torch thread and appends one JSON line per run to ``--out``
(default ``results/benchmarks/probe_rf_learned.jsonl``): test accuracy, the learned factors
at the end (``rf_factors_final``, RF(t, T) for t = 1..T), how far they moved from flat
(largest |log(RF_t · T)| over t < T: the last segment's factor gets no gradient), their sum,
the ratio of the first to the second-to-last factor, and CPU seconds.

rf_lr = special_lr (0.0015 in the default config) stands for the old parameterisation
(softplus(θ) started at 1/8 moved by the special group's rate): near RF = 1/8 softplus and
exp have the same slope to 6 % (sigmoid(θ) = 1 - e^(-RF) ≈ 0.118 vs RF = 0.125), so an
Adam step moves either by the same amount.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from pipeline.config import validate_config
from train.loop import train_run
from train.plan import cache_dir, prepare_commands, run_spec


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    p.add_argument("--task", default="majority")
    p.add_argument("--variant", default="rmaat_learned")
    p.add_argument("--rf-lr", nargs="+", type=float, required=True)
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="model fields for every run, e.g. rf_mode=accumulate (YAML values)")
    p.add_argument("--out", type=Path, default=Path("results/benchmarks/probe_rf_learned.jsonl"))
    args = p.parse_args()
    extra = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            p.error(f"--set expects KEY=VALUE, got {item!r}")
        extra[key] = yaml.safe_load(value)
    config = validate_config(yaml.safe_load(args.config.read_text()))
    torch.set_num_threads(1)
    scratch = Path(tempfile.mkdtemp(prefix="probe_rf_learned_"))
    config = copy.deepcopy(config)
    task_cfg = config["experiment"]["tasks"][args.task]
    task_cfg["root"] = str(scratch / args.task)
    for cmd in prepare_commands(config, args.task, sys.executable, config.get("seed", 0)):
        subprocess.run(cmd, shell=True, check=True, cwd=scratch)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for rf_lr in args.rf_lr:
        for seed in args.seeds:
            spec = run_spec(config, args.task, args.variant, seed)
            spec.rf_lr = rf_lr
            spec.model = {**spec.model, **extra}
            spec.data_root = str(scratch / args.task)
            spec.cache_dir = str(scratch / cache_dir(args.task))
            spec.device = "cpu"
            cpu0 = time.process_time()
            m = train_run(spec.validate(), scratch / "runs" / f"{rf_lr}" / str(seed),
                          progress=False)
            final = m["rf_factors_final"]
            n = len(final)
            row = {"task": args.task, "variant": args.variant, "model": extra, "seed": seed,
                   "rf_lr": rf_lr, "special_lr": spec.special_lr, "lr": spec.lr,
                   "epochs": spec.epochs, "steps": spec.epochs * (m["n_train"] // spec.batch_size),
                   "test_acc": m["test_acc"], "majority_acc": m["majority_acc"],
                   "rf_factors_final": [round(f, 5) for f in final],
                   "max_log_move": round(max(abs(math.log(f * n)) for f in final[:-1]), 4),
                   "sum": round(sum(final), 4),
                   "ratio_first_to_second_last": round(final[0] / final[-2], 4),
                   "cpu_s": round(time.process_time() - cpu0, 1)}
            print(json.dumps(row), flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
