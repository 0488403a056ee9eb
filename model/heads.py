"""Classifier heads: single sequence, and the LRA Retrieval dual encoder.

Both read a feature vector per encoded sequence, [B', F], produced by the encoder's readout
(final memory, pooled final-segment tokens, or both; see ``ModelConfig.readout``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ClassifierHead(nn.Module):
    """MLP on one feature vector: [B, F] -> logits [B, C]."""

    def __init__(self, in_features: int, hidden: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.GELU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, num_classes))

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)


class DualEncoderHead(nn.Module):
    """Two-document matching as in LRA Retrieval: MLP on [u, v, u*v, u-v].

    features: [2B, F], the B first documents then the B second ones -> logits [B, C].
    """

    def __init__(self, in_features: int, hidden: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.mlp = ClassifierHead(4 * in_features, hidden, num_classes, dropout)

    def forward(self, features: Tensor) -> Tensor:
        u, v = features.chunk(2, dim=0)
        return self.mlp(torch.cat([u, v, u * v, u - v], dim=-1))
