"""From a padded token batch to a plan of segments (docs/design.md §6), and the RF table.

Padding rule (project decision). A sample's result must depend only on its real tokens, in
order. So the input is first *compacted*: tokens whose mask is False are dropped and the real
ones moved to the front (a stable gather; any mask pattern works, not only right padding).
Sample b then has n_b real tokens and

    T_b = ceil(n_b / segment_len)    segments, the last one possibly partial,

exactly as if it had been given alone without padding. The batch runs max_b T_b segments;
for t >= T_b sample b is *inactive*: its memory passes unchanged and its readout is frozen,
so fully padded segments change nothing. Columns that are padding for every sample are cut
before segmenting. A sample with no real token is an error.

The T of RF(t, T) (``rf_T``): ``per_sample`` uses the sample's own T_b (so a retention file
must hold every T_b of the batch); ``fixed`` uses the task's T = ``rf_segments`` =
ceil(seq_len / segment_len) for every sample (the paper: one T per task), and a sample longer
than that is an error. Both depend only on the real tokens, so padding changes nothing.
``streaming`` needs no T; ``learned`` factors are parameters, looked up in the network.

The factors of a retention file are copied once, when the model is built, into buffers of
:class:`RFTable` (float64, not saved in checkpoints, moved with the model); a batch only
indexes them and casts to the model dtype, which gives the same values as converting the
file's floats directly.

For a non-recurrent model the whole compacted sequence is one segment (T = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from model.config import ModelConfig
from pipeline.retention import RetentionSchedule


@dataclass
class SegmentPlan:
    """Everything the segment steps need, computed once per batch.

    B' = B * docs rows: the dual encoder stacks document 1 of every pair, then document 2.
    """

    tokens: Tensor  # [B', T, S] token ids (compacted, 0 at padding)
    mask: Tensor  # [B', T, S] bool, True = real token
    n_segments: Tensor  # [B'] T_b, int64
    active: Tensor  # [B', T] bool, t < T_b
    final: Tensor  # [B', T] bool, t == T_b - 1
    rf: Tensor  # [B', T] RF(t, T) (model dtype; ones if no RF or a learned schedule)
    rf_first: Tensor  # [B'] RF(1, T)
    docs: int  # 1, or 2 for the dual encoder

    @property
    def num_segments(self) -> int:
        """T = max_b T_b, the number of segment steps the batch runs."""
        return self.tokens.shape[1]


def check_inputs(config: ModelConfig, tokens: object, mask: object) -> tuple[Tensor, Tensor]:
    """Validate ``tokens`` / ``mask`` and return them flattened to [B', L] (ValueError if bad)."""
    expected = "[B, 2, L]" if config.dual_encoder else "[B, L]"
    if not isinstance(tokens, Tensor):
        raise ValueError(f"tokens must be a torch.Tensor of shape {expected}, "
                         f"got {type(tokens).__name__}")
    if tokens.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        raise ValueError(f"tokens must have an integer dtype (torch.long), got {tokens.dtype}")
    ndim = 3 if config.dual_encoder else 2
    if tokens.ndim != ndim or (config.dual_encoder and tokens.shape[1] != 2):
        raise ValueError(f"tokens must have shape {expected}, got {list(tokens.shape)}")
    if tokens.numel() == 0:
        raise ValueError(f"tokens is empty (shape {list(tokens.shape)})")
    if mask is None:
        mask = torch.ones_like(tokens, dtype=torch.bool)
    elif not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        raise ValueError("mask must be a torch.bool tensor (True = real token) or None, got "
                         f"{getattr(mask, 'dtype', type(mask).__name__)}")
    elif mask.shape != tokens.shape:
        raise ValueError(f"mask shape {list(mask.shape)} differs from tokens shape "
                         f"{list(tokens.shape)}")
    elif mask.device != tokens.device:
        raise ValueError(f"mask is on {mask.device} but tokens are on {tokens.device}")
    real = tokens[mask]
    if real.numel() and (int(real.min()) < 0 or int(real.max()) >= config.vocab_size):
        raise ValueError(f"token ids must lie in [0, {config.vocab_size}) (vocab_size); "
                         f"got min {int(real.min())}, max {int(real.max())}")
    if config.dual_encoder:  # [B, 2, L] -> [2B, L]: all first documents, then all second
        tokens = tokens.transpose(0, 1).reshape(-1, tokens.shape[-1])
        mask = mask.transpose(0, 1).reshape(-1, mask.shape[-1])
    empty = (~mask.any(dim=-1)).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"rows {empty[:10]} of the input have no real token (mask all False)")
    return tokens, mask


def plan_segments(config: ModelConfig, rf_table: RFTable, tokens: Tensor,
                  mask: Tensor | None, dtype: torch.dtype) -> SegmentPlan:
    """Validate, compact and segment a batch; look up RF(t, T_b) for each sample."""
    tokens, mask = check_inputs(config, tokens, mask)
    # Compaction: stable sort puts real tokens first, in their original order.
    order = torch.argsort((~mask).to(torch.int8), dim=-1, stable=True)
    tokens = torch.gather(tokens.long(), -1, order)
    lengths = mask.sum(dim=-1)  # n_b  [B']
    n_max = int(lengths.max())
    seg = config.segment_len if config.recurrent else n_max
    n_segments = (lengths + seg - 1) // seg  # T_b  [B']
    t_max = int(n_segments.max())
    width = t_max * seg
    idx = torch.arange(width, device=tokens.device)
    mask = idx < lengths[:, None]  # [B', T*S]
    if width <= tokens.shape[-1]:
        tokens = tokens[:, :width]
    else:
        tokens = torch.nn.functional.pad(tokens, (0, width - tokens.shape[-1]))
    tokens = tokens.masked_fill(~mask, 0)
    steps = torch.arange(t_max, device=tokens.device)
    active = steps[None, :] < n_segments[:, None]
    final = steps[None, :] == (n_segments[:, None] - 1)
    rf = rf_table(n_segments, t_max, dtype)
    return SegmentPlan(tokens=tokens.view(-1, t_max, seg), mask=mask.view(-1, t_max, seg),
                       n_segments=n_segments, active=active, final=final, rf=rf,
                       rf_first=rf[:, 0], docs=2 if config.dual_encoder else 1)


