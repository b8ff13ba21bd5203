"""What a training run optimises: the module it trains, its loss, and how it is evaluated.

The training loop (:mod:`jetscale.train.loop`) owns data, schedule, checkpoints,
resumption, DDP and compute accounting; an :class:`Objective` owns the rest. The
default is :class:`Supervised`, the tagger's cross-entropy over its classes.
Pretraining objectives (masked particle modelling and contrastive learning, in
:mod:`jetscale.transfer.pretrain`) plug in here, so they inherit everything the
loop guarantees; one that needs other batches than the jets' stream (whole
groups of re-simulated views) also gives the loop its data (:class:`ReadsOwnData`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from jetscale.metrics import (
    one_vs_qcd_aucs,
    one_vs_qcd_aucs_per_pt_bin,
    one_vs_qcd_rejections,
    one_vs_qcd_sculpting,
)
from jetscale.nn import ModelConfig, build_model, forward_flops
from jetscale.train.config import TrainConfig
from jetscale.train.data import Batch, TrainingData


class Objective(Protocol):
    """The parts of training that depend on what is learned."""

    @property
    def name(self) -> str:
        """The objective's name, as ``jetscale pretrain --objective`` spells it."""
        ...

    @property
    def needs_labels(self) -> bool:
        """Whether the loss reads the jets' classes (unlabelled files are refused if so)."""
        ...

    def build(self, config: ModelConfig) -> torch.nn.Module:
        """The module the loop trains (and checkpoints)."""
        ...

    def loss(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        mask: torch.Tensor,
        label: torch.Tensor,
        step: int,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The training loss of one batch at optimizer step ``step`` (deterministic given it).

        ``weight``: per-jet weights (mass decorrelation, supervised objectives only).
        """
        ...

    def evaluate(
        self, module: torch.nn.Module, data: Batch, device: torch.device, batch_size: int
    ) -> dict[str, Any]:
        """Validation metrics; ``val_loss`` chooses ``best.pt``."""
        ...

    def forward_flops(self, config: ModelConfig, n_particles: int) -> float:
        """Forward FLOPs of the trained module for one jet of ``n_particles`` slots."""
        ...

    def optimizer(self, module: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
        """The optimizer of the trained module (its parameter groups say what trains how)."""
        ...

    def set_learning_rate(self, optimizer: torch.optim.Optimizer, lr: float, step: int) -> None:
        """Set every group's learning rate for optimizer step ``step`` from the schedule's ``lr``."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the checkpoint records of the objective (a resumed run must match it)."""
        ...


@runtime_checkable
class ReadsOwnData(Protocol):
    """An objective that needs other batches than the jets' stream gives (whole groups of views).

    The loop then takes its training and validation sources from
    :meth:`data_sources` instead of :func:`~jetscale.train.data.split_sources`;
    the rest (checkpoints, resumption, DDP, accounting) is unchanged.
    """

    def data_sources(self, config: TrainConfig) -> tuple[TrainingData, TrainingData]:
        """Training and validation sources for ``config`` (checked here, before any step)."""
        ...


class Supervised:
    """Cross-entropy over the tagger's classes: ``jetscale train``."""

    name = "supervised"
    needs_labels = True

    def build(self, config: ModelConfig) -> torch.nn.Module:
        return build_model(config)

    def loss(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        mask: torch.Tensor,
        label: torch.Tensor,
        step: int,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if weight is None:
            return F.cross_entropy(module(x, mask).float(), label)
        # The weighted mean: a batch's jets count by weight, and a batch whose jets
        # all have weight 0 contributes nothing (instead of 0/0).
        per_jet = F.cross_entropy(module(x, mask).float(), label, reduction="none")
        return (per_jet * weight).sum() / weight.sum().clamp_min(1e-12)

    @torch.no_grad()
    def evaluate(
        self, module: torch.nn.Module, data: Batch, device: torch.device, batch_size: int
    ) -> dict[str, Any]:
        return classification_metrics(module, data, device, batch_size)

    def forward_flops(self, config: ModelConfig, n_particles: int) -> float:
        return float(forward_flops(config, n_particles))

    def optimizer(self, module: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
        return make_optimizer(module, config)

    def set_learning_rate(self, optimizer: torch.optim.Optimizer, lr: float, step: int) -> None:
        set_uniform_learning_rate(optimizer, lr)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay only on matrices (not biases, norms or the class token)."""
    decay = [p for p in model.parameters() if p.dim() >= 2 and p.shape[0] > 1]
    no_decay = [p for p in model.parameters() if not (p.dim() >= 2 and p.shape[0] > 1)]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95))


def set_uniform_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The schedule's learning rate for every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr


@torch.no_grad()
def classification_metrics(
    model: torch.nn.Module, data: Batch, device: torch.device, batch_size: int
) -> dict[str, Any]:
    """Loss, accuracy and one-vs-QCD AUCs of a classifier on the whole fixed validation set.

    With per-jet weights on ``data`` (mass decorrelation) ``val_loss`` is the
    weighted mean and ``val_loss_unweighted`` the plain one.
    """
    was_training = model.training
    model.eval()
    losses, weighted, probabilities = [], [], []
    for start in range(0, len(data.label), batch_size):
        x = torch.from_numpy(data.x[start : start + batch_size]).to(device)
        mask = torch.from_numpy(data.mask[start : start + batch_size]).to(device)
        label = torch.from_numpy(data.label[start : start + batch_size]).to(device)
        logits = model(x, mask).float()
        per_jet = F.cross_entropy(logits, label, reduction="none")
        losses.append(per_jet.sum().item())
        if data.weight is not None:
            weight = torch.from_numpy(data.weight[start : start + batch_size]).to(device)
            weighted.append((per_jet * weight).sum().item())
        probabilities.append(torch.softmax(logits, dim=1).cpu().numpy())
    model.train(was_training)
    prob = np.concatenate(probabilities)
    metrics: dict[str, Any] = {
        "val_loss": sum(losses) / len(data.label),
        "val_accuracy": float((prob.argmax(axis=1) == data.label).mean()),
        "val_auc": one_vs_qcd_aucs(prob, data.label, data.class_names),
        "val_rejection50": one_vs_qcd_rejections(prob, data.label, data.class_names),
    }
    if data.weight is not None:
        # Mass decorrelation: val_loss is the weighted loss training minimises (it picks
        # the best checkpoint); the plain one stays comparable with other runs.
        metrics["val_loss_unweighted"] = metrics["val_loss"]
        metrics["val_loss"] = sum(weighted) / max(float(data.weight.sum()), 1e-12)
    if data.pt is not None:
        metrics["val_auc_pt_bins"] = one_vs_qcd_aucs_per_pt_bin(
            prob, data.label, data.pt, data.class_names
        )
    if data.sdmass is not None:
        metrics["val_sculpting_jsd"] = one_vs_qcd_sculpting(
            prob, data.label, data.sdmass, data.class_names
        )
    return metrics
