"""The jet embedding of a jetscale model: the vector its classification head reads.

For the :class:`~jetscale.nn.JetTransformer` that is the class token after the
final LayerNorm, ``norm(cls)`` (B, D); for the
:class:`~jetscale.nn.ParticleFlowNetwork` the pooled latent after ``rho``'s
hidden layers, ``rho[:-1](sum over particles)`` (B, D), the input of its last
linear layer. Either way the logits are ``head(embedding)``, so the embedding
carries everything the tagger's decision is made from.

The embedding is taken as the head's input during the model's own forward pass
(a forward pre-hook), not by a second copy of the forward code: the logits and
the embedding come from one pass, and the embedding follows any change to how
the model builds what its head reads.
"""

from __future__ import annotations

import torch
from torch import nn

from jetscale.nn import JetTransformer, ParticleFlowNetwork


def classification_head(model: nn.Module) -> nn.Linear:
    """The last linear layer of ``model``, whose input is the jet embedding."""
    head: nn.Module
    if isinstance(model, JetTransformer):
        head = model.head
    elif isinstance(model, ParticleFlowNetwork):
        head = model.rho[-1]
    else:
        msg = (
            f"no jet embedding defined for a {type(model).__name__}; "
            "jetscale embeds JetTransformer and ParticleFlowNetwork models"
        )
        raise TypeError(msg)
    if not isinstance(head, nn.Linear):  # pragma: no cover - the networks end in a Linear
        msg = f"{type(model).__name__}: the classification head is a {type(head).__name__}, not a Linear"
        raise TypeError(msg)
    return head


def embedding_dim(model: nn.Module) -> int:
    """Width D of the jet embedding of ``model`` (``d_model`` for both networks)."""
    return classification_head(model).in_features


def logits_and_embedding(
    model: nn.Module, x: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits (B, n_classes), embedding (B, D))`` of features (B, P, F) and mask (B, P).

    One forward pass of ``model``: the logits are exactly ``model(x, mask)``.
    """
    head = classification_head(model)
    captured: list[torch.Tensor] = []

    def keep_input(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        captured.append(args[0])

    handle = head.register_forward_pre_hook(keep_input)
    try:
        logits = model(x, mask)
    finally:
        handle.remove()
    if len(captured) != 1:  # pragma: no cover - a network that calls its head twice
        msg = (
            f"{type(model).__name__}: the classification head ran {len(captured)} times in one pass"
        )
        raise RuntimeError(msg)
    return logits, captured[0]