class RFTable(nn.Module):
    """RF(t, T) of a validated config, with the retention file's factors in buffers.

    ``schedule`` is the loaded retention file (``pipeline.retention.load_retention``); it is
    needed exactly when ``config.needs_retention_file`` and must then hold what the config
    uses: the T = ``rf_segments`` schedule (rf_T 'fixed'), or the streaming factors. Buffers
    (float64, non-persistent): ``fixed`` [rf_segments] = RF(., rf_segments); ``bank``
    [K, K], row T-1 = RF(., T) padded with zeros, K the largest T of the file (rf_T
    'per_sample'); ``streaming`` [n] = s(1..n), grown when a batch needs more segments.
    """

    def __init__(self, config: ModelConfig, schedule: RetentionSchedule | None) -> None:
        super().__init__()
        self.config = config
        self.schedule = schedule
        if config.needs_retention_file and schedule is None:
            raise ValueError(
                f"rf_mode={config.rf_mode!r} with rf_schedule={config.rf_schedule!r} reads RF "
                f"factors from a retention file: pass the schedule loaded by "
                f"pipeline.retention.load_retention({config.retention!r}) (build_model loads "
                "it from the config's retention path when none is given)")
        if not config.needs_retention_file and schedule is not None:
            raise ValueError(
                "a retention schedule was given, but this config reads none (rf_mode "
                f"{config.rf_mode!r}, rf_schedule {config.rf_schedule!r}, recurrent "
                f"{config.recurrent}); pass schedule=None")
        if schedule is None:
            return
        f64 = torch.float64
        if config.rf_mode == "streaming":
            schedule.streaming_factors(1)  # fail now if the file lacks them
            n = max(len(schedule.streaming), config.rf_segments or 1)
            self.register_buffer("streaming", torch.tensor(schedule.streaming_factors(n),
                                                           dtype=f64), persistent=False)
        elif config.rf_T == "fixed":
            self.register_buffer("fixed", torch.tensor(schedule.factors(config.rf_segments),
                                                       dtype=f64), persistent=False)
        else:
            k = max(schedule.schedules)
            bank = torch.zeros(k, k, dtype=f64)
            for t, factors in schedule.schedules.items():
                bank[t - 1, :t] = torch.tensor(factors, dtype=f64)
            self.register_buffer("bank", bank, persistent=False)

    def forward(self, n_segments: Tensor, t_max: int, dtype: torch.dtype) -> Tensor:
        """RF(t, T) of every row for t < t_max: [B', t_max] (entries past T_b are never used).

        n_segments: [B'] per-sample T_b. Ones when no RF is applied or the schedule is learned
        (the network looks those factors up itself). ValueError naming T when a sample has
        more segments than the fixed T (``rf_segments``) or the retention file lacks a T.
        """
        config = self.config
        rows, device = n_segments.shape[0], n_segments.device
        if not config.uses_rf or config.rf_schedule == "learned" and config.rf_mode != "streaming":
            if config.uses_rf and t_max > config.rf_segments:
                raise _too_long(config, t_max)
            return torch.ones(rows, t_max, dtype=dtype, device=device)
        if config.rf_mode == "streaming":  # T-free: s(t) for t = 1..t_max, the same for every row
            if t_max > self.streaming.shape[0]:
                self.streaming = torch.tensor(self.schedule.streaming_factors(t_max),
                                              dtype=torch.float64, device=self.streaming.device)
            return self.streaming[:t_max].to(device=device, dtype=dtype).expand(rows, -1)
        if config.rf_T == "fixed":
            if t_max > config.rf_segments:
                raise _too_long(config, t_max)
            if config.rf_schedule == "flat":  # RF(t, T) = 1 / T
                t_used = torch.full_like(n_segments, config.rf_segments)
                return (1.0 / t_used.to(dtype))[:, None].expand(-1, t_max).contiguous()
            row = self.fixed[:t_max].to(device=device, dtype=dtype)
            return row.expand(rows, -1).contiguous()
        if config.rf_schedule == "flat":  # RF(t, T) = 1 / T
            return (1.0 / n_segments.to(dtype))[:, None].expand(-1, t_max).contiguous()
        for t_b in n_segments.unique().tolist():
            if t_b not in self.schedule.schedules:
                self.schedule.factors(int(t_b))  # raises, naming the T values of the file
        return self.bank[n_segments - 1, :t_max].to(device=device, dtype=dtype)


def _too_long(config: ModelConfig, t_max: int) -> ValueError:
    return ValueError(
        f"an input has T={t_max} segments of {config.segment_len} tokens, more than "
        f"rf_segments={config.rf_segments} (the task's T = ceil(seq_len / segment_len) that "
        f"rf_T='fixed' / rf_schedule={config.rf_schedule!r} use); shorten the input, raise "
        "rf_segments, or use rf_mode='streaming', which needs no T")
