"""Class probabilities of jets from any model a user has: an exported ONNX tagger or a checkpoint.

Studies of a trained tagger (``jetscale robustness``) should not care whether the
model is a ``model.onnx`` with its ``preprocess.json`` (a shipped model, an export,
weaver-core's) or a run directory of ``jetscale train``/``finetune`` that was never
exported. :func:`load_scorer` loads either with the loaders the rest of the
package uses, :class:`~jetscale.inference.OnnxTagger` and
:func:`~jetscale.transfer.representations.load_model` (the one of ``jetscale
cka``), and gives one interface: the classes, the label branches that make them
(the task: read files with it so that ``label`` indexes the classes), the
constituent fields to read, and ``(N, n_classes)`` probabilities.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np

from jetscale.features.registry import reader_fields
from jetscale.schema import CLASS_NAMES
from jetscale.task import Task, task_of_class_names

#: Jets per forward pass unless told otherwise.
DEFAULT_BATCH_SIZE = 512
#: Where the four-momentum lives: the readers' cleaning and the constituent ordering read it.
FOUR_MOMENTUM = ("px", "py", "pz", "energy")
Kind = Literal["onnx", "checkpoint"]


@dataclasses.dataclass(frozen=True, eq=False)
class ModelScorer:
    """A loaded model: what it predicts, what it reads, and its probabilities of jets."""

    given: str  # what the user named: a shipped model, a path
    path: Path  # the file read: model.onnx or the checkpoint
    kind: Kind
    task: Task  # the model's classes in output order, and their label branches
    constituent_fields: tuple[str, ...]  # constituent fields (JetClass names) to read
    description: dict[str, Any]  # architecture, feature set, step ... (for outputs)
    _probabilities: Callable[[ak.Array], np.ndarray]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.task.names

    def probabilities(self, jets: ak.Array) -> np.ndarray:
        """``(N, n_classes)`` float32 probabilities of flat jets in the internal layout.

        Rows of jets without constituents are NaN (as :class:`OnnxTagger` gives them).
        """
        return self._probabilities(jets)


def load_scorer(
    model: str | os.PathLike[str], batch_size: int = DEFAULT_BATCH_SIZE, device: str = "cpu"
) -> ModelScorer:
    """The model ``model`` names: ONNX or a jetscale checkpoint, told apart by what is there.

    ONNX: a shipped model name (``full21``, ``kinpid``, ...), a ``.onnx`` file, or a
    directory holding ``model.onnx`` (each with ``preprocess.json`` beside it).
    Checkpoint: a ``.pt`` file, or a run directory with ``best.pt`` or ``last.pt``
    (``best.pt`` first). ``device`` is torch's, for checkpoints. Raises an error
    naming the file for anything else or for a file that does not load.
    """
    if batch_size < 1:
        msg = f"batch_size must be positive, got {batch_size}"
        raise ValueError(msg)
    from jetscale.shipped import SHIPPED
    from jetscale.train.checkpoint import BEST_NAME, LAST_NAME

    given = str(model)
    path = Path(model)
    if given in SHIPPED and not path.exists():
        return _onnx_scorer(given, batch_size)
    if path.suffix == ".onnx" or (path.is_dir() and (path / "model.onnx").is_file()):
        return _onnx_scorer(given, batch_size)
    if path.suffix == ".pt" or (
        path.is_dir() and any((path / n).is_file() for n in (BEST_NAME, LAST_NAME))
    ):
        return _checkpoint_scorer(given, batch_size, device)
    what = "a directory without model.onnx, best.pt or last.pt" if path.is_dir() else "no model"
    if not path.exists():
        what = "no such file or directory"
    msg = (
        f"{path}: {what}; give an ONNX model (a shipped name: {', '.join(SHIPPED)}; a .onnx "
        "file or a directory holding model.onnx) or a jetscale checkpoint (a .pt file or a "
        f"run directory with {BEST_NAME} or {LAST_NAME})"
    )
    raise ValueError(msg)


def _onnx_scorer(model: str, batch_size: int) -> ModelScorer:
    from jetscale.inference import OnnxTagger

    tagger = OnnxTagger(model, batch_size=batch_size)
    if tagger.task.names != tagger.class_names:
        msg = (
            f"{tagger.model_path}: cannot tell which label branches make the model's classes "
            f"({', '.join(tagger.class_names)}); its sidecar names no task"
        )
        raise ValueError(msg)

    def probabilities(jets: ak.Array) -> np.ndarray:
        prob = tagger(jets)
        return np.stack([ak.to_numpy(prob[name]) for name in tagger.class_names], axis=1)

    fields = tuple(dict.fromkeys((*FOUR_MOMENTUM, *tagger.constituent_fields)))
    description = {"inputs": [i.name for i in tagger.inputs.inputs], "length": tagger.inputs.length}
    return ModelScorer(
        model, Path(tagger.model_path), "onnx", tagger.task, fields, description, probabilities
    )


def _checkpoint_scorer(model: str, batch_size: int, device: str) -> ModelScorer:
    import torch

    from jetscale.export.onnx_export import trained_task
    from jetscale.features.builder import prepare_jets
    from jetscale.train.checkpoint import load_checkpoint
    from jetscale.transfer.representations import load_model

    loaded = load_model(model)
    # The task is in the run's train_config, which load_model does not keep: the
    # checkpoint is read once more for it (weights_only, as every checkpoint read).
    task = trained_task(load_checkpoint(loaded.checkpoint), loaded.config)
    if task is None:  # JetClass's classes, or the first n_classes of them (old checkpoints)
        task = task_of_class_names(CLASS_NAMES[: loaded.config.n_classes])
    config, module = loaded.config, loaded.module.to(device)

    def probabilities(jets: ak.Array) -> np.ndarray:
        out = np.full((len(jets), len(task.classes)), np.nan, dtype=np.float32)
        if len(jets) == 0:
            return out
        prepared = prepare_jets(jets, config.feature_set)
        for start in range(0, len(jets), batch_size):
            stop = min(start + batch_size, len(jets))
            x, mask = prepared.fill(start, stop, config.max_particles)  # (B, P, F), (B, P)
            longest = max(int(mask.sum(axis=1).max(initial=0)), 1)  # blind to padding
            with torch.inference_mode():
                logits = module(
                    torch.from_numpy(np.ascontiguousarray(x[:, :longest])).to(device),
                    torch.from_numpy(np.ascontiguousarray(mask[:, :longest])).to(device),
                )
            prob = torch.softmax(logits.float(), dim=1).cpu().numpy()
            prob[~mask.any(axis=1)] = np.nan  # no constituents: no score
            out[start:stop] = prob
        return out

    description = {
        "architecture": config.architecture,
        "feature_set": config.feature_set,
        "max_particles": config.max_particles,
        "step": loaded.step,
    }
    return ModelScorer(
        model,
        loaded.checkpoint,
        "checkpoint",
        task,
        reader_fields(config.feature_set),
        description,
        probabilities,
    )
