"""Masked particle modelling (MPM): pretraining a backbone on unlabelled jets.

As in Golling et al. 2024 and MPMv2 (Leigh et al.): a fraction of each jet's real
constituents is hidden, the backbone encodes the rest, and a light decoder
reconstructs the hidden ones from the encoded particles and learned *mask tokens*,
one per pT rank (features are built pT-ordered, so a slot's index is its
constituent's pT rank: the decoder knows *which* particle to reconstruct, not
what it is). The loss is a regression of the hidden particles' continuous
features (L1 or Huber, on the standardized features) plus a cross-entropy on
their particle-ID flags (the one-hot ``part_is*`` features), averaged over
hidden particles only.

Hidden means hidden: a hidden particle's features are zeroed before the
embedding and its slot is masked out as a key in every encoder block, so no
visible token sees it (tested: changing a hidden particle changes no output).

Jets with fewer than two real constituents cannot hide one and keep one
visible: they hide none, contribute nothing to the loss, and are counted
(:attr:`HiddenParticles.too_short`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from jetscale.nn.transformer import Block, JetTransformer, additive_mask

#: The one-hot particle-ID features (the cross-entropy target of MPM).
PID_FLAGS = (
    "part_isChargedHadron",
    "part_isNeutralHadron",
    "part_isPhoton",
    "part_isElectron",
    "part_isMuon",
)
#: Not reconstructed: the mask feature is known (1 for every real particle).
NOT_TARGETS = ("part_mask",)
DEFAULT_FRACTION = 0.35


@dataclasses.dataclass(frozen=True)
class HiddenParticles:
    """Which slots of a batch are hidden, and how many jets were too short to hide any."""

    hidden: torch.Tensor  # (B, P) bool
    too_short: int


def choose_hidden(
    mask: torch.Tensor, fraction: float, generator: torch.Generator | None = None
) -> HiddenParticles:
    """Hide ``round(fraction * n)`` of each jet's ``n`` real constituents, chosen at random.

    At least one and at most ``n - 1``: every jet with two or more particles
    keeps a visible one and hides one. Padded slots are never hidden.
    """
    if not 0.0 < fraction < 1.0:
        msg = f"the MPM fraction of hidden particles must be in (0, 1), got {fraction}"
        raise ValueError(msg)
    valid = mask.to(torch.bool)
    n_real = valid.sum(dim=1)
    count = torch.floor(fraction * n_real + 0.5).long()
    count = torch.minimum(torch.clamp(count, min=1), n_real - 1).clamp(min=0)
    where = generator.device if generator is not None else valid.device
    scores = torch.rand(valid.shape, generator=generator, device=where).to(valid.device)
    scores = scores.masked_fill(~valid, 2.0)  # padded slots sort last: never chosen
    rank = scores.argsort(dim=1).argsort(dim=1)
    hidden = rank < count[:, None]
    return HiddenParticles(hidden, int((n_real < 2).sum()))


class MaskedParticleModel(nn.Module):
    """A backbone with the MPM decoder and its two output heads."""

    def __init__(
        self, backbone: JetTransformer, feature_names: Sequence[str], decoder_layers: int = 1
    ) -> None:
        super().__init__()
        if not isinstance(backbone, JetTransformer):
            msg = f"masked particle modelling needs a Transformer backbone, got {type(backbone).__name__}"
            raise TypeError(msg)
        config = backbone.config
        if len(feature_names) != config.n_features:
            msg = (
                f"{len(feature_names)} feature names for a backbone of {config.n_features} features"
            )
            raise ValueError(msg)
        self.backbone = backbone
        self.continuous = [
            i for i, n in enumerate(feature_names) if n not in PID_FLAGS and n not in NOT_TARGETS
        ]
        self.pid = [i for i, n in enumerate(feature_names) if n in PID_FLAGS]
        width = config.d_model
        self.mask_tokens = nn.Embedding(config.max_particles, width)  # one per pT rank
        nn.init.trunc_normal_(self.mask_tokens.weight, std=0.02)
        self.decoder = nn.ModuleList(Block(config) for _ in range(decoder_layers))
        self.decoder_norm = nn.LayerNorm(width)
        self.regression = nn.Linear(width, len(self.continuous))
        self.pid_logits = nn.Linear(width, len(self.pid)) if self.pid else None

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, hidden: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predicted continuous features ``(B, P, C)`` and PID logits ``(B, P, 5)`` at every slot."""
        valid = mask.to(torch.bool)
        visible = valid & ~hidden
        h = self.backbone.encode(x.masked_fill(hidden[..., None], 0.0), visible)
        rank = torch.arange(x.shape[1], device=x.device)
        tokens = torch.where(hidden[..., None], self.mask_tokens(rank)[None].to(h.dtype), h)
        decoder_mask = additive_mask(valid, tokens.dtype)  # visible particles and mask tokens
        for block in self.decoder:
            tokens = block(tokens, decoder_mask)
        tokens = self.decoder_norm(tokens)
        logits = self.pid_logits(tokens) if self.pid_logits is not None else None
        return self.regression(tokens), logits


def mpm_loss(
    model: MaskedParticleModel,
    prediction: tuple[torch.Tensor, torch.Tensor | None],
    x: torch.Tensor,
    hidden: torch.Tensor,
    regression: Literal["l1", "huber"] = "l1",
) -> tuple[torch.Tensor, dict[str, float]]:
    """The MPM loss over hidden particles only: regression + PID cross-entropy.

    A batch without hidden particles (every jet too short) has loss 0.
    """
    continuous, pid_logits = prediction
    if not bool(hidden.any()):
        zero = continuous.sum() * 0.0  # keeps the graph, contributes nothing
        return zero, {"mpm_regression": 0.0, "mpm_pid": 0.0}
    target = x[..., model.continuous][hidden]
    guess = continuous[hidden]
    if regression == "l1":
        reg = F.l1_loss(guess, target)
    elif regression == "huber":
        reg = F.smooth_l1_loss(guess, target)
    else:
        msg = f"regression must be 'l1' or 'huber', got {regression!r}"
        raise ValueError(msg)
    total = reg
    parts = {"mpm_regression": float(reg.detach())}
    if pid_logits is not None:
        pid_target = x[..., model.pid][hidden].argmax(dim=-1)
        ce = F.cross_entropy(pid_logits[hidden], pid_target)
        total = total + ce
        parts["mpm_pid"] = float(ce.detach())
    return total, parts
