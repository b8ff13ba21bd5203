"""Pretraining a backbone: ``jetscale pretrain`` with the objectives of the training loop.

Objectives (the loop's :class:`~jetscale.train.objective.Objective`, so pretraining
inherits streaming data, resumption after SIGKILL, DDP and FLOPs accounting from
:func:`jetscale.train.train`):

``supervised``
    the tagger's cross-entropy over the ten classes (today's training), saved as
    a backbone;
``mpm``
    masked particle modelling on the jets alone (:mod:`jetscale.transfer.mpm`;
    labels are not read by the loss);
``supervised+mpm``
    the sum of both losses: the classifier sees the whole jet, the MPM decoder
    the jet with its hidden particles;
``contrastive``
    RS3L-style contrastive learning on re-simulated views
    (:mod:`jetscale.transfer.contrastive`): the views of one hard process pulled
    together, other jets pushed apart, from batches of whole groups of views
    (:mod:`jetscale.train.view_groups`); labels are not read.

Which particles are hidden at a step is drawn from a generator seeded with
(seed, step), so a resumed run hides the same particles as an uninterrupted
one; validation hides a fixed set (seeded by the batch index), so its loss is
comparable from one evaluation to the next.

The checkpoint describes itself (``objective`` in every checkpoint, and
``backbone.json`` beside it): architecture and inputs (the model config: feature
set, max particles), the objective and its settings, the data it saw (files with
an xxHash of their contents) and its last metrics. :func:`backbone_state` gives
the backbone's own weights, whatever the objective, for fine-tuning.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F

from jetscale.features.registry import FEATURE_SETS
from jetscale.io.atomic import write_json
from jetscale.io.identity import data_identity
from jetscale.nn import ModelConfig, build_model, forward_flops
from jetscale.nn.transformer import JetTransformer
from jetscale.train.checkpoint import BEST_NAME, LAST_NAME, CheckpointError, load_checkpoint
from jetscale.train.config import TrainConfig
from jetscale.train.data import Batch, TrainingData
from jetscale.train.loop import train
from jetscale.train.objective import (
    Supervised,
    classification_metrics,
    make_optimizer,
    set_uniform_learning_rate,
)
from jetscale.train.view_groups import group_slices, group_sources
from jetscale.transfer.contrastive import (
    DEFAULT_PROJECTION_DIM,
    DEFAULT_TEMPERATURE,
    ContrastiveModel,
    ProjectionHead,
    gather_from_processes,
    multi_positive_nt_xent,
    view_statistics,
)
from jetscale.transfer.mpm import DEFAULT_FRACTION, MaskedParticleModel, choose_hidden, mpm_loss

ObjectiveName = Literal["supervised", "mpm", "supervised+mpm", "contrastive"]
OBJECTIVES: tuple[str, ...] = get_args(ObjectiveName)
BACKBONE_NAME = "backbone.json"
_VALIDATION_SEED = 7_919  # fixed hidden particles for validation, whatever the run's seed


@dataclasses.dataclass(frozen=True)
class MaskedObjective:
    """``mpm`` or ``supervised+mpm``: the loop's objective for masked particle modelling."""

    with_supervised: bool = False
    fraction: float = DEFAULT_FRACTION
    regression: Literal["l1", "huber"] = "l1"
    decoder_layers: int = 1
    seed: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            msg = f"the MPM fraction of hidden particles must be in (0, 1), got {self.fraction}"
            raise ValueError(msg)
        if self.regression not in ("l1", "huber"):
            msg = f"the MPM regression loss must be 'l1' or 'huber', got {self.regression!r}"
            raise ValueError(msg)
        if self.decoder_layers < 1:
            msg = f"the MPM decoder needs at least one block, got {self.decoder_layers}"
            raise ValueError(msg)

    @property
    def name(self) -> str:
        return "supervised+mpm" if self.with_supervised else "mpm"

    @property
    def needs_labels(self) -> bool:
        return self.with_supervised

    def build(self, config: ModelConfig) -> torch.nn.Module:
        backbone = build_model(config)
        if not isinstance(backbone, JetTransformer):
            msg = f"masked particle modelling needs the Transformer, not architecture={config.architecture!r}"
            raise ValueError(msg)
        names = FEATURE_SETS[config.feature_set]
        return _PretrainModule(MaskedParticleModel(backbone, names, self.decoder_layers))

    def loss(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        mask: torch.Tensor,
        label: torch.Tensor,
        step: int,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if weight is not None:  # the loop refuses mass decorrelation for pretraining
            msg = "masked particle modelling takes no per-jet weights"
            raise ValueError(msg)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        hidden = choose_hidden(mask, self.fraction, generator).hidden
        prediction, logits = module(x, mask, hidden, self.with_supervised)
        total, _ = mpm_loss(_inner(module).mpm, prediction, x, hidden, self.regression)
        if logits is not None:
            total = total + F.cross_entropy(logits.float(), label)
        else:
            # MPM alone leaves the backbone's class blocks and head unused, and DDP
            # wants a gradient for every parameter: one element of each, times zero.
            total = total + 0.0 * sum(p.reshape(-1)[0] for p in module.parameters())
        return total

    @torch.no_grad()
    def evaluate(
        self, module: torch.nn.Module, data: Batch, device: torch.device, batch_size: int
    ) -> dict[str, Any]:
        was_training = module.training
        module.eval()
        inner = _inner(module)
        sums = {"mpm_regression": 0.0, "mpm_pid": 0.0}
        hidden_total, too_short, weight = 0, 0, 0
        for index, start in enumerate(range(0, len(data.label), batch_size)):
            x = torch.from_numpy(data.x[start : start + batch_size]).to(device)
            mask = torch.from_numpy(data.mask[start : start + batch_size]).to(device)
            generator = torch.Generator().manual_seed(_VALIDATION_SEED * 1_000_003 + index)
            chosen = choose_hidden(mask, self.fraction, generator)
            prediction, _ = inner(x, mask, chosen.hidden, False)
            _, parts = mpm_loss(inner.mpm, prediction, x, chosen.hidden, self.regression)
            n_hidden = int(chosen.hidden.sum())
            for key in sums:  # per-batch means, weighted by hidden particles
                sums[key] += parts.get(key, 0.0) * n_hidden
            hidden_total += n_hidden
            too_short += chosen.too_short
            weight += len(x)
        module.train(was_training)
        metrics: dict[str, Any] = {
            f"val_{key}": value / max(hidden_total, 1) for key, value in sums.items()
        }
        metrics["val_mpm_loss"] = metrics["val_mpm_regression"] + metrics["val_mpm_pid"]
        metrics["val_mpm_too_short_jets"] = too_short  # counted, not in the loss
        metrics["val_loss"] = metrics["val_mpm_loss"]
        if self.with_supervised:
            supervised = classification_metrics(inner.mpm.backbone, data, device, batch_size)
            metrics["val_supervised_loss"] = supervised.pop("val_loss")
            metrics |= supervised
            metrics["val_loss"] += metrics["val_supervised_loss"]
        return metrics

    def forward_flops(self, config: ModelConfig, n_particles: int) -> float:
        """The encoder (embedding and blocks), the decoder blocks and heads, plus the tagger's pass."""
        n, d = n_particles, config.d_model
        whole = forward_flops(config, n)
        more = dataclasses.replace
        block = forward_flops(more(config, n_layers=config.n_layers + 1), n) - whole
        class_block = (
            forward_flops(more(config, n_class_layers=config.n_class_layers + 1), n) - whole
        )
        encoder = whole - config.n_class_layers * class_block - 2 * d * config.n_classes
        decoder = self.decoder_layers * block + 2 * n * d * config.n_features  # blocks, heads
        return float(encoder + decoder + (whole if self.with_supervised else 0))

    def optimizer(self, module: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
        return make_optimizer(module, config)

    def set_learning_rate(self, optimizer: torch.optim.Optimizer, lr: float, step: int) -> None:
        set_uniform_learning_rate(optimizer, lr)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fraction": self.fraction,
            "regression": self.regression,
            "decoder_layers": self.decoder_layers,
        }


@dataclasses.dataclass(frozen=True)
class ContrastiveObjective:
    """``contrastive``: the loop's objective for contrastive learning on re-simulated views.

    Batches hold whole groups of views (:mod:`jetscale.train.view_groups`); the
    batch's ``label`` is each jet's group within it. The loss and the head are
    :mod:`jetscale.transfer.contrastive`'s.
    """

    temperature: float = DEFAULT_TEMPERATURE
    projection_dim: int = DEFAULT_PROJECTION_DIM
    #: Every view turned to a random direction (:mod:`jetscale.train.view_directions`),
    #: so that groups cannot be matched by where their jets point.
    random_directions: bool = True

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            msg = f"the contrastive temperature must be positive, got {self.temperature}"
            raise ValueError(msg)
        if self.projection_dim < 1:
            msg = f"the projection needs at least one dimension, got {self.projection_dim}"
            raise ValueError(msg)

    @property
    def name(self) -> str:
        return "contrastive"

    @property
    def needs_labels(self) -> bool:
        return False

    def data_sources(self, config: TrainConfig) -> tuple[TrainingData, TrainingData]:
        """Whole groups of views; files without group ids are named here, before any step."""
        train_source, val_source = group_sources(
            config.data,
            config.val_data,
            config.model.feature_set,
            config.model.max_particles,
            config.max_jets,
            config.val_fraction,
            config.val_max_jets,
            config.chunk_jets,
            self.random_directions,
        )
        if train_source.nominal_jets() == 0:
            msg = f"no groups of two or more views to train on in {', '.join(config.data)}"
            raise ValueError(msg)
        # A batch too small for two groups: said now, for validation too (its groups may be larger).
        train_source.batches_per_epoch(config.batch_size, 0)
        val_source.batches_per_epoch(config.batch_size, 0)
        return train_source, val_source

    def build(self, config: ModelConfig) -> torch.nn.Module:
        return ContrastiveModel(build_model(config), self.projection_dim)

    def loss(
        self,
        module: torch.nn.Module,
        x: torch.Tensor,
        mask: torch.Tensor,
        label: torch.Tensor,
        step: int,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The global batch's loss; ``label`` is each jet's group in the batch."""
        if weight is not None:  # the loop refuses mass decorrelation for pretraining
            msg = "contrastive pretraining takes no per-jet weights"
            raise ValueError(msg)
        z, logits = module(x, mask)
        z, group = gather_from_processes(z, label)
        # The unused classification head times zero: every parameter has a gradient (DDP).
        return multi_positive_nt_xent(z, group, self.temperature) + 0.0 * logits.float().sum()

    @torch.no_grad()
    def evaluate(
        self, module: torch.nn.Module, data: Batch, device: torch.device, batch_size: int
    ) -> dict[str, Any]:
        """Batches of whole groups in a fixed order, so the loss compares between evaluations."""
        was_training = module.training
        module.eval()
        inner = getattr(module, "module", module)
        sums = {"loss": 0.0, "positive_cosine": 0.0, "retrieval": 0.0, "negative_cosine": 0.0}
        views, positive_pairs, negative_pairs = 0, 0, 0
        for rows in group_slices(data.label, batch_size):
            longest = max(int(data.mask[rows].sum(axis=1).max(initial=0)), 1)
            x = torch.from_numpy(data.x[rows, :longest]).to(device)
            mask = torch.from_numpy(data.mask[rows, :longest]).to(device)
            group = torch.from_numpy(data.label[rows]).to(device)
            z, _ = inner(x, mask)
            stats = view_statistics(z, group, self.temperature)
            sums["loss"] += stats.loss * stats.views  # means over views, over pairs
            sums["retrieval"] += stats.retrieval * stats.views
            sums["positive_cosine"] += stats.positive_cosine * stats.positive_pairs
            if stats.negative_pairs:
                sums["negative_cosine"] += stats.negative_cosine * stats.negative_pairs
            views += stats.views
            positive_pairs += stats.positive_pairs
            negative_pairs += stats.negative_pairs
        module.train(was_training)
        loss = sums["loss"] / max(views, 1)
        return {
            "val_contrastive_loss": loss,
            "val_positive_cosine": sums["positive_cosine"] / max(positive_pairs, 1),
            "val_negative_cosine": sums["negative_cosine"] / max(negative_pairs, 1),
            "val_view_retrieval": sums["retrieval"] / max(views, 1),
            "val_groups": int(data.label.max(initial=-1)) + 1,
            "val_loss": loss,
        }

    def forward_flops(self, config: ModelConfig, n_particles: int) -> float:
        """The backbone's forward (its unused head included: it is computed) and the projection.

        Per jet, so every view counts; the batch's similarity matrix (2 N p per
        jet for N jets a batch, small against the backbone's pass) is left out.
        """
        head = ProjectionHead.flops(config.d_model, self.projection_dim)
        return float(forward_flops(config, n_particles) + head)

    def optimizer(self, module: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
        return make_optimizer(module, config)

    def set_learning_rate(self, optimizer: torch.optim.Optimizer, lr: float, step: int) -> None:
        set_uniform_learning_rate(optimizer, lr)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "temperature": self.temperature,
            "projection_dim": self.projection_dim,
            "random_directions": self.random_directions,
        }


class _PretrainModule(torch.nn.Module):
    """One forward for both losses (DDP wraps a single module and its forward)."""

    def __init__(self, mpm: MaskedParticleModel) -> None:
        super().__init__()
        self.mpm = mpm

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, hidden: torch.Tensor, with_logits: bool
    ) -> tuple[tuple[torch.Tensor, torch.Tensor | None], torch.Tensor | None]:
        logits = self.mpm.backbone(x, mask) if with_logits else None
        return self.mpm(x, mask, hidden), logits


def _inner(module: torch.nn.Module) -> _PretrainModule:
    """The pretraining module inside a DDP wrapper (or itself)."""
    inner = getattr(module, "module", module)
    assert isinstance(inner, _PretrainModule)
    return inner


def objective_for(
    name: str,
    fraction: float = DEFAULT_FRACTION,
    regression: Literal["l1", "huber"] = "l1",
    decoder_layers: int = 1,
    seed: int = 1,
    temperature: float = DEFAULT_TEMPERATURE,
    projection_dim: int = DEFAULT_PROJECTION_DIM,
    random_directions: bool = True,
) -> Supervised | MaskedObjective | ContrastiveObjective:
    """The loop's objective for a pretraining objective name (each takes its own settings)."""
    if name not in OBJECTIVES:
        msg = f"unknown pretraining objective {name!r}; known: {', '.join(OBJECTIVES)}"
        raise ValueError(msg)
    if name == "supervised":
        return Supervised()
    if name == "contrastive":
        return ContrastiveObjective(temperature, projection_dim, random_directions)
    return MaskedObjective(name == "supervised+mpm", fraction, regression, decoder_layers, seed)


def pretrain(
    config: TrainConfig,
    objective: str = "mpm",
    fraction: float = DEFAULT_FRACTION,
    regression: Literal["l1", "huber"] = "l1",
    decoder_layers: int = 1,
    resume: bool = True,
    stop_after_steps: int | None = None,
    temperature: float = DEFAULT_TEMPERATURE,
    projection_dim: int = DEFAULT_PROJECTION_DIM,
    random_directions: bool = True,
) -> dict[str, Any]:
    """Pretrain (or resume) a backbone in ``config.out``; returns the last metrics line.

    ``fraction``, ``regression`` and ``decoder_layers`` set ``mpm``;
    ``temperature``, ``projection_dim`` and ``random_directions`` set ``contrastive``. Writes
    ``backbone.json`` (what the backbone is and saw) once the run is done.
    """
    chosen = objective_for(
        objective,
        fraction,
        regression,
        decoder_layers,
        config.seed,
        temperature,
        projection_dim,
        random_directions,
    )
    line = train(config, resume, stop_after_steps, objective=chosen)
    if stop_after_steps is None and int(os.environ.get("RANK", "0")) == 0:
        write_json(
            Path(config.out) / BACKBONE_NAME,
            {
                "objective": chosen.describe(),
                "model": config.model.to_dict(),
                "features": list(FEATURE_SETS[config.model.feature_set]),
                "data": data_identity([str(p) for p in _paths(config.data)]),
                "val_data": data_identity([str(p) for p in _paths(config.val_data)]),
                "max_jets": config.max_jets,
                "epochs": config.epochs,
                "metrics": line,
            },
        )
    return line


def _paths(spec: tuple[str, ...]) -> list[Path]:
    from jetscale.io import expand_paths

    return expand_paths(spec) if spec else []


def backbone_state(path: str | os.PathLike[str]) -> tuple[ModelConfig, dict[str, torch.Tensor]]:
    """The backbone's model config and weights from a pretraining run or checkpoint.

    A run directory gives its ``best.pt`` (else ``last.pt``). Weights of any
    objective come back under the backbone's own names (``blocks.0...``), ready
    for :func:`jetscale.transfer.finetune.load_backbone`.
    """
    path = Path(path)
    if path.is_dir():
        path = path / BEST_NAME if (path / BEST_NAME).exists() else path / LAST_NAME
    checkpoint = load_checkpoint(path)
    config = ModelConfig.from_dict(checkpoint["model_config"])
    state = backbone_weights(checkpoint)
    if state is None:
        name = checkpoint.get("objective", {"name": "supervised"}).get("name")
        msg = f"{path}: not a backbone checkpoint (objective {name!r})"
        raise CheckpointError(msg)
    return config, state


#: Where each pretraining objective's module keeps the backbone (its state-dict prefix).
BACKBONE_PREFIXES = {
    "supervised": "",
    "mpm": "mpm.backbone.",
    "supervised+mpm": "mpm.backbone.",
    "contrastive": "backbone.",
}


def backbone_weights(checkpoint: dict[str, Any]) -> dict[str, torch.Tensor] | None:
    """The backbone's weights, under its own names, of a loaded checkpoint of any objective.

    ``None`` for a checkpoint of no pretraining objective (a fine-tuned run).
    Pretraining-only parts (the MPM decoder, the projection head) are left out.
    """
    name = checkpoint.get("objective", {"name": "supervised"}).get("name")
    prefix = BACKBONE_PREFIXES.get(name)
    if prefix is None:
        return None
    state: dict[str, torch.Tensor] = checkpoint["model_state"]
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
