"""Contrastive pretraining on re-simulated views (RS3L): the loss and the projection head.

RS3L (Harris, Kagan, Krupa, Maier, Woodward 2024, *Re-simulation-based
self-supervised learning for pre-training foundation models*) makes the
augmentations of contrastive learning with the simulator itself: a hard process
is fixed and its parton shower, hadronisation, MPI and detector response are
simulated again, giving several *views* of one jet (a *group*; the files of
``jetscale generate --resimulate K``). What the views share is the hard process,
so a representation that puts them together and other jets apart keeps the
physics of the hard process and forgets the fluctuations of what follows.

The loss is SimCLR's NT-Xent (Chen, Kornblith, Norouzi, Hinton 2020), which RS3L
uses, generalised to K views per group in the standard multi-positive way
(Khosla et al. 2020, *Supervised contrastive learning*, the "L_out" form). For
the N views of a batch with L2-normalised projections z and s_ij = z_i . z_j / tau,

    l_i = -1/|P(i)| sum_{p in P(i)} log( exp(s_ip) / sum_{a != i} exp(s_ia) ),

P(i) the other views of i's group; the loss is the mean of l_i over the views.
With two views per group this is exactly NT-Xent. Every view is an anchor, so
a group of K views contributes K anchors with K - 1 positives each.

The projection head is SimCLR's: a two-layer MLP (Linear, ReLU, Linear) on the
backbone's jet embedding, the vector its classification head reads (the class
token after the final LayerNorm for the Transformer; see
:mod:`jetscale.export.embedding`). As in SimCLR it is discarded after
pretraining: fine-tuning loads the backbone only
(:func:`~jetscale.transfer.pretrain.backbone_state`). Unlike SimCLR's there is
no batch normalisation in the head: batch statistics would couple the views of
a group within a batch and make a batch split over processes compute another
loss than the whole batch.

Under ``torchrun`` the projections of every process are gathered (with their
gradients), so the negatives are those of the whole global batch, as SimCLR
gathers them across its accelerators, and W processes train exactly like one
process with W batches (:func:`gather_from_processes`).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

#: SimCLR's temperature for its l2-normalised NT-Xent on ImageNet (its Table 5: 0.1
#: was the best of 0.05-1 for linear evaluation); small temperatures weight the
#: hardest negatives most, which matters here: most negatives of a jet are easy
#: (another class), the hard ones are other jets of its own class.
DEFAULT_TEMPERATURE = 0.1
#: SimCLR's projection width; it matters little (SimCLR's Figure 8: 32 to 2048 within a point).
DEFAULT_PROJECTION_DIM = 128


def multi_positive_nt_xent(
    z: torch.Tensor, group: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE
) -> torch.Tensor:
    """The mean multi-positive NT-Xent loss of projections ``z`` (N, p) grouped by ``group`` (N,).

    ``z`` need not be normalised (it is, here). Every view needs another view of
    its group in the batch: a view without one is a ``ValueError``. Computed in
    float32 whatever the autocast: at tau = 0.1 bfloat16 similarities would be
    off by about 0.04 nats.
    """
    if z.ndim != 2 or group.shape != (len(z),):
        msg = f"projections (N, p) and groups (N,) expected, got {tuple(z.shape)} and {tuple(group.shape)}"
        raise ValueError(msg)
    if not temperature > 0:
        msg = f"the contrastive temperature must be positive, got {temperature}"
        raise ValueError(msg)
    with torch.autocast(z.device.type, enabled=False):
        unit = F.normalize(z.float(), dim=1)
        similarity = unit @ unit.T / temperature  # (N, N)
        itself = torch.eye(len(z), dtype=torch.bool, device=z.device)
        similarity = similarity.masked_fill(itself, float("-inf"))  # never its own negative
        log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)  # (N, N)
        positive = (group[:, None] == group[None, :]) & ~itself  # (N, N)
        n_positive = positive.sum(dim=1)
        if bool((n_positive == 0).any()):
            alone = int((n_positive == 0).sum())
            msg = f"{alone} of {len(z)} views have no other view of their group in the batch"
            raise ValueError(msg)
        per_view = -log_prob.masked_fill(~positive, 0.0).sum(dim=1) / n_positive
        return per_view.mean()


@dataclasses.dataclass(frozen=True)
class ViewStatistics:
    """Validation summaries of one batch of projections (means over views or pairs)."""

    loss: float  # the batch's multi-positive NT-Xent
    positive_cosine: float  # mean cosine similarity of two views of one group
    negative_cosine: float  # mean cosine similarity of views of different groups (NaN: none)
    retrieval: float  # share of views whose most similar other view is of their own group
    views: int
    positive_pairs: int  # ordered pairs (i, j), i != j
    negative_pairs: int


@torch.no_grad()
def view_statistics(
    z: torch.Tensor, group: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE
) -> ViewStatistics:
    """The loss and how far apart views of one group and of different groups are."""
    loss = float(multi_positive_nt_xent(z, group, temperature))
    unit = F.normalize(z.float(), dim=1)
    cosine = unit @ unit.T  # (N, N)
    itself = torch.eye(len(z), dtype=torch.bool, device=z.device)
    same = group[:, None] == group[None, :]
    positive, negative = same & ~itself, ~same
    nearest = cosine.masked_fill(itself, float("-inf")).argmax(dim=1)  # (N,)
    n_negative = int(negative.sum())
    return ViewStatistics(
        loss,
        float(cosine[positive].mean()),
        float(cosine[negative].mean()) if n_negative else float("nan"),
        float((group[nearest] == group).float().mean()),
        len(z),
        int(positive.sum()),
        n_negative,
    )


class ProjectionHead(nn.Sequential):
    """SimCLR's projection g(h) = W2 ReLU(W1 h): (B, D) embeddings to (B, p) projections."""

    def __init__(self, embedding_dim: int, projection_dim: int = DEFAULT_PROJECTION_DIM) -> None:
        super().__init__(
            nn.Linear(embedding_dim, embedding_dim),
            nn.ReLU(),
            nn.Linear(embedding_dim, projection_dim),
        )

    @staticmethod
    def flops(embedding_dim: int, projection_dim: int) -> int:
        """Forward matrix-product FLOPs for one jet."""
        return 2 * embedding_dim * (embedding_dim + projection_dim)


