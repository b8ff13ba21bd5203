"""The Transformer's forward pass as ONNX Runtime's fused attention operators see it.

Why a second spelling of :class:`~jetscale.nn.JetTransformer`'s forward: the
TorchScript exporter writes ``scaled_dot_product_attention`` as separate
MatMul, Add, Softmax and Transpose nodes, which ONNX Runtime runs one by one on
CPU, and every ``nn.Linear`` on a (B, P, D) tensor as MatMul followed by a
separate bias Add. Written here instead:

* particle self-attention as one ``com.microsoft.Attention`` node: the query,
  key and value projections (one (D, 3D) weight) and the attention of all
  heads in one CPU kernel, padded particles masked as keys;
* class attention (only the class token queries) as one
  ``com.microsoft.MultiHeadAttention`` node, the projection biases folded into it;
* every other linear layer on the matrix of the batch's real particles only
  (padded slots are gathered out and scattered back for attention), which
  exports as ``Gemm`` with the bias inside the matrix product.

Padded slots therefore cost nothing outside attention, and their values never
matter: attention masks them as keys, and no output reads them (an empty jet's
class token attends only to itself). The result is the model's for every jet,
empty ones included, and a jet's scores do not depend on the other jets of its
batch: each real particle's row is computed alone.

Measured against the plain export, MultiHeadAttention for every block, ONNX
Runtime's transformer optimizer and the opset-23 ``Attention`` of the dynamo
exporter, this was the fastest on CPU (``benchmarks/bench_inference.py``,
docs/performance.md). The contrib operators run in ONNX Runtime only (CPU and
CUDA providers); :func:`~jetscale.export.onnx_export.export_onnx` writes the
plain graph with ``fused=False``.

The weights are the model's own tensors, and ``jetscale export`` checks the
graph against the torch model as for any export (it fails above 1e-4), so this
spelling cannot drift from the model silently; the tests also cover empty jets
and batches without a particle. The torch ``forward`` of the two
operator functions below only serves the tracer: it computes what the ONNX
node computes, so the traced shapes and a torch run of this module are right.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jetscale.nn import JetTransformer
from jetscale.nn.transformer import Block, ClassBlock

#: What masked keys add to the attention scores: the model's own additive mask
#: (:func:`jetscale.nn.transformer.additive_mask`, finite so an empty jet attends uniformly).
MASK_FILTER_VALUE = float(np.finfo(np.float32).min / 2)
#: The contrib operator domain and its version, declared on export.
CONTRIB_DOMAIN = "com.microsoft"


def _attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_valid: torch.Tensor, n_heads: int
) -> torch.Tensor:
    """Multi-head attention of (B, S, D) queries on (B, L, D) keys and values, as the operators compute it."""
    batch, n_q, width = q.shape
    n_k = k.shape[1]
    head = width // n_heads
    q = q.reshape(batch, n_q, n_heads, head).transpose(1, 2)
    k = k.reshape(batch, n_k, n_heads, head).transpose(1, 2)
    v = v.reshape(batch, n_k, n_heads, head).transpose(1, 2)
    mask = torch.zeros(batch, 1, 1, n_k, dtype=q.dtype)
    mask = mask.masked_fill(key_valid[:, None, None, :] == 0, MASK_FILTER_VALUE)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return y.transpose(1, 2).reshape(batch, n_q, width)


class SelfAttentionOp(torch.autograd.Function):
    """``com.microsoft.Attention``: input (B, P, D), weight (D, 3D), bias (3D), key mask (B, P) int32."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        key_valid: torch.Tensor,
        n_heads: int,
    ) -> torch.Tensor:
        """What the node computes, in torch: traced for shapes at export."""
        width = x.shape[-1]
        qkv = x @ weight + bias
        q, k, v = qkv.split(width, dim=-1)
        return _attention(q, k, v, key_valid, n_heads)

    @staticmethod
    def symbolic(
        g: Any, x: Any, weight: Any, bias: Any, key_valid: Any, n_heads: int
    ) -> Any:  # pragma: no cover - runs inside torch.onnx.export
        """The ONNX node, written by the TorchScript exporter in place of :meth:`forward`."""
        out = g.op(
            f"{CONTRIB_DOMAIN}::Attention",
            x,
            weight,
            bias,
            key_valid,
            num_heads_i=n_heads,
            mask_filter_value_f=MASK_FILTER_VALUE,
        )
        out.setType(x.type())
        return out


