"""The default taggers shipped inside the package (ONNX + preprocess.json + model card).

``full21`` needs track impact parameters (JetClass files, PFNano); ``kinpid`` needs
only kinematics and particle ID (NanoAOD v15 PF candidates). Both were trained by
``recipes/default_models/run.sh``; its ``results.md`` has their validation metrics.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

SHIPPED = ("full21", "kinpid")


def shipped_model(name: str) -> Path:
    """Path of a shipped ONNX model; its ``preprocess.json`` and ``model_card.json`` sit beside it."""
    if name not in SHIPPED:
        msg = f"no shipped model {name!r}; shipped: {', '.join(SHIPPED)}"
        raise ValueError(msg)
    path = Path(str(resources.files(__name__) / name / "model.onnx"))
    if not path.exists():
        msg = f"shipped model file missing: {path} (reinstall jetscale or run recipes/default_models/run.sh)"
        raise FileNotFoundError(msg)
    return path


def model_card(name: str) -> dict[str, Any]:
    """The model card of a shipped model."""
    card: dict[str, Any] = json.loads(shipped_model(name).with_name("model_card.json").read_text())
    return card
