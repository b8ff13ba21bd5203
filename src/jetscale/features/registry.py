"""The declarative feature registry: one place that defines every tagger input.

Each :class:`FeatureSpec` names a per-constituent feature, the formula that
computes it, and its standardization ``x' = clip((x - center) * scale, lower, upper)``
with the value used for padded slots. Training, ONNX export (the weaver-core style
``preprocess.json`` sidecar, which carries the formulas) and inference all read
these specs, so preprocessing can never drift between them.

A formula is an executable numpy-like expression (the language is documented in
:mod:`jetscale.features.formula`): ``part_<field>`` constituent fields and
``jet_<field>`` jet fields by their JetClass names, numbers, ``+ - * / **`` and
``log``, ``exp``, ``tanh``, ``sqrt``, ``abs``, ``hypot``. The fused kernel is
generated from the formulas (:mod:`jetscale.features.kernel`), and the fields a
feature reads (:attr:`FeatureSpec.inputs`) are derived from them. To add a feature,
add its :class:`FeatureSpec` to :data:`FEATURES` (and to a set in
:data:`FEATURE_SETS` if a set should use it), and its line to the independent
test oracle ``jetscale.features.reference.FORMULAS``. Nothing else.

The first 17 are the Particle Transformer "full" inputs (Qu, Li, Qian 2022) with
exactly its constants. The four-momentum features added for ``full21`` are
``px, py, pz, E`` divided by the jet pT, unclipped in practice (bounds +-5): a
ratio keeps them O(1) for jets of any pT, so no GeV-scale numbers reach the network,
while the jet-level scale is still available through ``log(pt)``/``log(E)``.
"""

from __future__ import annotations

import ast
import dataclasses
import math
from collections.abc import Sequence
from typing import Final

from jetscale.features.formula import CONSTITUENT_PREFIX, fields_read, parse
from jetscale.schema import CONSTITUENT_FIELDS

NO_CLIP = math.inf


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """One per-constituent input: formula plus standardization.

    ``formula`` is the executable definition, also written to the sidecar (see
    :mod:`jetscale.features.formula`); a bad one raises ``ValueError`` naming the
    feature when the spec is constructed. ``center``/``scale``/``lower``/``upper``
    give ``clip((x - center) * scale, lower, upper)``; ``pad_value`` fills padded
    slots (after standardization).
    """

    name: str
    formula: str
    center: float = 0.0
    scale: float = 1.0
    lower: float = -NO_CLIP
    upper: float = NO_CLIP
    pad_value: float = 0.0

    def __post_init__(self) -> None:
        parse(self.name, self.formula)  # fail here, not in a worker's kernel compile

    @property
    def tree(self) -> ast.expr:
        """The formula's checked syntax tree (shared and cached: never modify it)."""
        return parse(self.name, self.formula)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Fields the formula reads: constituent fields without ``part_`` (``px``), jet fields with ``jet_``."""
        return tuple(f.removeprefix(CONSTITUENT_PREFIX) for f in fields_read(self.tree))

    def standardize(self, raw: float) -> float:
        """Reference standardization of one raw value (used by tests and the per-jet loop)."""
        return min(max((raw - self.center) * self.scale, self.lower), self.upper)

    @property
    def is_standardized(self) -> bool:
        """Whether the spec shifts, scales or clips the raw value at all."""
        return (self.center, self.scale, self.lower, self.upper) != (0.0, 1.0, -NO_CLIP, NO_CLIP)


def _kin(name: str, formula: str, center: float, scale: float) -> FeatureSpec:
    return FeatureSpec(name, formula, center, scale, -5.0, 5.0)


def _flag(field: str) -> FeatureSpec:
    return FeatureSpec(f"part_{field}", f"part_{field}")


def _rel(name: str, field: str) -> FeatureSpec:
    return FeatureSpec(name, f"part_{field} / jet_pt", 0.0, 1.0, -5.0, 5.0)


# The pT logs are written 0.5 * log(pT^2): the log of px^2 + py^2 needs no square root,
# and it is the float32 value the kernel has always computed (log(hypot) up to rounding).
_LOG_PT = "0.5 * log(part_px**2 + part_py**2)"

#: Every feature jetscale knows, in canonical (ParT "full", then four-momentum) order.
FEATURES: Final[dict[str, FeatureSpec]] = {
    spec.name: spec
    for spec in (
        _kin("part_pt_log", _LOG_PT, 1.7, 0.7),
        _kin("part_e_log", "log(part_energy)", 2.0, 0.7),
        _kin("part_logptrel", f"{_LOG_PT} - log(jet_pt)", -4.7, 0.7),
        _kin("part_logerel", "log(part_energy) - log(jet_energy)", -4.7, 0.7),
        _kin("part_deltaR", "hypot(part_deta, part_dphi)", 0.2, 4.0),
        FeatureSpec("part_charge", "part_charge"),
        _flag("isChargedHadron"),
        _flag("isNeutralHadron"),
        _flag("isPhoton"),
        _flag("isElectron"),
        _flag("isMuon"),
        FeatureSpec("part_d0", "tanh(part_d0val)"),
        FeatureSpec("part_d0err", "part_d0err", 0.0, 1.0, 0.0, 1.0),
        FeatureSpec("part_dz", "tanh(part_dzval)"),
        FeatureSpec("part_dzerr", "part_dzerr", 0.0, 1.0, 0.0, 1.0),
        FeatureSpec("part_deta", "part_deta"),
        FeatureSpec("part_dphi", "part_dphi"),
        _rel("part_px_rel", "px"),
        _rel("part_py_rel", "py"),
        _rel("part_pz_rel", "pz"),
        _rel("part_e_rel", "energy"),
        # Raw inputs of weaver-core's ParT configs (pf_vectors in GeV, pf_mask): no feature
        # set of ours uses them, but a weaver model's preprocess.json may name them.
        FeatureSpec("part_px", "part_px"),
        FeatureSpec("part_py", "part_py"),
        FeatureSpec("part_pz", "part_pz"),
        FeatureSpec("part_energy", "part_energy"),
        FeatureSpec("part_pt", "hypot(part_px, part_py)"),
        # 1 for a real constituent; padded slots get the pad value, 0.
        FeatureSpec("part_mask", "1"),
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

    Explicit specs carry their own formulas and constants: a sidecar's variables
    take the registry formula of their name with the sidecar's constants, and a
    spec built by hand may define a new feature.
    """
    if isinstance(features, str):
        return feature_set(features)
    specs = tuple(features)
    if not specs:
        msg = "an explicit feature list must not be empty"
        raise ValueError(msg)
    wrong = [repr(s) for s in specs if not isinstance(s, FeatureSpec)]
    if wrong:
        msg = f"an explicit feature list must hold FeatureSpec objects, got {', '.join(wrong)}"
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
