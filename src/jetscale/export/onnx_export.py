"""Export a run's checkpoint to ONNX and check it against torch with ONNX Runtime."""

from __future__ import annotations

import json
import subprocess
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch

from jetscale.features import build_features
from jetscale.io import read_jets
from jetscale.io.atomic import atomic_path, write_json
from jetscale.nn import ModelConfig, build_model
from jetscale.sidecar import FEATURES_INPUT, MASK_INPUT, OUTPUT, SIDECAR_NAME, preprocess_json
from jetscale.train.checkpoint import BEST_NAME, LAST_NAME, CheckpointError, load_checkpoint

OPSET = 17
#: (batch, particles) shapes check_parity runs: one particle, typical, and beyond 128.
PARITY_SHAPES = ((1, 1), (3, 7), (16, 64), (8, 128), (4, 150))
#: The default jets of :func:`check_parity`: made by ``generate_class("QCD", 12, seed=5)``
#: and ``generate_class("Tbqq", 12, seed=5)`` and written with ``write_parquet``.
PARITY_JETS = Path(__file__).with_name("parity_jets.parquet")
#: The model card's file name, beside the ONNX file and its sidecar.
CARD_NAME = "model_card.json"


class SoftmaxTagger(torch.nn.Module):
    """weaver-layout inputs -> class probabilities, around any jetscale model."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pf_features: torch.Tensor, pf_mask: torch.Tensor) -> torch.Tensor:
        x = pf_features.transpose(1, 2)  # (N, C, P) -> (N, P, C)
        mask = pf_mask[:, 0] > 0  # (N, 1, P) float -> (N, P) bool
        return torch.softmax(self.model(x, mask), dim=1)


def load_model(
    run_dir: str | Path, checkpoint: str = BEST_NAME
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The model of a run directory (best checkpoint by default, else the last), in eval mode."""
    run = Path(run_dir)
    path = run / checkpoint
    if not path.exists() and checkpoint == BEST_NAME:
        path = run / LAST_NAME
    state = load_checkpoint(path)
    config = ModelConfig.from_dict(state["model_config"])
    model = build_model(config)
    try:
        model.load_state_dict(state["model_state"])
    except RuntimeError as err:
        msg = f"{path}: weights do not fit the stored model config ({err})"
        raise CheckpointError(msg) from err
    return model.eval(), state


