"""Jet-level representations of every layer of a jetscale model, on the same jets for every model.

A layer's output becomes one vector per jet:

* particle-level layers (``embed``, ``block1`` ...; the PFN's ``embed`` and ``phi``)
  by the mean over the jet's real constituents: padded slots are left out, so
  neither their values nor the padding length change the representation (a jet
  with no constituents gets zeros);
* class-attention blocks (``class_block1`` ...) by their class token, the jet's
  summary the model itself reads out;
* jet-level layers as they are: the normed class token (``norm``), the logits
  (``logits``); for the PFN the constituent sum it pools (``pooled``) and the
  hidden layers of its classifier (``rho1`` ...).

Jets are read once (:func:`read_jets_for`) and every model builds its own features
from those same jets (its feature set and ``max_particles``), minibatch by
minibatch (:func:`representation_batches`), so two models are never compared on
different jets.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch import nn

from jetscale.features.builder import PreparedJets, prepare_jets
from jetscale.features.registry import reader_fields
from jetscale.io import QualityReport, expand_paths
from jetscale.io.interleave import interleave_jets
from jetscale.nn import JetTransformer, ModelConfig, ParticleFlowNetwork, build_model
from jetscale.train.checkpoint import BEST_NAME, LAST_NAME, CheckpointError, load_checkpoint
from jetscale.transfer.cka import DEFAULT_BATCH_SIZE, minibatches

#: How a layer's output becomes one vector per jet.
PARTICLES, CLASS_TOKEN, JET, INPUT = "particles", "class_token", "jet", "input"


@dataclasses.dataclass(frozen=True)
class Layer:
    """A named layer, the module whose output (``input``: whose input) it is, and its reduction."""

    name: str
    module: nn.Module
    reduction: str  # PARTICLES (masked mean), CLASS_TOKEN, JET, or INPUT (a jet-level input)


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model read from a checkpoint, in eval mode, with the file it came from."""

    checkpoint: Path  # the file read (best.pt or last.pt of a run directory)
    config: ModelConfig
    module: nn.Module
    step: int  # the training step of the checkpoint


def load_model(path: str | os.PathLike[str], *, backbones: bool = False) -> LoadedModel:
    """The model of a run directory (``best.pt``, else ``last.pt``) or of a checkpoint file.

    With ``backbones`` a ``jetscale pretrain`` run of any objective (MPM,
    contrastive) gives its backbone (:func:`~jetscale.transfer.pretrain.backbone_weights`;
    the pretraining-only decoder or projection head left out, the classification
    head as it is, untrained by those objectives): what CKA compares. Without it
    such a run does not fit its model config: its outputs are not a tagger's.

    Raises :class:`~jetscale.train.checkpoint.CheckpointError` naming the file if it
    is missing, not a jetscale checkpoint, or holds weights that do not fit its
    stored model config; a directory without checkpoints is named too.
    """
    given = Path(path)
    checkpoint = given
    if given.is_dir():
        found = [given / name for name in (BEST_NAME, LAST_NAME) if (given / name).is_file()]
        if not found:
            msg = (
                f"{given}: no {BEST_NAME} or {LAST_NAME} (not a run directory of `jetscale train`)"
            )
            raise CheckpointError(msg)
        checkpoint = found[0]
    state = load_checkpoint(checkpoint)
    try:
        config = ModelConfig.from_dict(state["model_config"])
    except (TypeError, ValueError) as err:
        msg = f"{checkpoint}: invalid model config ({err})"
        raise CheckpointError(msg) from err
    module = build_model(config)
    weights = state["model_state"]
    if backbones:
        from jetscale.transfer.pretrain import backbone_weights

        weights = backbone_weights(state) or weights
    try:
        module.load_state_dict(weights)
    except (RuntimeError, TypeError) as err:
        msg = f"{checkpoint}: weights do not fit the stored model config ({err})"
        raise CheckpointError(msg) from err
    return LoadedModel(checkpoint, config, module.eval(), int(state["step"]))


def model_layers(model: nn.Module) -> list[Layer]:
    """The compared layers of a :class:`JetTransformer` or :class:`ParticleFlowNetwork`, input first."""
    if isinstance(model, JetTransformer):
        return [
            Layer("embed", model.embed, PARTICLES),
            *(Layer(f"block{i + 1}", b, PARTICLES) for i, b in enumerate(model.blocks)),
            *(
                Layer(f"class_block{i + 1}", b, CLASS_TOKEN)
                for i, b in enumerate(model.class_blocks)
            ),
            Layer("norm", model.norm, JET),
            Layer("logits", model.head, JET),
        ]
    if isinstance(model, ParticleFlowNetwork):
        rho = list(model.rho)
        hidden = [m for m in rho[:-1] if isinstance(m, nn.ReLU)]  # after each hidden Linear
        return [
            Layer("embed", model.embed, PARTICLES),
            Layer("phi", model.phi, PARTICLES),
            Layer("pooled", model.rho, INPUT),
            *(Layer(f"rho{i + 1}", m, JET) for i, m in enumerate(hidden)),
            Layer("logits", rho[-1], JET),
        ]
    msg = (
        "representations are defined for JetTransformer and ParticleFlowNetwork models, "
        f"not {type(model).__name__}"
    )
    raise TypeError(msg)