class CrossAttentionOp(torch.autograd.Function):
    """``com.microsoft.MultiHeadAttention``: query (B, S, D), key and value (B, L, D), bias (3D), key mask (B, L)."""

    @staticmethod
    def forward(
        ctx: Any,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        bias: torch.Tensor,
        key_valid: torch.Tensor,
        n_heads: int,
    ) -> torch.Tensor:
        """What the node computes, in torch: traced for shapes at export."""
        bias_q, bias_k, bias_v = bias.split(q.shape[-1])
        return _attention(q + bias_q, k + bias_k, v + bias_v, key_valid, n_heads)

    @staticmethod
    def symbolic(
        g: Any, q: Any, k: Any, v: Any, bias: Any, key_valid: Any, n_heads: int
    ) -> Any:  # pragma: no cover - runs inside torch.onnx.export
        """The ONNX node, written by the TorchScript exporter in place of :meth:`forward`."""
        out = g.op(
            f"{CONTRIB_DOMAIN}::MultiHeadAttention",
            q,
            k,
            v,
            bias,
            key_valid,
            num_heads_i=n_heads,
            mask_filter_value_f=MASK_FILTER_VALUE,
        )
        out.setType(q.type())
        return out


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


class FusedTransformerTagger(nn.Module):
    """weaver-layout inputs -> class probabilities (and the jet embedding), for export only.

    The same function as :class:`~jetscale.export.onnx_export.SoftmaxTagger`
    (``with_embedding``: :class:`~jetscale.export.onnx_export.EmbeddingTagger`)
    around ``model``, spelled for the fused operators (see the module docstring).
    Eval mode only: there is no dropout in it.
    """

    def __init__(self, model: JetTransformer, *, with_embedding: bool = False) -> None:
        super().__init__()
        if model.training:
            msg = "the fused graph is for inference: put the model in eval mode first"
            raise ValueError(msg)
        self.model = model
        self.with_embedding = with_embedding
        # An nn.Module starts in training mode, and the exporter restores the wrapper's mode
        # (recursively) after tracing: without this, exporting would leave ``model`` training.
        self.eval()

    def forward(
        self, pf_features: torch.Tensor, pf_mask: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        model = self.model
        batch, n_features, slots = pf_features.shape
        width = model.config.d_model
        key_valid = (pf_mask[:, 0] > 0).to(torch.int32)  # (B, P), as SoftmaxTagger's mask
        # Real particles only, (T, .) with T the particles of the batch: padded slots never
        # reach a linear layer. Attention scatters them into (B, P, D), zeros in the padded
        # slots, which it masks as keys; no output reads a padded slot's result.
        real = torch.nonzero(key_valid.reshape(-1)).reshape(-1)  # (T,)
        tokens = pf_features.transpose(1, 2).reshape(batch * slots, n_features)
        h = model.embed(tokens.index_select(0, real))  # (T, D)
        slotted = torch.zeros(batch * slots, width, dtype=h.dtype)
        for block in cast("list[Block]", model.blocks):
            attention = block.attention
            weight = torch.cat([attention.query.weight, attention.key_value.weight]).t()
            bias = torch.cat([attention.query.bias, attention.key_value.bias])
            normed = _layer_norm(h, block.norm_attention)
            padded = slotted.index_put((real,), normed).reshape(batch, slots, width)
            mixed = SelfAttentionOp.apply(padded, weight, bias, key_valid, attention.n_heads)
            mixed = mixed.reshape(batch * slots, width).index_select(0, real)
            h = h + attention.out(mixed)
            h = h + block.feed_forward(_layer_norm(h, block.norm_ff))
        particles = slotted.index_put((real,), h).reshape(batch, slots, width)
        with_class = torch.cat([torch.ones_like(key_valid[:, :1]), key_valid], dim=1)
        cls = model.class_token.expand(batch, 1, width).reshape(batch, width)
        for class_block in cast("list[ClassBlock]", model.class_blocks):
            attention = class_block.attention
            seen = torch.cat([cls.reshape(batch, 1, width), particles], dim=1)
            seen = _layer_norm(seen, class_block.norm_attention)  # (B, 1 + P, D)
            query = F.linear(seen[:, 0], attention.query.weight).reshape(batch, 1, width)
            flat = seen.reshape(batch * (slots + 1), width)
            key_weight = attention.key_value.weight[:width]  # slices fold into constants
            value_weight = attention.key_value.weight[width:]
            key = F.linear(flat, key_weight).reshape(batch, slots + 1, width)
            value = F.linear(flat, value_weight).reshape(batch, slots + 1, width)
            bias = torch.cat([attention.query.bias, attention.key_value.bias])
            mixed = CrossAttentionOp.apply(query, key, value, bias, with_class, attention.n_heads)
            cls = cls + attention.out(mixed.reshape(batch, width))
            cls = cls + class_block.feed_forward(_layer_norm(cls, class_block.norm_ff))
        embedding = _layer_norm(cls, model.norm)
        probabilities = torch.softmax(model.head(embedding), dim=1)
        return (probabilities, embedding) if self.with_embedding else probabilities
