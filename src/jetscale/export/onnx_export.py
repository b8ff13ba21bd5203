"""Export a run's checkpoint to ONNX and check it against torch with ONNX Runtime."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch

from jetscale.export.embedding import embedding_dim, logits_and_embedding
from jetscale.export.fused_graph import CONTRIB_DOMAIN, FusedTransformerTagger
from jetscale.export.quantize import (
    QUANTIZATIONS,
    Quantization,
    quantization_effect,
    quantization_summary,
    quantize_int8,
)
from jetscale.features import build_features
from jetscale.io import read_jets
from jetscale.io.atomic import atomic_path, write_json
from jetscale.nn import JetTransformer, ModelConfig, build_model
from jetscale.phase_space import CARD_NAME
from jetscale.provenance import provenance
from jetscale.sidecar import (
    EMBEDDING_OUTPUT,
    FEATURES_INPUT,
    MASK_INPUT,
    OUTPUT,
    SIDECAR_NAME,
    preprocess_json,
)
from jetscale.task import Task, parse_task
from jetscale.train.checkpoint import BEST_NAME, LAST_NAME, CheckpointError, load_checkpoint
from jetscale.train.data import TRAINING_DATA_NAME

OPSET = 17
#: The largest |torch - ONNX Runtime| a float32 export may show (``jetscale export`` fails above it).
PARITY_TOLERANCE = 1e-4
#: The model card's ``graph``: ONNX Runtime's fused attention operators, or standard ONNX only.
GRAPH_FUSED = "fused attention (ONNX Runtime com.microsoft operators)"
GRAPH_STANDARD = "standard ONNX operators"
#: (batch, particles) shapes check_parity runs: one particle, typical, and beyond 128.
PARITY_SHAPES = ((1, 1), (3, 7), (16, 64), (8, 128), (4, 150))
#: The default jets of :func:`check_parity`: made by ``generate_class("QCD", 12, seed=5)``
#: and ``generate_class("Tbqq", 12, seed=5)`` and written with ``write_parquet``.
PARITY_JETS = Path(__file__).with_name("parity_jets.parquet")
#: The model card's file name, beside the ONNX file and its sidecar.


class SoftmaxTagger(torch.nn.Module):
    """weaver-layout inputs -> class probabilities, around any jetscale model."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pf_features: torch.Tensor, pf_mask: torch.Tensor) -> torch.Tensor:
        x = pf_features.transpose(1, 2)  # (N, C, P) -> (N, P, C)
        mask = pf_mask[:, 0] > 0  # (N, 1, P) float -> (N, P) bool
        return torch.softmax(self.model(x, mask), dim=1)


