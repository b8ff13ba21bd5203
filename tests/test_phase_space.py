"""The training phase space: taken from jets, regions of jets, read from model cards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from jetscale.phase_space import (
    ETA_ABOVE,
    INSIDE,
    PT_ABOVE,
    PT_BELOW,
    PhaseSpace,
    training_phase_space,
)


def test_of_jets_rounds_outwards() -> None:
    space = PhaseSpace.of_jets([512.3, 999.2, 700.0], [-1.994, 0.2, 1.5])
    assert space == PhaseSpace(512.0, 1000.0, 2.0)
    assert PhaseSpace.of_jets([200.0, 2000.0], [2.0]).abs_eta_max == 2.0  # exact stays
    with pytest.raises(ValueError, match="no jets"):
        PhaseSpace.of_jets([], [])


def test_regions_by_hand() -> None:
    space = PhaseSpace(200.0, 2000.0, 2.0)
    pt = np.array([150.0, 250.0, 2500.0, 500.0, 100.0, 2000.0])
    eta = np.array([0.0, -2.3, 0.0, 1.99, 2.2, -2.0])
    want = [PT_BELOW, ETA_ABOVE, PT_ABOVE, INSIDE, PT_BELOW, INSIDE]
    assert space.regions(pt, eta).tolist() == want


def test_json_round_trip_and_bad_card(tmp_path: Path) -> None:
    space = PhaseSpace(200.0, 2000.0, 2.0)
    assert PhaseSpace.from_json(space.to_json()) == space
    with pytest.raises(ValueError, match="card.json.*pt_gev"):
        PhaseSpace.from_json({"pt": [1, 2]}, "card.json")
    with pytest.raises(ValueError, match="not a phase space"):
        PhaseSpace(500.0, 200.0, 2.0)


def test_model_cards(tmp_path: Path) -> None:
    model = tmp_path / "model.onnx"
    assert training_phase_space(model) is None  # no card (a weaver-core export)
    card = tmp_path / "model_card.json"
    card.write_text(json.dumps({"parameters": 1}))
    assert training_phase_space(model) is None  # an older card: not stated, no error
    card.write_text(json.dumps({"training_phase_space": {"pt_gev": [200, 2000], "abs_eta_max": 2}}))
    assert training_phase_space(model) == PhaseSpace(200.0, 2000.0, 2.0)
    card.write_text(json.dumps({"training_phase_space": {"pt_gev": "wide"}}))
    with pytest.raises(ValueError, match="model_card.json"):
        training_phase_space(model)
    card.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read the model card"):
        training_phase_space(model)
