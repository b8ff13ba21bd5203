"""int8 dynamic quantization of an exported tagger, and what it costs, measured.

``jetscale export --quantize int8`` writes the model with ONNX Runtime's dynamic
quantization (``onnxruntime.quantization.quantize_dynamic``): weights stored as
int8 (one scale per tensor), activations quantized to uint8 on the fly with a
scale computed from each input tensor. Matrix products then run as int8 kernels,
which on CPU are faster than float32 (docs/performance.md has the measured
figures).

Two costs, both measured here and written into the model card, so whoever uses
the model sees them:

* the scores change at the 1e-3 level, and the AUCs with them: measured on
  jets the user names (``--evaluate-data``: generated jets of a seed the model
  never saw), float32 and int8 through the same :class:`OnnxTagger` path;
* a jet's score depends on the other jets in its batch, because the activation
  scale is taken over the whole batch tensor: the float32 model's scores are
  bit-for-bit independent of chunking, the int8 model's are not. Measured as
  the largest score change between two batchings of the same jets.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np

from jetscale.metrics import one_vs_qcd_aucs

Quantization = Literal["none", "int8"]
QUANTIZATIONS: tuple[Quantization, ...] = ("none", "int8")
#: The batch sizes of the batch-dependence measurement (OnnxTagger's default, and a small one).
BATCHINGS = (512, 7)


def quantize_int8(fp32_path: str | Path, out_path: str | Path) -> None:
    """Write the int8 dynamic quantization of the float32 model at ``fp32_path`` to ``out_path``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8)


def quantization_summary(quantization: Quantization) -> dict[str, Any] | None:
    """The card's description of how the weights are stored (None for float32)."""
    if quantization == "none":
        return None
    return {
        "method": "int8 dynamic (onnxruntime.quantization.quantize_dynamic)",
        "weights": "int8, one scale per tensor",
        "activations": "uint8, scale computed per batch tensor at run time",
        "effect": "not measured (export with --evaluate-data to measure it)",
    }


def quantization_effect(
    fp32_model: str | Path,
    int8_model: str | Path,
    preprocess: str | Path,
    jets: ak.Array,
    sources: Sequence[str] = (),
) -> dict[str, Any]:
    """AUC and score changes of ``int8_model`` against ``fp32_model`` on ``jets`` (with ``label``).

    ``label`` must index the model's classes: read the jets with the model's
    task (``read_jets(paths, task=...)``), as :func:`~jetscale.export.export_run` does.

    Both models run through :class:`~jetscale.inference.OnnxTagger` with the same
    sidecar, buckets and batches; AUCs are one-vs-QCD per class
    (:func:`~jetscale.metrics.one_vs_qcd_aucs`). ``batch_dependence`` is the
    largest change of an int8 score between batch sizes :data:`BATCHINGS`.
    """
    from jetscale.inference import OnnxTagger

    if "label" not in ak.fields(jets):
        msg = "the evaluation jets have no 'label' field: AUCs need labelled jets (JetClass files)"
        raise ValueError(msg)
    labels = ak.to_numpy(jets.label)
    labelled = labels >= 0  # -1: a file without truth labels
    if not labelled.any():
        where = ", ".join(sources) or "the evaluation jets"
        msg = f"{where}: no jet has a label (label -1): AUCs need labelled jets (JetClass files)"
        raise ValueError(msg)
    jets, labels = jets[labelled], labels[labelled]

    def scores(model: str | Path, batch_size: int) -> np.ndarray:
        tagger = OnnxTagger(model, preprocess, batch_size=batch_size)
        prob = tagger(jets)
        return np.stack([ak.to_numpy(prob[name]) for name in tagger.class_names], axis=1)

    fp32 = scores(fp32_model, BATCHINGS[0])
    int8 = scores(int8_model, BATCHINGS[0])
    rebatched = scores(int8_model, BATCHINGS[1])
    names = OnnxTagger(fp32_model, preprocess).class_names
    scored = ~np.isnan(fp32).any(axis=1)  # jets without constituents have no score
    if not scored.any():
        msg = "no evaluation jet has a score (none has constituents)"
        raise ValueError(msg)
    auc_fp32 = one_vs_qcd_aucs(fp32[scored], labels[scored], names)
    auc_int8 = one_vs_qcd_aucs(int8[scored], labels[scored], names)
    change = {name: auc_int8[name] - auc_fp32[name] for name in auc_fp32}
    return {
        "evaluated_on": list(sources),
        "jets": int(scored.sum()),
        "unlabelled_jets_left_out": int((~labelled).sum()),
        "auc_float32": auc_fp32,
        "auc_int8": auc_int8,
        "auc_change": change,
        "max_abs_auc_change": max((abs(c) for c in change.values()), default=float("nan")),
        "max_abs_score_change": float(np.abs(int8[scored] - fp32[scored]).max()),
        "batch_dependence": float(np.abs(int8[scored] - rebatched[scored]).max()),
    }