def classification_head(backbone: nn.Module) -> nn.Linear:
    """The backbone's last linear layer, whose input is the jet embedding.

    The rule of :func:`jetscale.export.embedding.classification_head` (a sibling
    layer, not importable from here): the Transformer's ``head``, the particle-flow
    network's last ``rho`` layer.
    """
    head = getattr(backbone, "head", None)
    rho = getattr(backbone, "rho", None)
    if head is None and isinstance(rho, nn.Sequential):
        head = rho[-1]
    if not isinstance(head, nn.Linear):
        msg = f"no jet embedding defined for a {type(backbone).__name__}"
        raise TypeError(msg)
    return head


class ContrastiveModel(nn.Module):
    """A backbone and a projection head: ``(projections (B, p), logits (B, C))`` of (x, mask).

    The embedding is taken as the backbone's head input during its own forward
    pass (a pre-hook), as :func:`jetscale.export.embedding.logits_and_embedding`
    takes it, so it is exactly what a fine-tuned head will read. The logits come
    along: the loss adds them times zero, so that every parameter is used and
    DDP (which expects a gradient for each) works.
    """

    def __init__(self, backbone: nn.Module, projection_dim: int = DEFAULT_PROJECTION_DIM) -> None:
        super().__init__()
        self.backbone = backbone
        self.projection = ProjectionHead(classification_head(backbone).in_features, projection_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        captured: list[torch.Tensor] = []

        def keep_input(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            captured.append(args[0])

        handle = classification_head(self.backbone).register_forward_pre_hook(keep_input)
        try:
            logits = self.backbone(x, mask)  # (B, C)
        finally:
            handle.remove()
        return self.projection(captured[0]), logits  # (B, p), (B, C)


def gather_from_processes(
    z: torch.Tensor, group: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every process's projections (N_total, p) and groups (N_total,), in rank order.

    Without ``torch.distributed`` (one process) the inputs come back. Group
    indices of rank r are offset by r x the longest batch, so groups of different
    processes never match. The gather keeps the gradient: each process computes
    the loss of the whole global batch, the gradients of its own projections sum
    over the W processes' identical losses (W times the global loss's), and DDP's
    average over processes divides by W again: the global batch's exact gradient.
    Batches may differ in length (whole groups); they are padded for the gather.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return z, group
    from torch.distributed.nn.functional import all_gather

    world = dist.get_world_size()
    length = torch.tensor([len(z)], device=z.device)
    lengths = [torch.zeros_like(length) for _ in range(world)]
    dist.all_gather(lengths, length)
    sizes = [int(n.item()) for n in lengths]
    longest = max(sizes)
    padded = F.pad(z, (0, 0, 0, longest - len(z)))  # (longest, p)
    pieces = all_gather(padded)
    padded_group = torch.full((longest,), -1, dtype=group.dtype, device=group.device)
    padded_group[: len(group)] = group
    groups = [torch.empty_like(padded_group) for _ in range(world)]
    dist.all_gather(groups, padded_group)
    return (
        torch.cat([piece[:n] for piece, n in zip(pieces, sizes, strict=True)]),
        torch.cat(
            [g[:n] + rank * longest for rank, (g, n) in enumerate(zip(groups, sizes, strict=True))]
        ),
    )
