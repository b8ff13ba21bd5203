"""A particle-flow network (Deep Sets; Komiske, Metodiev, Thaler 2019): the baseline.

Each constituent passes through the same MLP, the results are summed over real
constituents, and a second MLP classifies the sum. It sees the same inputs as the
Transformer but no particle-particle interactions, so comparing the two shows what
attention buys.
"""

from __future__ import annotations

import torch
from torch import nn

from jetscale.nn.config import ModelConfig


class ParticleFlowNetwork(nn.Module):
    """Logits ``(B, n_classes)`` from features ``(B, P, F)`` and a mask ``(B, P)``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.embed = nn.Linear(config.n_features, d)
        self.phi = nn.Sequential(nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU())
        self.rho = nn.Sequential(
            nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, config.n_classes)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.phi(self.embed(x))  # (B, P, D)
        pooled = (h * mask[..., None].to(h.dtype)).sum(dim=1)  # (B, D), padding contributes nothing
        return self.rho(pooled)
