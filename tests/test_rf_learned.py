"""The learned retention factor (rf_schedule 'learned') can take a shape of its own within the
default study's budget: ~310 optimiser steps, warm-up and cosine decay, its own rate rf_lr."""

from __future__ import annotations

import math

import pytest
import torch

from model import build_model
from model.optim import param_groups
from model.retention import saturating_schedule
from train.loop import lr_factor
from train.spec import RunSpec

STEPS, T = 310, 8  # the default study on majority: 2000 / 32 x 5 epochs; 8 segments


def train_factors(rf_lr: float, target: list[float], seed: int = 0) -> list[float]:
    """Fit the learned factors of a tiny rmaat to ``target`` through the training machinery
    (parameter groups, AdamW, the loop's schedule) on a noisy objective: each step sees the
    target plus N(0, 0.05^2) noise per factor (a stochastic gradient); the last factor is
    left out, as in a model, where it hands memory to no segment."""
    net = build_model("rmaat", init_seed=seed, vocab_size=5, num_classes=2, d_model=8,
                      n_layers=1, n_heads=2, segment_len=4, num_mem_tokens=1, rf_segments=T,
                      rf_schedule="learned")
    opt = torch.optim.AdamW(param_groups(net, lr=0.003, weight_decay=0.01, special_lr=0.0015,
                                         rf_lr=rf_lr))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, STEPS, int(0.1 * STEPS)))
    goal = torch.tensor(target)
    g = torch.Generator().manual_seed(seed)
    for _ in range(STEPS):
        opt.zero_grad()
        noisy = goal + 0.05 * torch.randn(T, generator=g)
        loss = ((net.rf_learned.exp() - noisy)[:-1] ** 2).sum()
        loss.backward()
        opt.step()
        sched.step()
    return net.rf_factors()


@pytest.mark.parametrize("shape", ["biological", "rising", "scaled"])
def test_learned_factor_reaches_another_shape_in_the_study_budget(shape):
    target = {"biological": saturating_schedule(T, 2.0),  # RF(1) / RF(7) = e^3 = 20
              "rising": [0.05 * (t + 1) for t in range(T)],  # 0.05 .. 0.40
              "scaled": [0.5] * T}[shape]  # 4x the flat 1/8: the scale moves too
    rf_lr = RunSpec(task="majority", preset="rmaat").rf_lr  # the default
    got = train_factors(rf_lr, target)
    assert got[-1] == pytest.approx(1 / T)  # no gradient, no move
    # within 0.02 + 10 % of the target (flat is 0.125; the targets span 0.02 to 0.5)
    for f, want in zip(got[:-1], target[:-1], strict=True):
        assert abs(f - want) < 0.02 + 0.1 * want, (got, target)
    assert max(abs(math.log(f * T)) for f in got[:-1]) > math.log(2)  # materially not flat
    # at the old rate (the special group's 0.0015) the factors stay near the flat 1/8
    old = train_factors(0.0015, target)
    assert max(abs(f - 1 / T) for f in old) < 0.05, old