def export_onnx(model: torch.nn.Module, n_features: int, path: str | Path) -> None:
    """Write ``model`` wrapped in :class:`SoftmaxTagger` as ONNX to ``path`` and check it.

    Inputs ``pf_features`` (N, C, P) and ``pf_mask`` (N, 1, P) with dynamic N and
    P, output ``softmax``: weaver-core's layout, so its tools read our models too.
    """
    wrapper = SoftmaxTagger(model).eval()
    example = (torch.zeros(2, n_features, 16), torch.ones(2, 1, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation chatter
        torch.onnx.export(
            wrapper,
            example,
            str(path),
            input_names=[FEATURES_INPUT, MASK_INPUT],
            output_names=[OUTPUT],
            dynamic_axes={
                FEATURES_INPUT: {0: "N", 2: "P"},
                MASK_INPUT: {0: "N", 2: "P"},
                OUTPUT: {0: "N"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    import onnx

    onnx.checker.check_model(str(path), full_check=True)


class ExportClobberError(FileExistsError):
    """The export would overwrite the sidecar or card of another model in that directory."""


def export_run(
    run_dir: str | Path, out: str | Path, checkpoint: str = BEST_NAME, *, force: bool = False
) -> dict[str, Path]:
    """Write ``out`` (ONNX), ``preprocess.json`` and ``model_card.json`` beside it, as a set.

    A directory holds one model: the sidecar and card beside ``out`` belong to the
    ONNX file they sit with. If they exist and describe another model file (the
    card's ``model_file``), or exist without ``out``, the export is refused with
    :class:`ExportClobberError` unless ``force`` (re-exporting onto the same
    ``out`` is allowed). The three files are written to temporary names first
    and renamed together at the end, so a failure leaves the old set intact.
    """
    onnx_path = Path(out)
    sidecar = onnx_path.with_name(SIDECAR_NAME)
    card = onnx_path.with_name(CARD_NAME)
    if not force:
        _refuse_clobbering(onnx_path, sidecar, card)
    model, state = load_model(run_dir, checkpoint)
    config = ModelConfig.from_dict(state["model_config"])
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(onnx_path) as onnx_tmp,
        atomic_path(sidecar) as sidecar_tmp,
        atomic_path(card) as card_tmp,
    ):
        export_onnx(model, config.n_features, onnx_tmp)
        write_json(
            sidecar_tmp,
            preprocess_json(config.feature_set, config.max_particles, config.n_classes),
        )
        write_json(card_tmp, {**model_card(Path(run_dir), state), "model_file": onnx_path.name})
    return {"onnx": onnx_path, "preprocess": sidecar, "model_card": card}


def _refuse_clobbering(onnx_path: Path, sidecar: Path, card: Path) -> None:
    """Refuse to overwrite the sidecar or card of another model (see :func:`export_run`)."""
    existing = [p for p in (sidecar, card) if p.exists()]
    if not existing:
        return
    owner = None
    if card.exists():
        try:
            owner = json.loads(card.read_text()).get("model_file")
        except (OSError, ValueError, AttributeError):
            owner = None
    if owner == onnx_path.name or (owner is None and onnx_path.exists()):
        return  # re-exporting the same model file
    other = f"model file {owner!r}" if owner else "another model"
    names = " and ".join(p.name for p in existing)
    msg = (
        f"{onnx_path.parent}: {names} there belong to {other}; exporting {onnx_path.name} "
        "would overwrite them (one model per directory: choose another --out, or --force)"
    )
    raise ExportClobberError(msg)


def model_card(run_dir: Path, state: dict[str, Any]) -> dict[str, Any]:
    """What a reader of an analysis note needs to know about the shipped model."""
    from jetscale.nn import count_parameters
    from jetscale.schema import CLASS_NAMES

    train_config = state.get("train_config", {})
    metrics_path = run_dir / "metrics.jsonl"
    lines = (
        [json.loads(x) for x in metrics_path.read_text().splitlines() if x]
        if metrics_path.exists()
        else []
    )
    final = next(
        (line for line in reversed(lines) if line["step"] == state["step"]),
        lines[-1] if lines else {},
    )
    config = ModelConfig.from_dict(state["model_config"])
    return {
        "model": config.to_dict(),
        "parameters": count_parameters(config).total,
        "non_embedding_parameters": count_parameters(config).non_embedding,
        "feature_set": config.feature_set,
        "class_names": list(CLASS_NAMES[: config.n_classes]),
        "training_data": train_config.get("data"),
        "validation_data": train_config.get("val_data") or "every 10th training-file jet held out",
        "unique_jets": train_config.get("max_jets") or "all",
        "epochs": train_config.get("epochs"),
        "steps": state["step"],
        "jets_seen": state.get("jets_seen"),
        "training_flops": state.get("flops"),
        "final_validation": {k: final.get(k) for k in ("val_loss", "val_accuracy", "val_auc")},
        "git_revision": _git_revision(),
        "checkpoint_step": state["step"],
    }


def _git_revision() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def check_parity(
    run_dir: str | Path,
    onnx_path: str | Path,
    jets: ak.Array | None = None,
    shapes: Sequence[tuple[int, int]] = PARITY_SHAPES,
) -> float:
    """Maximum |torch - ONNX Runtime| over class probabilities.

    ``jets`` defaults to :data:`PARITY_JETS`, 24 Pythia jets (12 QCD, 12 t->bqq,
    CMS card) stored with the package, so the check needs no generator.
    Each (batch, particles) shape builds features for that many slots, so shapes
    with more slots than constituents exercise padding.
    """
    import onnxruntime as ort

    model, state = load_model(run_dir)
    feature_set = state["model_config"]["feature_set"]
    wrapper = SoftmaxTagger(model).eval()
    if jets is None:
        jets = read_jets([PARITY_JETS])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch, particles in shapes:
        take = jets[np.arange(batch) % len(jets)]
        x, mask = build_features(take, feature_set, max_particles=particles)
        features = np.ascontiguousarray(x.transpose(0, 2, 1))  # (N, C, P)
        mask_input = mask[:, None, :].astype(np.float32)  # (N, 1, P)
        (onnx_out,) = session.run([OUTPUT], {FEATURES_INPUT: features, MASK_INPUT: mask_input})
        with torch.no_grad():
            torch_out = wrapper(torch.from_numpy(features), torch.from_numpy(mask_input)).numpy()
        worst = max(worst, float(np.abs(onnx_out - torch_out).max()))
    return worst
