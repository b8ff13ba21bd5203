"""The jet phase space a tagger was trained on, and which jets fall outside it.

A tagger knows nothing of jets unlike its training jets: the shipped models of
jetscale 0.1 saw 500-1000 GeV jets only and score 250 GeV top jets near zero.
Training records the range its jets covered (:meth:`PhaseSpace.of_jets`), export
writes it into the model card, and the processors count the jets they tag outside
it (:func:`outside_region`), so an analysis sees when it asks a model about jets
it never saw.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike

#: Where a jet lies relative to a model's training phase space, in this order of precedence.
INSIDE: Final = "inside"
PT_BELOW: Final = "pt below"
PT_ABOVE: Final = "pt above"
ETA_ABOVE: Final = "|eta| above"
REGIONS: Final = (INSIDE, PT_BELOW, PT_ABOVE, ETA_ABOVE)


@dataclasses.dataclass(frozen=True)
class PhaseSpace:
    """Jets with ``pt_min <= pT <= pt_max`` (GeV) and ``|eta| <= abs_eta_max``."""

    pt_min: float
    pt_max: float
    abs_eta_max: float

    def __post_init__(self) -> None:
        if not (0 <= self.pt_min < self.pt_max and self.abs_eta_max > 0):
            msg = f"not a phase space: pT {self.pt_min:g}-{self.pt_max:g} GeV, |eta| <= {self.abs_eta_max:g}"
            raise ValueError(msg)

    @classmethod
    def of_jets(cls, pt: ArrayLike, eta: ArrayLike) -> PhaseSpace:
        """The smallest range holding every jet: pT to whole GeV, |eta| to 0.01, outwards."""
        pt_values = np.asarray(pt, dtype=np.float64)
        eta_values = np.abs(np.asarray(eta, dtype=np.float64))
        if pt_values.size == 0:
            msg = "no jets to take a phase space from"
            raise ValueError(msg)
        return cls(
            pt_min=float(math.floor(pt_values.min())),
            pt_max=float(math.ceil(pt_values.max())),
            abs_eta_max=math.ceil(float(eta_values.max()) * 100 - 1e-9) / 100,
        )

    def regions(self, pt: ArrayLike, eta: ArrayLike) -> np.ndarray:
        """Each jet's region of :data:`REGIONS` (a NumPy array of ``str``); pT outranks eta."""
        pt_values = np.asarray(pt, dtype=np.float64)
        eta_values = np.abs(np.asarray(eta, dtype=np.float64))
        out = np.full(pt_values.shape, INSIDE, dtype=object)
        out[eta_values > self.abs_eta_max] = ETA_ABOVE
        out[pt_values > self.pt_max] = PT_ABOVE
        out[pt_values < self.pt_min] = PT_BELOW
        return out

    def describe(self) -> str:
        """``"pT 200-2000 GeV, |eta| < 2.00"``, for notes and log lines."""
        return f"pT {self.pt_min:g}-{self.pt_max:g} GeV, |eta| <= {self.abs_eta_max:.2f}"

    def to_json(self) -> dict[str, Any]:
        return {"pt_gev": [self.pt_min, self.pt_max], "abs_eta_max": self.abs_eta_max}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: object = "model card") -> PhaseSpace:
        """The inverse of :meth:`to_json`; a ValueError naming ``source`` for anything else."""
        try:
            low, high = (float(v) for v in data["pt_gev"])
            return cls(low, high, float(data["abs_eta_max"]))
        except (KeyError, TypeError, ValueError) as err:
            msg = f"{source}: 'training_phase_space' must be {{'pt_gev': [min, max], 'abs_eta_max': x}}, got {dict(data)!r} ({err})"
            raise ValueError(msg) from None


#: The model card export writes beside ``model.onnx`` (:mod:`jetscale.export`).
CARD_NAME: Final = "model_card.json"


def training_phase_space(model_path: str | Path) -> PhaseSpace | None:
    """The training phase space the model card beside ``model_path`` states, or None.

    None when there is no card (a weaver-core export) or the card states no range
    (models exported before jetscale recorded it): callers say so, it is not an error.
    A card that states a malformed range is a ValueError naming the card.
    """
    card = Path(model_path).with_name(CARD_NAME)
    if not card.is_file():
        return None
    try:
        data = json.loads(card.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{card}: cannot read the model card ({err})"
        raise ValueError(msg) from err
    stated = data.get("training_phase_space") if isinstance(data, dict) else None
    return None if stated is None else PhaseSpace.from_json(stated, card)
