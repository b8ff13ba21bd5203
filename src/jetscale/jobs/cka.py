"""The job behind ``jetscale cka``: two models and jet files in; ``cka.json`` and a heatmap out.

The jets are read once, with the fields both models' feature sets need, and both
models see the same minibatches of them (:mod:`jetscale.transfer.representations`):
models with different feature sets or ``max_particles`` each build their own inputs
from the same jets, and no option can give them different jets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jetscale.io import QualityReport, expand_paths
from jetscale.io.atomic import output_set, write_json
from jetscale.io.lock import DirectoryLock
from jetscale.provenance import provenance
from jetscale.transfer.cka import DEFAULT_BATCH_SIZE, ESTIMATORS, MIN_BATCH_JETS, Estimator
from jetscale.transfer.compare import LayerCKA, compare_models
from jetscale.transfer.representations import LoadedModel, load_model, read_jets_for

#: Jets compared unless told otherwise.
DEFAULT_MAX_JETS = 10_000
#: The outputs of one comparison, in the output directory.
OUTPUTS = ("cka.json", "cka.png", "cka.pdf")


def run_cka(
    model_a: str | os.PathLike[str],
    model_b: str | os.PathLike[str],
    data: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    max_jets: int = DEFAULT_MAX_JETS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    estimator: Estimator = "unbiased",
    names: tuple[str, str] | None = None,
    device: str = "cpu",
    plots: bool = True,
    experiment: str = "none",
) -> dict[str, Any]:
    """CKA of every layer of ``model_a`` against every layer of ``model_b`` on the same jets.

    ``model_a`` and ``model_b`` are run directories (``best.pt``, else ``last.pt``)
    or checkpoint files, of ``jetscale train``, ``finetune`` or ``pretrain`` (the
    backbone of any objective); ``data`` are jet files or globs, of which the first
    ``max_jets`` jets (class-mixed, as in training) are used. ``names`` label the
    models in the figure (default: the run directory names). Writes ``cka.json``
    (and ``cka.png``, ``cka.pdf`` with ``plots``) in ``out`` as a set
    (:func:`jetscale.io.atomic.output_set`), holding the directory
    (:class:`jetscale.io.lock.DirectoryLock`); returns what ``cka.json`` holds.
    A file that is not a checkpoint raises a ``CheckpointError`` naming it
    before anything is read or written.
    """
    if estimator not in ESTIMATORS:
        msg = f"unknown CKA estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}"
        raise ValueError(msg)
    if max_jets < 1:
        msg = f"max_jets must be >= 1, got {max_jets}"
        raise ValueError(msg)
    if batch_size < MIN_BATCH_JETS:
        msg = f"batch_size must be at least {MIN_BATCH_JETS}, got {batch_size}"
        raise ValueError(msg)
    loaded = (load_model(model_a, backbones=True), load_model(model_b, backbones=True))
    labels = names or model_labels(model_a, model_b)
    files = [str(p) for p in expand_paths(data)]
    if not files:
        msg = f"no jet files match {', '.join(str(d) for d in data)}"
        raise ValueError(msg)
    report = QualityReport()
    jets = read_jets_for(files, [m.config.feature_set for m in loaded], max_jets, report)
    for model in loaded:
        model.module.to(device)
    result = compare_models(loaded[0].module, loaded[1].module, jets, estimator, batch_size, device)
    summary = _summary(result, loaded, (model_a, model_b), labels, files, max_jets, batch_size)
    summary["provenance"] = provenance()  # no seeds: the jets and minibatches are in file order
    summary["data_quality"] = {
        "jets_read": report.jets_read,
        "jets_dropped": report.jets_dropped,
        "constituents_dropped": report.constituents_dropped,
    }
    out_dir = Path(out)
    names_written = OUTPUTS if plots else OUTPUTS[:1]
    with (
        DirectoryLock(out_dir, "jetscale cka"),
        output_set(out_dir, names_written, f"jetscale cka {model_a} {model_b}"),
    ):
        write_json(out_dir / "cka.json", summary)  # first: a failing plot keeps the numbers
        if plots:
            from jetscale.plotting.cka import plot_cka

            written = plot_cka(
                result.matrix,
                result.layers_a,
                result.layers_b,
                labels[0],
                labels[1],
                out_dir,
                colorbar_label=f"CKA ({estimator}, {result.n_jets:,} jets)",
                experiment=experiment,
            )
            summary["plots"] = [str(path) for path in written]
    return summary


def model_labels(
    model_a: str | os.PathLike[str], model_b: str | os.PathLike[str]
) -> tuple[str, str]:
    """Figure labels: the run directory's name (``run/best.pt`` -> ``run``), prefixed "A:" and "B:" if equal."""
    labels = tuple(_label(Path(p)) for p in (model_a, model_b))
    if labels[0] == labels[1]:
        return f"A: {labels[0]}", f"B: {labels[1]}"
    return labels[0], labels[1]


def _label(path: Path) -> str:
    if path.suffix == ".pt" and path.parent.name:
        return path.parent.name if path.name in ("best.pt", "last.pt") else path.stem
    return path.resolve().name or str(path)


def _summary(
    result: LayerCKA,
    loaded: tuple[LoadedModel, LoadedModel],
    given: tuple[str | os.PathLike[str], str | os.PathLike[str]],
    labels: tuple[str, str],
    files: list[str],
    max_jets: int,
    batch_size: int,
) -> dict[str, Any]:
    models = {}
    for key, model, path, label in zip(("a", "b"), loaded, given, labels, strict=True):
        models[key] = {
            "name": label,
            "path": str(path),
            "checkpoint": str(model.checkpoint),
            "step": model.step,
            "architecture": model.config.architecture,
            "feature_set": model.config.feature_set,
            "max_particles": model.config.max_particles,
            "layers": list(result.layers_a if key == "a" else result.layers_b),
        }
    return {
        "estimator": result.estimator,
        "n_jets": result.n_jets,
        "max_jets": max_jets,
        "batch_size": batch_size,
        "n_batches": result.n_batches,
        "files": files,
        "models": models,
        "layers_a": list(result.layers_a),
        "layers_b": list(result.layers_b),
        "matrix": result.matrix,  # rows: layers_a, columns: layers_b; NaN -> null
        "seconds": {"representations": result.representation_s, "cka": result.cka_s},
    }
