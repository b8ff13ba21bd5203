"""The declarative feature registry: one place that defines every tagger input.

Each :class:`FeatureSpec` names a per-constituent feature, the formula that
computes it from the JetClass fields, and its standardization
``x' = clip((x - center) * scale, lower, upper)`` with the value used for padded
slots. Training, ONNX export (the weaver-core style ``preprocess.json`` sidecar)
and inference all read these specs, so preprocessing can never drift between them.

The first 17 are the Particle Transformer "full" inputs (Qu, Li, Qian 2022) with
exactly its constants. The four-momentum features added for ``full21`` are
``px, py, pz, E`` divided by the jet pT, unclipped in practice (bounds +-5): a
ratio keeps them O(1) for jets of any pT, so no GeV-scale numbers reach the network,
while the jet-level scale is still available through ``log(pt)``/``log(E)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Final

from jetscale.schema import CONSTITUENT_FIELDS

NO_CLIP = math.inf


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """One per-constituent input: formula plus standardization.

    ``formula`` is the human-readable definition (also written to the sidecar);
    ``inputs`` are the constituent fields (``part_*`` names without the prefix) and
    jet fields (``jet_*``) it reads. ``center``/``scale``/``lower``/``upper`` give
    ``clip((x - center) * scale, lower, upper)``; ``pad_value`` fills padded slots
    (after standardization).
    """

    name: str
    formula: str
    inputs: tuple[str, ...]
    center: float = 0.0
    scale: float = 1.0
    lower: float = -NO_CLIP
    upper: float = NO_CLIP
    pad_value: float = 0.0

    def standardize(self, raw: float) -> float:
        """Reference standardization of one raw value (used by tests and the per-jet loop)."""
        return min(max((raw - self.center) * self.scale, self.lower), self.upper)

    @property
    def is_standardized(self) -> bool:
        return (self.center, self.scale, self.lower, self.upper) != (0.0, 1.0, -NO_CLIP, NO_CLIP)


def _kin(
    name: str, formula: str, inputs: tuple[str, ...], center: float, scale: float
) -> FeatureSpec:
    return FeatureSpec(name, formula, inputs, center, scale, -5.0, 5.0)


def _flag(field: str) -> FeatureSpec:
    return FeatureSpec(f"part_{field}", f"part_{field}", (field,))


#: Every feature jetscale knows, in canonical (ParT "full", then four-momentum) order.
FEATURES: Final[dict[str, FeatureSpec]] = {
    spec.name: spec
    for spec in (
        _kin("part_pt_log", "log(hypot(part_px, part_py))", ("px", "py"), 1.7, 0.7),
        _kin("part_e_log", "log(part_energy)", ("energy",), 2.0, 0.7),
        _kin(
            "part_logptrel",
            "log(hypot(part_px, part_py) / jet_pt)",
            ("px", "py", "jet_pt"),
            -4.7,
            0.7,
        ),
        _kin("part_logerel", "log(part_energy / jet_energy)", ("energy", "jet_energy"), -4.7, 0.7),
        _kin("part_deltaR", "hypot(part_deta, part_dphi)", ("deta", "dphi"), 0.2, 4.0),
        FeatureSpec("part_charge", "part_charge", ("charge",)),
        _flag("isChargedHadron"),
        _flag("isNeutralHadron"),
        _flag("isPhoton"),
        _flag("isElectron"),
        _flag("isMuon"),
        FeatureSpec("part_d0", "tanh(part_d0val)", ("d0val",)),
        FeatureSpec("part_d0err", "part_d0err", ("d0err",), 0.0, 1.0, 0.0, 1.0),
        FeatureSpec("part_dz", "tanh(part_dzval)", ("dzval",)),
        FeatureSpec("part_dzerr", "part_dzerr", ("dzerr",), 0.0, 1.0, 0.0, 1.0),
        FeatureSpec("part_deta", "part_deta", ("deta",)),
        FeatureSpec("part_dphi", "part_dphi", ("dphi",)),
        FeatureSpec("part_px_rel", "part_px / jet_pt", ("px", "jet_pt"), 0.0, 1.0, -5.0, 5.0),
        FeatureSpec("part_py_rel", "part_py / jet_pt", ("py", "jet_pt"), 0.0, 1.0, -5.0, 5.0),
        FeatureSpec("part_pz_rel", "part_pz / jet_pt", ("pz", "jet_pt"), 0.0, 1.0, -5.0, 5.0),
        FeatureSpec(
            "part_e_rel", "part_energy / jet_pt", ("energy", "jet_pt"), 0.0, 1.0, -5.0, 5.0
        ),
        # Raw inputs of weaver-core's ParT configs (pf_vectors in GeV, pf_mask): no feature
        # set of ours uses them, but a weaver model's preprocess.json may name them.
        FeatureSpec("part_px", "part_px", ("px",)),
        FeatureSpec("part_py", "part_py", ("py",)),
        FeatureSpec("part_pz", "part_pz", ("pz",)),
        FeatureSpec("part_energy", "part_energy", ("energy",)),
        FeatureSpec("part_pt", "hypot(part_px, part_py)", ("px", "py")),
        FeatureSpec("part_mask", "1 for a real constituent, pad value 0", ()),
    )
}

_KIN = ("part_pt_log", "part_e_log", "part_logptrel", "part_logerel", "part_deltaR")
_PID = (
    "part_charge",
    "part_isChargedHadron",
    "part_isNeutralHadron",
    "part_isPhoton",
    "part_isElectron",
    "part_isMuon",
)
_TRACK = ("part_d0", "part_d0err", "part_dz", "part_dzerr")
_ANGLES = ("part_deta", "part_dphi")
_FOUR_MOMENTUM = ("part_px_rel", "part_py_rel", "part_pz_rel", "part_e_rel")

#: Named feature sets, in the column order of the arrays they produce.
FEATURE_SETS: Final[dict[str, tuple[str, ...]]] = {
    "kin": _KIN + _ANGLES,
    "kinpid": _KIN + _PID + _ANGLES,
    "full": _KIN + _PID + _TRACK + _ANGLES,
    "full21": _KIN + _PID + _TRACK + _ANGLES + _FOUR_MOMENTUM,
}
DEFAULT_FEATURE_SET: Final = "full21"


def feature_set(name: str) -> tuple[FeatureSpec, ...]:
    """The specs of a named feature set, in column order."""
    try:
        names = FEATURE_SETS[name]
    except KeyError:
        msg = f"unknown feature set {name!r}; known sets: {', '.join(FEATURE_SETS)}"
        raise ValueError(msg) from None
    return tuple(FEATURES[n] for n in names)


def resolve_specs(features: str | Sequence[FeatureSpec]) -> tuple[FeatureSpec, ...]:
    """Specs of a named feature set, or an explicit spec sequence (e.g. from a model's sidecar).

    Explicit specs may carry any standardization constants, but their names must
    be registry features: the name fixes the formula the kernel computes.
    """
    if isinstance(features, str):
        return feature_set(features)
    specs = tuple(features)
    unknown = [s.name for s in specs if s.name not in FEATURES]
    if unknown or not specs:
        msg = (
            f"no formula for variable(s) {', '.join(unknown)}; known: {', '.join(FEATURES)}"
            if unknown
            else "an explicit feature list must not be empty"
        )
        raise ValueError(msg)
    return specs


def reader_fields(name: str | Sequence[FeatureSpec]) -> tuple[str, ...]:
    """Constituent fields to read from files for a feature set: its inputs plus the four-momentum."""
    constituent, _ = required_fields(name)
    return tuple(dict.fromkeys(("px", "py", "pz", "energy", *constituent)))


def required_fields(
    name: str | Sequence[FeatureSpec],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(constituent fields, jet fields) a feature set reads, in schema order."""
    needed = {field for spec in resolve_specs(name) for field in spec.inputs}
    jet = tuple(sorted(f.removeprefix("jet_") for f in needed if f.startswith("jet_")))
    constituent = tuple(f for f in CONSTITUENT_FIELDS if f in needed)
    return constituent, jet