class EmbeddingTagger(SoftmaxTagger):
    """weaver-layout inputs -> (class probabilities, jet embedding (N, D)), from one pass.

    The embedding is what the classification head reads (see
    :mod:`jetscale.export.embedding`); the probabilities are those of
    :class:`SoftmaxTagger`.
    """

    def forward(  # type: ignore[override]
        self, pf_features: torch.Tensor, pf_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = pf_features.transpose(1, 2)  # (N, C, P) -> (N, P, C)
        mask = pf_mask[:, 0] > 0  # (N, 1, P) float -> (N, P) bool
        logits, embedding = logits_and_embedding(self.model, x, mask)
        return torch.softmax(logits, dim=1), embedding


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


def export_onnx(
    model: torch.nn.Module,
    n_features: int,
    path: str | Path,
    *,
    with_embedding: bool = False,
    fused: bool = True,
) -> None:
    """Write ``model`` wrapped in :class:`SoftmaxTagger` as ONNX to ``path`` and check it.

    Inputs ``pf_features`` (N, C, P) and ``pf_mask`` (N, 1, P) with dynamic N and
    P, output ``softmax``: weaver-core's layout, so its tools read our models too.
    ``with_embedding`` wraps it in :class:`EmbeddingTagger` instead: a second
    output ``embedding`` (N, D), the vector the classification head reads.

    A Transformer is written with ONNX Runtime's fused attention operators
    (:mod:`jetscale.export.fused_graph`), the same function, faster on CPU;
    ``fused=False`` writes standard ONNX operators only, for other runtimes.
    """
    wrapper: torch.nn.Module
    if fused and type(model) is JetTransformer:  # a subclass may compute something else
        wrapper = FusedTransformerTagger(model.eval(), with_embedding=with_embedding)
    else:
        wrapper = (EmbeddingTagger if with_embedding else SoftmaxTagger)(model).eval()
    output_names = [OUTPUT, EMBEDDING_OUTPUT] if with_embedding else [OUTPUT]
    example = (torch.zeros(2, n_features, 16), torch.ones(2, 1, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation chatter
        torch.onnx.export(
            wrapper,
            example,
            str(path),
            input_names=[FEATURES_INPUT, MASK_INPUT],
            output_names=output_names,
            dynamic_axes={
                FEATURES_INPUT: {0: "N", 2: "P"},
                MASK_INPUT: {0: "N", 2: "P"},
                **{name: {0: "N"} for name in output_names},
            },
            opset_version=OPSET,
            dynamo=False,
            custom_opsets={CONTRIB_DOMAIN: 1},
        )
    import onnx

    if with_embedding:
        _declare_embedding_width(path, embedding_dim(model))
    onnx.checker.check_model(str(path), full_check=True)


def _declare_embedding_width(path: str | Path, width: int) -> None:
    """Write the embedding output's width D into the graph.

    The TorchScript exporter names it symbolically after a LayerNorm (for the
    Transformer) though it is a constant; readers should see ``(N, D)``.
    """
    import onnx

    model = onnx.load(str(path))
    (output,) = (o for o in model.graph.output if o.name == EMBEDDING_OUTPUT)
    dim = output.type.tensor_type.shape.dim[1]
    dim.Clear()
    dim.dim_value = width
    onnx.save(model, str(path))


class ExportClobberError(FileExistsError):
    """The export would overwrite the sidecar or card of another model in that directory."""


def export_run(
    run_dir: str | Path,
    out: str | Path,
    checkpoint: str = BEST_NAME,
    *,
    force: bool = False,
    with_embedding: bool = False,
    fused: bool = True,
    quantize: Quantization = "none",
    evaluate_data: Sequence[str | Path] = (),
) -> dict[str, Path]:
    """Write ``out`` (ONNX), ``preprocess.json`` and ``model_card.json`` beside it, as a set.

    ``with_embedding`` adds the ONNX output ``embedding`` (N, D) (see
    :func:`export_onnx`), which the sidecar then records; without it the files
    are those of a plain export. ``fused=False`` writes standard ONNX operators
    only (see :func:`export_onnx`).

    ``quantize="int8"`` writes the int8 dynamic quantization of the graph
    (:mod:`jetscale.export.quantize`); with ``evaluate_data`` (JetClass files of
    labelled jets the model never saw, read with the model's task) the card
    records its measured AUC change, score change and batch dependence against
    float32.

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
    if quantize not in QUANTIZATIONS:
        msg = f"quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}"
        raise ValueError(msg)
    if not force:
        _refuse_clobbering(onnx_path, sidecar, card)
    model, state = load_model(run_dir, checkpoint)
    config = ModelConfig.from_dict(state["model_config"])
    task = trained_task(state, config)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(onnx_path) as onnx_tmp,
        atomic_path(sidecar) as sidecar_tmp,
        atomic_path(card) as card_tmp,
    ):
        sidecar_content = preprocess_json(
            config.feature_set,
            config.max_particles,
            config.n_classes,
            embedding_dim=embedding_dim(model) if with_embedding else None,
            task=task,
        )
        fused = fused and type(model) is JetTransformer
        kwargs = {"with_embedding": with_embedding, "fused": fused}
        quantization = quantization_summary(quantize)
        if quantize == "int8":
            with tempfile.TemporaryDirectory(dir=onnx_path.parent) as scratch:
                fp32, int8 = Path(scratch) / "float32.onnx", Path(scratch) / "int8.onnx"
                write_json(Path(scratch) / SIDECAR_NAME, sidecar_content)
                export_onnx(model, config.n_features, fp32, **kwargs)
                quantize_int8(fp32, int8)
                if evaluate_data:
                    sources = [str(p) for p in evaluate_data]
                    jets = read_jets(sources, task=task)
                    effect = quantization_effect(
                        fp32, int8, Path(scratch) / SIDECAR_NAME, jets, sources
                    )
                    quantization = {**(quantization or {}), "effect": effect}
                shutil.copyfile(int8, onnx_tmp)
        else:
            export_onnx(model, config.n_features, onnx_tmp, **kwargs)
        write_json(sidecar_tmp, sidecar_content)
        write_json(
            card_tmp,
            {
                **model_card(Path(run_dir), state),
                "model_file": onnx_path.name,
                "graph": GRAPH_FUSED if fused else GRAPH_STANDARD,
                "precision": "int8" if quantize == "int8" else "float32",
                "quantization": quantization,
            },
        )
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


def trained_task(state: dict[str, Any], config: ModelConfig) -> Task | None:
    """The task a checkpoint was trained on; None for JetClass's classes (or a prefix of them).

    Checkpoints from before tasks record none: their classes are JetClass's first
    ``n_classes``, as the sidecar has always said.
    """
    task = parse_task(state.get("train_config", {}).get("task"))
    if task.is_jetclass:
        return None
    if len(task.classes) != config.n_classes:
        msg = f"checkpoint trained on task {task.spec!r} ({len(task.classes)} classes) has a head of {config.n_classes}"
        raise CheckpointError(msg)
    return task


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
    task = trained_task(state, config)
    made_by = provenance(seeds={"train": train_config.get("seed")})
    # Runs trained before training_data.json existed state no phase space: the card says so.
    record_path = run_dir / TRAINING_DATA_NAME
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    return {
        "model": config.to_dict(),
        "parameters": count_parameters(config).total,
        "non_embedding_parameters": count_parameters(config).non_embedding,
        "feature_set": config.feature_set,
        "class_names": list(task.names if task else CLASS_NAMES[: config.n_classes]),
        "task": task.to_json() if task else "jetclass",
        "training_data": train_config.get("data"),
        "validation_data": train_config.get("val_data") or "every 10th training-file jet held out",
        "unique_jets": train_config.get("max_jets") or "all",
        "epochs": train_config.get("epochs"),
        "steps": state["step"],
        "jets_seen": state.get("jets_seen"),
        "training_flops": state.get("flops"),
        "training_phase_space": record.get("phase_space"),
        "mass_decorrelation": record.get("mass_decorrelation")
        or train_config.get("mass_decorrelation", "none"),
        "final_validation": {
            k: final.get(k)
            for k in (
                "val_loss",
                "val_accuracy",
                "val_auc",
                "val_rejection50",
                "val_auc_pt_bins",
                "val_sculpting_jsd",
            )
        },
        # The export's provenance; the training's is the checkpoint's (None before it existed).
        "git_revision": made_by["git_revision"],
        "provenance": made_by,
        "training_provenance": state.get("provenance"),
        "checkpoint_step": state["step"],
    }


def check_parity(
    run_dir: str | Path,
    onnx_path: str | Path,
    jets: ak.Array | None = None,
    shapes: Sequence[tuple[int, int]] = PARITY_SHAPES,
    checkpoint: str = BEST_NAME,
) -> float:
    """Maximum |torch - ONNX Runtime| over every output of ``onnx_path``.

    That is the class probabilities and, for an export with embedding, the jet
    embedding too; :func:`parity_differences` gives each output's maximum.
    ``jets`` defaults to :data:`PARITY_JETS`, 24 Pythia jets (12 QCD, 12 t->bqq,
    CMS card) stored with the package, so the check needs no generator.
    Each (batch, particles) shape builds features for that many slots, so shapes
    with more slots than constituents exercise padding.
    """
    return max(parity_differences(run_dir, onnx_path, jets, shapes, checkpoint).values())


def parity_differences(
    run_dir: str | Path,
    onnx_path: str | Path,
    jets: ak.Array | None = None,
    shapes: Sequence[tuple[int, int]] = PARITY_SHAPES,
    checkpoint: str = BEST_NAME,
) -> dict[str, float]:
    """Maximum |torch - ONNX Runtime| per output of ``onnx_path`` (``softmax``, ``embedding``).

    ``checkpoint`` must be the one exported (``best.pt`` by default, as :func:`export_run`).

    The ONNX outputs are compared with the torch model of ``run_dir`` wrapped as
    at export: :class:`EmbeddingTagger` when the graph has an ``embedding``
    output, else :class:`SoftmaxTagger`. See :func:`check_parity` for the jets
    and shapes.
    """
    import onnxruntime as ort

    model, state = load_model(run_dir, checkpoint)
    feature_set = state["model_config"]["feature_set"]
    if jets is None:
        jets = read_jets([PARITY_JETS])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    with_embedding = EMBEDDING_OUTPUT in names
    outputs = [OUTPUT, EMBEDDING_OUTPUT] if with_embedding else [OUTPUT]
    wrapper = (EmbeddingTagger if with_embedding else SoftmaxTagger)(model).eval()
    worst = dict.fromkeys(outputs, 0.0)
    for batch, particles in shapes:
        take = jets[np.arange(batch) % len(jets)]
        x, mask = build_features(take, feature_set, max_particles=particles)
        features = np.ascontiguousarray(x.transpose(0, 2, 1))  # (N, C, P)
        mask_input = mask[:, None, :].astype(np.float32)  # (N, 1, P)
        onnx_out = session.run(outputs, {FEATURES_INPUT: features, MASK_INPUT: mask_input})
        with torch.no_grad():
            torch_out = wrapper(torch.from_numpy(features), torch.from_numpy(mask_input))
        if not with_embedding:
            torch_out = (torch_out,)
        for name, got, expected in zip(outputs, onnx_out, torch_out, strict=True):
            difference = np.abs(got - expected.numpy())
            # A NaN on either side is a failure, not a difference of 0 (max() would drop it).
            largest = float(difference.max()) if np.isfinite(difference).all() else np.inf
            worst[name] = max(worst[name], largest)
    return worst
