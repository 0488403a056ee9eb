"""The shared shell: embedding, blocks, memory recurrence, readout and head (docs/design.md §6, §7).

Every preset is this one module with a different :class:`ModelConfig`. Its computation is
split into the pieces that the training drivers (``model.drivers``, ``model.amrb``) need:

    plan  = net.plan(tokens, mask)              # validate, compact, segment, RF table
    state = net.initial_state(plan)             # (mem_1 [B', M, D], feat [B', F])
    for t in range(plan.num_segments):
        state = net.step(plan, t, state)        # one segment: memory and readout updated
    logits = net.logits(plan, state)            # head on the readout features

The state is all that crosses segments: memory (mem_t, compressed by RF) and the readout
features of the sample's final segment (frozen once t passes T_b).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from model.blocks import Block, sinusoidal_positions
from model.config import ModelConfig
from model.heads import ClassifierHead, DualEncoderHead
from model.init import init_parameters
from model.presets import model_config
from model.recurrence import RFTable, SegmentPlan, plan_segments
from model.retention import compress_memory
from pipeline.retention import RetentionSchedule, load_retention

State = tuple[Tensor, Tensor]  # (memory [B', M, D], readout features [B', F])


class SegmentClassifier(nn.Module):
    """Segment-recurrent (or whole-sequence) classifier; ``forward`` is full BPTT."""

    def __init__(self, config: ModelConfig, schedule: RetentionSchedule | None = None,
                 init_seed: int | None = None) -> None:
        """``schedule``: the loaded retention file, exactly when ``config.needs_retention_file``
        (``model.build_model`` loads it from ``config.retention`` when not given).

        ``init_seed``: every parameter is drawn from a generator keyed by (init_seed, its
        name) (``model.init``), so models that share a parameter start with the same value of
        it. None: one number is drawn from the global torch RNG (so ``torch.manual_seed``
        before building still fixes the weights); building advances the global RNG by that
        one draw only, whatever the architecture.
        """
        super().__init__()
        self.config = config.validate()
        if init_seed is None:
            init_seed = int(torch.randint(0, 2**62, (1,)))
        rng = torch.get_rng_state()  # module constructors draw; init_parameters redraws
        d = config.d_model
        self.rf_table = RFTable(config, schedule)  # ValueError if the schedule does not fit
        self.embed = nn.Embedding(config.vocab_size, d)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        # Final LayerNorm of a pre-norm stack; a post-norm block already ends in one.
        self.norm = nn.LayerNorm(d) if config.norm == "pre" else nn.Identity()
        # Learned initial memory mem_1 (special optimiser group), [M, D]; N(0, 0.02^2)
        # (model.init).
        self.memory_init = nn.Parameter(torch.zeros(config.mem_tokens, d))
        if config.uses_rf and config.rf_schedule == "learned":
            # One factor per segment in log space, RF_t = exp(rf_learned[t]) > 0 (own
            # optimiser group with its own learning rate, rf_lr; no weight decay),
            # initialised to the flat schedule 1 / rf_segments: it starts from the paper's
            # normalisation (factors summing to 1 over the task's T) without any biological
            # shape, so whatever shape it ends with was learned. In log space an Adam step
            # of size lr changes a factor by the same *relative* amount whatever its size,
            # so both the scale and the shape (ratios between segments) can move.
            self.rf_learned = nn.Parameter(
                torch.full((config.rf_segments,), -math.log(config.rf_segments)))
        self.feature_dim = 2 * d if config.readout == "both" else d
        head = DualEncoderHead if config.dual_encoder else ClassifierHead
        self.head = head(self.feature_dim, d, config.num_classes, config.dropout)
        # Every parameter drawn from its own generator (model.init). Token embeddings are
        # N(0, 1), the same scale as the sinusoidal positions (RMS 0.71 per channel). With
        # GPT-2's std 0.02 the positions drown the tokens by ~35x and pixel tasks stayed at
        # chance for hundreds of steps (docs/study.md).
        torch.set_rng_state(rng)
        init_parameters(self, init_seed)

    # --- pieces used by the drivers -------------------------------------------------------
    def plan(self, tokens: Tensor, mask: Tensor | None = None) -> SegmentPlan:
        """Validate and segment a batch (see ``model.recurrence``)."""
        return plan_segments(self.config, self.rf_table, tokens, mask, self.embed.weight.dtype)

    def initial_state(self, plan: SegmentPlan) -> State:
        """(mem_1, feat_0): learned memory broadcast over the batch, zero features."""
        rows = plan.tokens.shape[0]
        mem = self.memory_init.unsqueeze(0).expand(rows, -1, -1)
        feat = plan.rf.new_zeros(rows, self.feature_dim)
        return mem, feat

    def encode_segment(self, plan: SegmentPlan, t: int, mem: Tensor,
                       last_rows: int | None = None) -> Tensor:
        """Blocks over [mem_t ; segment t]: returns the residual stream [B', M + S, D]
        (only its first ``last_rows`` rows from the last block if given)."""
        tok, seg_mask = plan.tokens[:, t], plan.mask[:, t]  # [B', S]
        x = self.embed(tok) + sinusoidal_positions(tok.shape[1], self.config.d_model,
                                                   dtype=mem.dtype, device=tok.device)
        h = torch.cat([mem, self.drop(x)], dim=1)  # [B', M + S, D]
        key_mask = torch.cat([seg_mask.new_ones(mem.shape[:2]), seg_mask], dim=1)
        if bool(key_mask.all()):
            key_mask = None
        for i, block in enumerate(self.blocks):
            h = block(h, key_mask, last_rows if i == len(self.blocks) - 1 else None)
        return h

    def step(self, plan: SegmentPlan, t: int, state: State, memory_only: bool = True) -> State:
        """Segment t: mem_{t+1} = RF-compressed memory output; features of final segments.

        memory_only (default, every driver): skip the last block's token rows when nothing
        needs them (readout 'memory', or no sample ends at t); same results and gradients
        otherwise (False computes them anyway, for tests).
        """
        mem, feat = state
        m = mem.shape[1]
        reads_tokens = self.config.readout != "memory"
        ends_here = bool(plan.final[:, t].any())
        rows_only = memory_only and m > 0 and (not reads_tokens or not ends_here)
        h = self.encode_segment(plan, t, mem, m if rows_only else None)
        active = plan.active[:, t, None, None]  # [B', 1, 1]
        # mem'_{t+1}: the residual stream at the memory rows, or the final-norm output (RMT).
        handed = self.norm(h[:, :m]) if self.config.memory_handoff == "normed" else h[:, :m]
        rf, rf_first = self._rf(plan, t)
        new_mem = compress_memory(self.config.rf_mode, handed, mem, rf, rf_first)
        new_mem = torch.where(active, new_mem, mem)  # inactive samples keep their memory
        if not rows_only or not reads_tokens:
            out = self.norm(h)
            readout = self._readout(out[:, :m], out[:, m:], plan.mask[:, t])
            feat = torch.where(plan.final[:, t, None], readout, feat)
        return new_mem, feat

    def _rf(self, plan: SegmentPlan, t: int) -> tuple[Tensor, Tensor]:
        """(RF(t, T), RF(1, T)) per row [B']: from the plan, or the learned factors."""
        if hasattr(self, "rf_learned"):
            f = self.rf_learned.exp()
            rows = plan.rf.shape[0]
            return f[t].expand(rows), f[0].expand(rows)
        return plan.rf[:, t], plan.rf_first

    @torch.no_grad()
    def rf_factors(self, initial: bool = False) -> list[float] | None:
        """RF(t, T) for t = 1..T, T = ``rf_segments``, as plain floats (dimensionless): what
        the model applies now (learned factors: their current values; ``initial``: their
        value at initialisation, the flat 1/T), the retention file's RF(., T) for ``bio``,
        1/T for ``flat``, s(1..T) for ``streaming``. None when no RF is applied or T is
        unknown (rf_segments unset) or, for ``bio`` with rf_T 'per_sample', not in the file.
        In ``gated`` mode the model applies RF(t, T) / RF(1, T) of these."""
        config = self.config
        if not config.uses_rf or config.rf_segments is None:
            return None
        n = config.rf_segments
        if hasattr(self, "rf_learned"):
            values = (torch.full((n,), 1.0 / n, dtype=torch.float64) if initial
                      else self.rf_learned.detach().double().exp())
            return [float(v) for v in values.cpu()]
        if config.rf_schedule == "flat":
            return [1.0 / n] * n
        schedule = self.rf_table.schedule
        if config.rf_mode == "streaming":
            return [float(v) for v in schedule.streaming_factors(n)]
        if n not in schedule.schedules:
            return None
        return [float(v) for v in schedule.factors(n)]

    def logits(self, plan: SegmentPlan, state: State) -> Tensor:
        """Head on the readout features: [B, C] (pairs combined for the dual encoder)."""
        return self.head(state[1])

    def _readout(self, mem: Tensor, tokens: Tensor, mask: Tensor) -> Tensor:
        """Features [B', F]: mean of the memory outputs and/or mean of the real tokens."""
        parts = []
        if self.config.readout in ("memory", "both"):
            parts.append(mem.mean(dim=1))
        if self.config.readout in ("tokens", "both"):
            w = mask.to(tokens.dtype).unsqueeze(-1)
            parts.append((tokens * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0))
        return torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]

    # --- full BPTT forward ----------------------------------------------------------------
    def forward(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        """tokens: LongTensor [B, L] ([B, 2, L] for the dual encoder); mask: bool, same shape,
        True = real token, or None. Returns logits [B, num_classes]."""
        plan = self.plan(tokens, mask)
        state = self.initial_state(plan)
        for t in range(plan.num_segments):
            state = self.step(plan, t, state)
        return self.logits(plan, state)


def build_model(preset: str, schedule: RetentionSchedule | None = None, *,
                init_seed: int | None = None, **kwargs: Any) -> SegmentClassifier:
    """Build one of :data:`model.presets.PRESETS`; keyword arguments are :class:`ModelConfig`
    fields.

    ``schedule``: the retention file loaded by :func:`pipeline.retention.load_retention`
    (the training code loads it once and passes it); when None and the config reads RF
    factors from a file, it is loaded from ``retention`` through the same loader.
    ``init_seed``: seed of the initial weights, keyed per parameter name (``model.init``;
    None: drawn from the global torch RNG).
    Example: ``build_model("rmaat", vocab_size=V, num_classes=C, d_model=128, n_layers=2,
    n_heads=4, segment_len=256, num_mem_tokens=8, dropout=0.1, retention="rf.json",
    rf_segments=16)`` (rf_segments = ceil(seq_len / segment_len) of the task).
    Raises ``ValueError`` for an unknown preset, a bad value or a missing/corrupt retention file.
    """
    config = model_config(preset, **kwargs)
    if schedule is None and config.needs_retention_file:
        schedule = load_retention(config.retention)
    return SegmentClassifier(config, schedule, init_seed=init_seed)


def check_labels(net: SegmentClassifier, labels: object, batch: int) -> Tensor:
    """Labels must be an integer tensor [B] with values in [0, num_classes)."""
    if not isinstance(labels, Tensor) or labels.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"labels must be an integer torch.Tensor [B] (torch.long), got "
                         f"{getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.shape != (batch,):
        raise ValueError(f"labels must have shape [{batch}] (one per sample), "
                         f"got {list(labels.shape)}")
    c = net.config.num_classes
    if int(labels.min()) < 0 or int(labels.max()) >= c:
        raise ValueError(f"labels must lie in [0, {c}) (num_classes); "
                         f"got min {int(labels.min())}, max {int(labels.max())}")
    return labels.long()
