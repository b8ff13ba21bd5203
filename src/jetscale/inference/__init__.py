"""Tag jets with ONNX models through ONNX Runtime, inside or outside coffea.

>>> from jetscale.inference import OnnxTagger
>>> tagger = OnnxTagger("full21")            # or "path/to/model.onnx" (+ preprocess.json)
>>> scores = tagger(jets)                    # doctest: +SKIP
>>> scores.Hbb                               # doctest: +SKIP
"""

from __future__ import annotations

from jetscale.inference.model_inputs import (
    ModelInput,
    ModelInputs,
    SidecarError,
    parse_model_inputs,
    read_model_inputs,
)
from jetscale.inference.tagger import FeatureMismatchError, OnnxTagger, resolve_model

__all__ = [
    "FeatureMismatchError",
    "ModelInput",
    "ModelInputs",
    "OnnxTagger",
    "SidecarError",
    "parse_model_inputs",
    "read_model_inputs",
    "resolve_model",
]
