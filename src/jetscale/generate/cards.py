"""Detector cards: the named, versioned parameters of a detector response.

A card is a TOML file ``cards/<name>.toml`` shipped with the package (or any path
ending in ``.toml``). Every key is required and every unknown key is an error, so a
typo cannot silently fall back to a default. Units: GeV, mm.

Two models exist, chosen by the card's ``model`` key:

* ``"delphes"`` (:class:`DelphesCard`, the ``cms`` card): the chain Delphes runs
  with the card JetClass was simulated with (helix propagation in the solenoid,
  tracking efficiency tables, TrackSmearing's impact-parameter tables, ECal and
  HCal towers and the energy flow; :mod:`jetscale.generate.delphes`);
* ``"parametric"`` (:class:`ParametricCard`, ``atlas_like`` and ``coarse``; also a
  card without ``model``, as cards were before there were two): one smeared object
  per particle, relative resolutions ``sigma/x``, impact-parameter ones in mm
  (:mod:`jetscale.generate.detector`).
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from jetscale.generate.calorimeter import CalorimeterSpec, card_number
from jetscale.generate.tracker import (
    BinnedTable,
    ImpactParameterTables,
    Solenoid,
    TrackingEfficiency,
)

_PACKAGE = "jetscale.generate"
_CARD_FOLDER = "cards"


class CardError(ValueError):
    """A detector card that cannot be found or does not parse into a valid card."""


@dataclass(frozen=True)
class TrackingCard:
    """Tracker response: acceptance, pT threshold and resolution of charged particles."""

    eta_max: float  # tracker acceptance |eta|
    pt_min: float  # GeV
    efficiency: float  # probability to reconstruct a charged particle in acceptance
    max_vertex_radius: float  # mm; charged particles produced further out are not tracked
    pt_resolution_const: float  # sigma(pT)/pT = const (+) slope * pT
    pt_resolution_slope: float  # 1/GeV


@dataclass(frozen=True)
class CaloCard:
    """A calorimeter: acceptance, energy threshold and stochastic (+) constant resolution."""

    eta_max: float
    energy_min: float  # GeV, after smearing
    stochastic: float  # sigma(E)/E = stochastic / sqrt(E/GeV) (+) constant
    constant: float


@dataclass(frozen=True)
class ParticleIdCard:
    """Lepton identification: efficiency and acceptance for electrons and muons."""

    electron_efficiency: float  # tracked electrons flagged as electrons
    electron_eta_max: float
    muon_efficiency: float  # tracked muons flagged as muons
    muon_eta_max: float


@dataclass(frozen=True)
class ImpactParameterCard:
    """Track impact-parameter resolution, sigma = const (+) slope / pT, for d0 and dz."""

    d0_const: float  # mm; sigma(d0) = const (+) slope / (pT/GeV)
    d0_slope: float  # mm GeV
    dz_const: float  # mm
    dz_slope: float  # mm GeV


@dataclass(frozen=True)
class ParametricCard:
    """A parametric detector card (``model = "parametric"``), one section per subsystem."""

    name: str
    description: str
    tracking: TrackingCard
    ecal: CaloCard  # photons and electrons that fail tracking
    hcal: CaloCard  # neutral hadrons and charged hadrons that fail tracking
    particle_id: ParticleIdCard
    impact_parameter: ImpactParameterCard


@dataclass(frozen=True)
class DelphesCard:
    """A Delphes-chain card (``model = "delphes"``): the JetClass CMS response."""

    name: str
    description: str
    solenoid: Solenoid  # [propagator]
    tracking: Mapping[str, TrackingEfficiency]  # charged_hadron, electron, muon
    track_smearing: ImpactParameterTables  # [track_smearing.d0], [track_smearing.dz]
    ecal: CalorimeterSpec
    hcal: CalorimeterSpec


#: What :func:`load_card` returns.
DetectorCard = ParametricCard | DelphesCard

#: Species of the tracking-efficiency tables of a Delphes card.
TRACK_SPECIES = ("charged_hadron", "electron", "muon")

_SECTIONS: dict[str, type] = {
    "tracking": TrackingCard,
    "ecal": CaloCard,
    "hcal": CaloCard,
    "particle_id": ParticleIdCard,
    "impact_parameter": ImpactParameterCard,
}
#: Keys that are probabilities and must lie in [0, 1].
_PROBABILITIES = {"efficiency", "electron_efficiency", "muon_efficiency"}

_T = TypeVar("_T")


def available_cards() -> list[str]:
    """Names of the cards shipped with jetscale, sorted."""
    folder = resources.files(_PACKAGE) / _CARD_FOLDER
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_card(name: str) -> DetectorCard:
    """Load a shipped card by name (``"cms"``) or a card file by path (``"my.toml"``).

    Raises :class:`CardError` (a ``ValueError``) for an unknown name, listing the
    available cards, and for a malformed card, naming the file and the key.
    """
    return parse_card(*read_card_text(name))


def read_card_text(name: str) -> tuple[str, str]:
    """The TOML text of a shipped card (by name) or a card file (by path), and its source.

    Generation reads a card once and hands this text to its workers, so every unit
    of a run uses the same card even if the file changes, and a remote worker
    needs no copy of a card file of your own.
    """
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            msg = f"detector card file {name!r} does not exist"
            raise CardError(msg)
        return path.read_text(encoding="utf-8"), str(path)
    names = available_cards()
    if name not in names:
        msg = f"unknown detector card {name!r}; available cards: {', '.join(names)}"
        raise CardError(msg)
    resource = resources.files(_PACKAGE) / _CARD_FOLDER / f"{name}.toml"
    return resource.read_text(encoding="utf-8"), str(resource)


def card_digest(text: str) -> str:
    """SHA-256 (hex) of a card's parameters: its content, not its name, file or formatting.

    ``text`` is the card's TOML. Two cards with the same keys and values give the
    same digest whatever their comments, key order or ``description``; changing
    any value changes it. Generated work units record it, so units made with an
    edited card are never reused.
    """
    data = tomllib.loads(text)
    data.pop("description", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_card(text: bytes | str, source: str = "<string>") -> DetectorCard:
    """Parse the TOML text of a card; ``source`` names the file in error messages."""
    raw = text.decode() if isinstance(text, bytes) else text
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as err:
        msg = f"{source}: not valid TOML ({err})"
        raise CardError(msg) from err
    model = data.pop("model", "parametric")
    if model == "delphes":
        return _delphes_card(data, source)
    if model != "parametric":
        msg = f"{source}: key 'model' must be 'parametric' or 'delphes', found {model!r}"
        raise CardError(msg)
    _check_keys(data, {"name", "description", *_SECTIONS}, source, "")
    for key in ("name", "description"):
        if not isinstance(data[key], str):
            msg = f"{source}: key {key!r} must be a string, found {data[key]!r}"
            raise CardError(msg)
    sections: dict[str, Any] = {
        key: _section(data[key], cls, source, key) for key, cls in _SECTIONS.items()
    }
    return ParametricCard(name=data["name"], description=data["description"], **sections)


def _delphes_card(data: dict[str, Any], source: str) -> DelphesCard:
    """A :class:`DelphesCard` from parsed TOML; errors name the file and the key."""
    sections = {"propagator", "tracking", "track_smearing", "ecal", "hcal"}
    _check_keys(data, {"name", "description", *sections}, source, "")
    for key in ("name", "description"):
        if not isinstance(data[key], str):
            msg = f"{source}: key {key!r} must be a string, found {data[key]!r}"
            raise CardError(msg)
    for key in sections:
        if not isinstance(data[key], dict):
            msg = f"{source}: [{key}] must be a table, found {data[key]!r}"
            raise CardError(msg)

    def build(where: str, make: Any) -> Any:
        try:
            return make()
        except (ValueError, TypeError, KeyError) as err:
            msg = f"{source}: [{where}]: {err}"
            raise CardError(msg) from err

    propagator = data["propagator"]
    _check_keys(propagator, {"radius", "half_length", "bz"}, source, "propagator.")
    solenoid = build(
        "propagator",
        lambda: Solenoid(
            **{k: card_number(v, k, 0.0 if k != "bz" else -math.inf) for k, v in propagator.items()}
        ),
    )
    _check_keys(data["tracking"], set(TRACK_SPECIES), source, "tracking.")
    tracking = {
        species: build(
            f"tracking.{species}",
            lambda species=species: _efficiency(data["tracking"][species], f"tracking.{species}"),
        )
        for species in TRACK_SPECIES
    }
    _check_keys(data["track_smearing"], {"d0", "dz"}, source, "track_smearing.")
    smearing = build(
        "track_smearing",
        lambda: ImpactParameterTables(
            *(
                _table(data["track_smearing"][k], f"track_smearing.{k}", extra=set())
                for k in ("d0", "dz")
            )
        ),
    )
    ecal = build("ecal", lambda: CalorimeterSpec.from_config(data["ecal"], "ecal"))
    hcal = build("hcal", lambda: CalorimeterSpec.from_config(data["hcal"], "hcal"))
    return DelphesCard(data["name"], data["description"], solenoid, tracking, smearing, ecal, hcal)


def _table(table: Any, name: str, extra: set[str]) -> BinnedTable:
    keys = {"abs_eta_edges", "pt_edges", "values", "outside", *extra}
    if not isinstance(table, dict) or set(table) != keys:
        found = sorted(table) if isinstance(table, dict) else table
        msg = f"a table needs exactly the keys {', '.join(sorted(keys))}; found {found}"
        raise ValueError(msg)
    return BinnedTable(
        name, table["abs_eta_edges"], table["pt_edges"], table["values"], table["outside"]
    )


def _efficiency(table: Any, name: str) -> TrackingEfficiency:
    binned = _table(table, name, extra={"falloff_pt", "falloff_rate"})
    return TrackingEfficiency(binned, float(table["falloff_pt"]), float(table["falloff_rate"]))


def _section(table: Any, cls: type[_T], source: str, section: str) -> _T:
    if not isinstance(table, dict):
        msg = f"{source}: [{section}] must be a table, found {table!r}"
        raise CardError(msg)
    _check_keys(table, {f.name for f in fields(cls)}, source, f"{section}.")  # type: ignore[arg-type]
    values = {}
    for key, value in table.items():
        where = f"{source}: key '{section}.{key}'"
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            msg = f"{where} must be a finite number, found {value!r}"
            raise CardError(msg)
        if value < 0:
            msg = f"{where} must be non-negative, found {value!r}"
            raise CardError(msg)
        if key in _PROBABILITIES and value > 1:
            msg = f"{where} is a probability and must be in [0, 1], found {value!r}"
            raise CardError(msg)
        values[key] = float(value)
    return cls(**values)


def _check_keys(table: dict[str, Any], expected: set[str], source: str, prefix: str) -> None:
    missing = sorted(expected - table.keys())
    if missing:
        msg = f"{source}: missing key '{prefix}{missing[0]}'" + (
            f" (and {', '.join(prefix + m for m in missing[1:])})" if len(missing) > 1 else ""
        )
        raise CardError(msg)
    unknown = sorted(table.keys() - expected)
    if unknown:
        msg = f"{source}: unknown key '{prefix}{unknown[0]}'; expected one of {', '.join(sorted(expected))}"
        raise CardError(msg)
