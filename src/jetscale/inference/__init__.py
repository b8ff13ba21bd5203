"""Tag jets with ONNX models through ONNX Runtime, inside or outside coffea.

>>> from jetscale.inference import OnnxTagger
>>> tagger = OnnxTagger("full21")            # or "path/to/model.onnx" (+ preprocess.json)
>>> scores = tagger(jets)                    # doctest: +SKIP
>>> scores.Hbb                               # doctest: +SKIP

Needs the ``tag`` extra (onnxruntime, and coffea for its ``ml_tools`` wrapper base class).
"""

from __future__ import annotations

from jetscale._optional import require

require("onnxruntime", "coffea", extra="tag", purpose="jetscale.inference")

from jetscale.inference.tagger import (  # noqa: E402
    FeatureMismatchError,
    ModelFileError,
    NoEmbeddingError,
    OnnxTagger,
    resolve_model,
)
from jetscale.sidecar import (  # noqa: E402
    ModelInput,
    ModelInputs,
    SidecarError,
    parse_model_inputs,
    read_model_inputs,
)

__all__ = [
    "FeatureMismatchError",
    "ModelFileError",
    "ModelInput",
    "ModelInputs",
    "NoEmbeddingError",
    "OnnxTagger",
    "SidecarError",
    "parse_model_inputs",
    "read_model_inputs",
    "resolve_model",
]
