"""Score jets with a shipped ONNX tagger through ONNX Runtime (a minimal, eager helper).

The coffea-facing inference wrapper (lazy per-worker sessions, dask, weaver
models) is the next layer; this helper serves the main job and quick looks.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from jetscale.features import feature_batches
from jetscale.models import model_card, shipped_model


def score_jets(jets: ak.Array, model: str = "full21", batch_size: int = 1024) -> np.ndarray:
    """Class probabilities ``(N, 10)`` of eager ``jets`` from the shipped model ``model``."""
    import onnxruntime as ort

    card = model_card(model)
    session = ort.InferenceSession(str(shipped_model(model)), providers=["CPUExecutionProvider"])
    out = np.empty((len(jets), len(card["class_names"])), dtype=np.float32)
    batches = feature_batches(jets, batch_size, card["feature_set"], card["model"]["max_particles"])
    for start, x, mask in batches:
        longest = max(int(mask.sum(axis=1).max(initial=0)), 1)  # padding beyond it is wasted work
        features = np.ascontiguousarray(x[:, :longest].transpose(0, 2, 1))  # (N, C, P)
        pf_mask = mask[:, None, :longest].astype(np.float32)  # (N, 1, P)
        (prob,) = session.run(["softmax"], {"pf_features": features, "pf_mask": pf_mask})
        out[start : start + len(prob)] = prob
    return out
