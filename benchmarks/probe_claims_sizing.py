"""Sizing probe for the claims study: time and accuracy of tiny recurrent models per run.

    python -m benchmarks.probe_claims_sizing --task recall --variants rmt rmaat \
        --steps 300 --out /tmp/probe.jsonl [--length 512 --pairs 2 ...]

Generates the task into a scratch folder, trains each (variant, seed) in this process with
one torch thread (train.loop.train_run, readout memory, astro_m 1), and appends one JSON
line per run: wall seconds, tokens/s, test accuracy, the majority-class rate and the
one-sided binomial p-value against it (as analysis/aggregate.py). The retention schedule is
the saturating stand-in of model.retention (the study itself reads the simulated ones).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path

import torch
import yaml
from scipy.stats import binomtest

from lra.listops_generator import ListOpsSettings, generate_listops_release
from lra.majority import MajoritySettings, generate_majority_release
from lra.recall import RecallSettings, generate_recall_release
from model.presets import RECURRENT_PRESETS, preset_needs_retention
from model.retention import write_retention_json
from train.loop import train_run
from train.spec import RunSpec

VARIANTS = {
    "rmt": ("rmt", {}),
    "rmaat": ("rmaat", {"rf_mode": "scalar"}),
    "rmaat_no_rf": ("rmaat", {"rf_mode": "none"}),
    "rmaat_gated": ("rmaat", {"rf_mode": "gated"}),
    "rmaat_gated_bptt": ("rmaat", {"rf_mode": "gated", "driver": "bptt"}),
    "rmaat_delta": ("rmaat", {"rf_mode": "delta"}),
    "rmaat_flat": ("rmaat", {"rf_schedule": "flat"}),
    "rmaat_learned": ("rmaat", {"rf_schedule": "learned"}),
    "rmaat_post": ("rmaat", {"norm": "post"}),
    "rmaat_post_no_rf": ("rmaat", {"norm": "post", "rf_mode": "none"}),
    "rlt": ("rlt", {}),
    "transformer": ("transformer", {}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=("recall", "majority", "listops_long"), required=True)
    p.add_argument("--variants", nargs="+", default=["rmt", "rmaat"], choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--n-eval", type=int, default=300)
    p.add_argument("--length", type=int, default=512, help="recall: tokens per example")
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--keys", type=int, default=8)
    p.add_argument("--values", type=int, default=4)
    p.add_argument("--filler", type=int, default=8)
    p.add_argument("--votes", type=int, default=9, help="majority: vote tokens")
    p.add_argument("--classes", type=int, default=2, help="majority: vote classes")
    p.add_argument("--min-len", type=int, default=256, help="listops_long")
    p.add_argument("--max-len", type=int, default=512, help="listops_long")
    p.add_argument("--max-depth", type=int, default=4)
    p.add_argument("--max-args", type=int, default=5)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--mem", type=int, default=4)
    p.add_argument("--segment", type=int, default=64)
    p.add_argument("--readout", default="memory")
    p.add_argument("--astro-m", default="1", help="rmaat write scale m ('auto': the "
                   "length-aware default m = n^(1 - alpha))")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="extra model fields for every variant, e.g. use_astro=false alpha=1 "
                   "memory_handoff=residual (values parsed as YAML)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    extra_fields = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            p.error(f"--set expects KEY=VALUE, got {item!r}")
        extra_fields[key] = yaml.safe_load(value)
    torch.set_num_threads(1)
    scratch = Path(tempfile.mkdtemp(prefix="probe_claims_"))
    if args.task == "recall":
        root = scratch / "recall"
        generate_recall_release(root, RecallSettings(
            n_train=args.n_train, n_val=args.n_eval, n_test=args.n_eval, length=args.length,
            n_pairs=args.pairs, n_keys=args.keys, n_values=args.values, n_filler=args.filler,
            seed=0))
        seq_len = args.length
    elif args.task == "majority":
        root = scratch / "majority"
        generate_majority_release(root, MajoritySettings(
            n_train=args.n_train, n_val=args.n_eval, n_test=args.n_eval, length=args.length,
            n_votes=args.votes, n_classes=args.classes, n_filler=args.filler, seed=0))
        seq_len = args.length
    else:
        root = scratch / "listops"
        generate_listops_release(root / "listops-1000", ListOpsSettings(
            n_train=args.n_train, n_val=args.n_eval, n_test=args.n_eval, min_length=args.min_len,
            max_length=args.max_len, max_depth=args.max_depth, max_args=args.max_args, seed=0),
            progress=False)
        seq_len = args.max_len
    retention = scratch / "rf.json"
    write_retention_json(retention, max_segments=64)
    for name in args.variants:
        preset, extra = VARIANTS[name]
        for seed in args.seeds:
            model = {"d_model": args.d_model, "n_layers": args.layers, "n_heads": args.heads,
                     "num_mem_tokens": args.mem, "dropout": 0.0,
                     "segment_len": args.segment, **extra, **extra_fields}
            if args.astro_m != "auto":
                model["astro_m"] = float(args.astro_m)
            if preset in RECURRENT_PRESETS:
                model["readout"] = args.readout
                if preset_needs_retention(preset, model):
                    model["retention"] = str(retention)
            spec = RunSpec(task=args.task, preset=preset, seed=seed, variant=name,
                           data_root=str(root), cache_dir=str(scratch / "cache"),
                           seq_len=seq_len, model=model, epochs=args.epochs,
                           batch_size=args.batch, eval_batch_size=128, lr=args.lr,
                           special_lr=args.lr / 2, checkpoint_every=0)
            start, cpu0 = time.perf_counter(), time.process_time()
            m = train_run(spec, scratch / "runs" / name / str(seed), progress=False)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
            correct = round(m["test_acc"] * m["n_test"])
            pval = binomtest(correct, m["n_test"], m["majority_acc"], alternative="greater").pvalue
            row = {"task": args.task, "variant": name, "seed": seed, "wall_s": round(wall, 1),
                   "cpu_s": round(cpu, 1),
                   "train_s": round(m["train_wall_s"], 1),
                   "tokens_per_s": round(m["tokens_per_s"]), "test_acc": m["test_acc"],
                   "val": [round(e["val_acc"], 3) for e in m["epochs"]],
                   "majority": m["majority_acc"], "p": pval,
                   "predictions_sha": hashlib.sha256(
                       json.dumps(m.get("test_predictions")).encode()).hexdigest()[:12],
                   "args": vars(args) | {"out": ""}}
            print(json.dumps(row), flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
