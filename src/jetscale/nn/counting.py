"""Exact parameter counts and analytic forward FLOPs of :class:`JetTransformer`.

Scaling laws are fitted against these numbers, so they are derived term by term
from the architecture (and tested against ``sum(p.numel())`` and torch's FLOP
counter) rather than approximated.

FLOP convention: a multiply-add is 2 FLOPs; only matrix products are counted
(projections, attention scores and the attention-weighted sum), as torch's
``FlopCounterMode`` does. Norms, GELU, softmax and residual adds are O(n d) and
left out.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jetscale.nn.config import ModelConfig

#: Training FLOPs per non-embedding parameter per token, forward and backward: the
#: C = 6 N D convention of Kaplan et al. 2020 and Hoffmann et al. 2022, with a jet's
#: constituents as its tokens (so D counts jets and C = 6 N D n_bar).
FLOPS_PER_PARAMETER_TOKEN = 6.0


def training_flops(non_embedding: Any, tokens: Any) -> Any:
    """C = 6 N T: training compute of ``non_embedding`` parameters over ``tokens`` tokens.

    Takes numbers or NumPy arrays. For jets, ``tokens`` is jets times constituents per
    jet (n_bar), and ``C / training_flops(N, D)`` gives n_bar back.
    """
    return FLOPS_PER_PARAMETER_TOKEN * non_embedding * tokens


@dataclasses.dataclass(frozen=True)
class ParameterCount:
    total: int
    embedding: int  # the per-particle input MLP

    @property
    def non_embedding(self) -> int:
        """Parameters outside the input embedding: the N of scaling laws (Kaplan et al. 2020)."""
        return self.total - self.embedding


def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def _block_parameters(config: ModelConfig) -> int:
    d, hidden = config.d_model, config.ff_ratio * config.d_model
    norms = 2 * (2 * d)
    attention = _linear(d, d) + _linear(d, 2 * d) + _linear(d, d)
    feed_forward = _linear(d, hidden) + _linear(hidden, d)
    return norms + attention + feed_forward


def count_parameters(config: ModelConfig) -> ParameterCount:
    """Exact number of trainable parameters."""
    d = config.d_model
    if config.architecture == "pfn":
        embedding = _linear(config.n_features, d)
        rest = 2 * _linear(d, d) + 2 * _linear(d, d) + _linear(d, config.n_classes)
        return ParameterCount(total=embedding + rest, embedding=embedding)
    embedding = _linear(config.n_features, d) + _linear(d, d)
    blocks = (config.n_layers + config.n_class_layers) * _block_parameters(config)
    readout = d + 2 * d + _linear(d, config.n_classes)  # class token, final norm, head
    return ParameterCount(total=embedding + blocks + readout, embedding=embedding)


def forward_flops(config: ModelConfig, n_particles: int) -> int:
    """Forward FLOPs for one jet processed with ``n_particles`` slots (padded slots count)."""
    n, d, f = n_particles, config.d_model, config.n_features
    if config.architecture == "pfn":
        return 2 * n * (f * d + 2 * d * d) + 2 * (2 * d * d + d * config.n_classes)
    hidden = config.ff_ratio * d
    embedding = 2 * n * (f * d + d * d)
    # self-attention block: q, kv, out projections; scores and weighted sum; feed-forward
    block = 2 * n * (d * d + 2 * d * d + d * d) + 2 * (2 * n * n * d) + 2 * n * (2 * d * hidden)
    # class block: one query over 1 + n keys
    keys = n + 1
    class_block = 2 * (d * d + keys * 2 * d * d + d * d) + 2 * (2 * keys * d) + 2 * (2 * d * hidden)
    head = 2 * d * config.n_classes
    return embedding + config.n_layers * block + config.n_class_layers * class_block + head


def attention_flops_fraction(config: ModelConfig, n_particles: int) -> float:
    """Share of forward FLOPs in the n^2 attention terms (why 6ND underestimates long jets)."""
    n, d = n_particles, config.d_model
    quadratic = config.n_layers * 4 * n * n * d
    return quadratic / forward_flops(config, n)
