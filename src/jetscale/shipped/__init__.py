"""The default taggers shipped inside the package (ONNX + preprocess.json + model card).

``full21`` needs track impact parameters (JetClass files, PFNano); ``kinpid`` needs
only kinematics and particle ID (NanoAOD v15 PF candidates). ``full21_md`` and
``kinpid_md`` are their mass-decorrelated variants (trained with every class flat
in (pT, m_SD), :mod:`jetscale.train.reweight`), for searches that fit the jet mass.
All were trained on 200-2000 GeV jets by ``recipes/default_models/run.sh``; its
``results.md`` has their metrics per pT bin and their QCD mass sculpting, and each
model card states the phase space its training jets covered.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

SHIPPED = ("full21", "kinpid", "full21_md", "kinpid_md")


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
