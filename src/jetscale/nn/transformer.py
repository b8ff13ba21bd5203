"""A permutation-invariant Transformer over a jet's constituents.

Particles are tokens with no positional information; self-attention blocks mix
them (padded slots are masked out as keys), and a learned class token reads the
jet out through class-attention blocks (Touvron et al. 2021, as in ParT). The
network is therefore invariant to constituent order and blind to padding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from jetscale.nn.config import ModelConfig


def additive_mask(valid: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, K) bool -> (B, 1, 1, K) additive mask: 0 for valid keys, a large negative otherwise.

    A finite value, not -inf: an empty jet then attends uniformly (no NaN), and its
    class token still sees itself, so its output is well defined.
    """
    mask = torch.zeros(valid.shape, dtype=dtype, device=valid.device)
    mask = mask.masked_fill(~valid, torch.finfo(dtype).min / 2)
    return mask[:, None, None, :]


class FeedForward(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        hidden = config.ff_ratio * config.d_model
        self.up = nn.Linear(config.d_model, hidden)
        self.down = nn.Linear(hidden, config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class Attention(nn.Module):
    """Multi-head attention with separate query and key/value projections.

    Separate projections let class attention project only the class token as a
    query (the FLOP count relies on this).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.query = nn.Linear(config.d_model, config.d_model)
        self.key_value = nn.Linear(config.d_model, 2 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.dropout_p = config.dropout
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        batch, n_q, width = queries.shape
        n_k = keys.shape[1]
        head = width // self.n_heads
        q = self.query(queries).view(batch, n_q, self.n_heads, head).transpose(1, 2)  # (B, H, Q, h)
        k, v = self.key_value(keys).split(width, dim=2)
        k = k.view(batch, n_k, self.n_heads, head).transpose(1, 2)  # (B, H, K, h)
        v = v.view(batch, n_k, self.n_heads, head).transpose(1, 2)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout_p if self.training else 0.0
        )  # (B, H, Q, h)
        y = y.transpose(1, 2).reshape(batch, n_q, width)
        return self.dropout(self.out(y))


class _Residual(nn.Module):
    """The parts of a pre-norm residual block: attention then feed-forward."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.norm_attention = nn.LayerNorm(config.d_model)
        self.attention = Attention(config)
        self.norm_ff = nn.LayerNorm(config.d_model)
        self.feed_forward = FeedForward(config)


class Block(_Residual):
    """Particle self-attention block."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.norm_attention(x)
        x = x + self.attention(h, h, mask)
        return x + self.feed_forward(self.norm_ff(x))


class ClassBlock(_Residual):
    """Class attention: only the class token queries; it attends to itself and the particles."""

    def forward(
        self, cls: torch.Tensor, particles: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        tokens = self.norm_attention(torch.cat([cls, particles], dim=1))  # (B, 1 + P, D)
        cls = cls + self.attention(tokens[:, :1], tokens, mask)
        return cls + self.feed_forward(self.norm_ff(cls))


class JetTransformer(nn.Module):
    """Logits ``(B, n_classes)`` from features ``(B, P, F)`` and a mask ``(B, P)`` (True = real)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.embed = nn.Sequential(nn.Linear(config.n_features, d), nn.GELU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.class_token = nn.Parameter(torch.zeros(1, 1, d))
        self.class_blocks = nn.ModuleList(ClassBlock(config) for _ in range(config.n_class_layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, config.n_classes)
        self.apply(self._init_weights)
        nn.init.trunc_normal_(self.class_token, std=0.02)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = mask.to(torch.bool)
        return self.classify(self.encode(x, valid), valid)

    def encode(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Particle tokens ``(B, P, D)`` after the self-attention blocks (masked pretraining reads them)."""
        h = self.embed(x)  # (B, P, D)
        particle_mask = additive_mask(valid, h.dtype)
        for block in self.blocks:
            h = block(h, particle_mask)
        return h

    def classify(self, h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)``: the class token reads the particle tokens ``h``."""
        batch = h.shape[0]
        with_cls = torch.cat(
            [torch.ones_like(valid[:, :1]), valid], dim=1
        )  # class token always valid
        class_mask = additive_mask(with_cls, h.dtype)
        cls = self.class_token.expand(batch, -1, -1)  # (B, 1, D)
        for block in self.class_blocks:
            cls = block(cls, h, class_mask)
        return self.head(self.norm(cls[:, 0]))  # (B, C)