def layer_names(model: nn.Module) -> list[str]:
    """Names of :func:`model_layers`, e.g. ``embed, block1, ..., class_block1, ..., norm, logits``."""
    return [layer.name for layer in model_layers(model)]


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, P, D)`` particle tokens -> ``(B, D)`` mean over real constituents (``mask`` True).

    Padded slots are excluded whatever they hold (even non-finite values); a jet
    with no real constituent gets zeros.
    """
    valid = mask.to(torch.bool)[..., None]  # (B, P, 1)
    total = torch.where(valid, h, torch.zeros((), dtype=h.dtype, device=h.device)).sum(dim=1)
    return total / valid.sum(dim=1).clamp(min=1).to(h.dtype)


def jet_representations(
    model: nn.Module, x: torch.Tensor, mask: torch.Tensor
) -> dict[str, np.ndarray]:
    """``{layer: (B, D) float64}`` of one batch, features ``x (B, P, F)`` and ``mask (B, P)``.

    Runs the model once in eval mode (its training flag is restored) with forward
    hooks on every layer of :func:`model_layers`, in that order.
    """
    layers = model_layers(model)
    valid = mask.to(torch.bool)
    captured: dict[str, torch.Tensor] = {}

    def reduce(layer: Layer, value: torch.Tensor) -> None:
        if layer.reduction == PARTICLES:
            value = masked_mean(value, valid)  # (B, P, D) -> (B, D)
        elif layer.reduction == CLASS_TOKEN:
            value = value[:, 0]  # (B, 1, D) -> (B, D)
        captured[layer.name] = value.detach().to(device="cpu", dtype=torch.float64)

    handles = []
    training = model.training
    try:
        for layer in layers:
            if layer.reduction == INPUT:
                handles.append(layer.module.register_forward_pre_hook(_input_hook(layer, reduce)))
            else:
                handles.append(layer.module.register_forward_hook(_output_hook(layer, reduce)))
        model.eval()
        with torch.inference_mode():
            model(x, valid)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return {layer.name: captured[layer.name].numpy() for layer in layers}


def _output_hook(layer: Layer, reduce: Callable[[Layer, torch.Tensor], None]) -> Any:
    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        reduce(layer, output)

    return hook


def _input_hook(layer: Layer, reduce: Callable[[Layer, torch.Tensor], None]) -> Any:
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        reduce(layer, inputs[0])

    return hook


def read_jets_for(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    feature_sets: Sequence[str],
    max_jets: int,
    report: QualityReport | None = None,
) -> ak.Array:
    """The first ``max_jets`` jets of ``paths`` with every field the ``feature_sets`` read.

    Jets come in the class-mixed interleaved order of training
    (:func:`~jetscale.io.interleave.interleave_jets`). The files are read once,
    with the union of the feature sets' fields, so the readers' cleaning
    (:mod:`jetscale.io.quality`) sees the same values for every model and keeps
    the same jets and constituents for all of them.
    """
    if max_jets < 1:
        msg = f"max_jets must be >= 1, got {max_jets}"
        raise ValueError(msg)
    fields = tuple(dict.fromkeys(f for name in feature_sets for f in reader_fields(name)))
    chunks, n_jets = [], 0
    for chunk in interleave_jets(
        paths, window_jets=min(max_jets, 20_000), constituent_fields=fields, report=report
    ):
        chunks.append(chunk[: max_jets - n_jets])
        n_jets += len(chunks[-1])
        if n_jets >= max_jets:
            break
    if n_jets == 0:
        files = ", ".join(str(p) for p in expand_paths(paths))
        msg = f"no jets in {files or paths}"
        raise ValueError(msg)
    return ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]


def representation_batches(
    models: Sequence[nn.Module],
    jets: ak.Array,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str | torch.device = "cpu",
) -> Iterator[list[dict[str, np.ndarray]]]:
    """Per minibatch of ``jets`` (:func:`~jetscale.transfer.cka.minibatches`), every model's representations.

    Each model builds its own features (``model.config.feature_set`` and
    ``max_particles``) from the same minibatch of jets; each minibatch is cut to
    its longest jet (the models are blind to padding). Yields one
    :func:`jet_representations` dict per model, in the order of ``models``.
    """
    prepared: dict[str, PreparedJets] = {}
    for model in models:
        config = _config_of(model)
        if config.feature_set not in prepared:  # awkward work once per feature set
            prepared[config.feature_set] = prepare_jets(jets, config.feature_set)
    for part in minibatches(len(jets), batch_size):
        batch = []
        for model in models:
            config = _config_of(model)
            x, mask = prepared[config.feature_set].fill(part.start, part.stop, config.max_particles)
            longest = max(int(mask.sum(axis=1).max(initial=0)), 1)
            batch.append(
                jet_representations(
                    model,
                    torch.from_numpy(np.ascontiguousarray(x[:, :longest])).to(device),
                    torch.from_numpy(np.ascontiguousarray(mask[:, :longest])).to(device),
                )
            )
        yield batch


def _config_of(model: nn.Module) -> ModelConfig:
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        msg = f"{type(model).__name__} has no ModelConfig: load models with load_model"
        raise TypeError(msg)
    return config
