"""Detector cards: the named, versioned parameters of the parametrised detector.

A card is a TOML file ``cards/<name>.toml`` shipped with the package (or any path
ending in ``.toml``). Every key is required and every unknown key is an error, so a
typo cannot silently fall back to a default. Units: GeV, mm; resolutions are
relative (``sigma/x``) except the impact-parameter ones, which are in mm.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

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
class DetectorCard:
    """A whole detector card (a TOML file of ``generate/cards``), one section per subsystem."""

    name: str
    description: str
    tracking: TrackingCard
    ecal: CaloCard  # photons and electrons that fail tracking
    hcal: CaloCard  # neutral hadrons and charged hadrons that fail tracking
    particle_id: ParticleIdCard
    impact_parameter: ImpactParameterCard


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
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_file():
            msg = f"detector card file {name!r} does not exist"
            raise CardError(msg)
        text = path.read_bytes()
        source = str(path)
    else:
        names = available_cards()
        if name not in names:
            msg = f"unknown detector card {name!r}; available cards: {', '.join(names)}"
            raise CardError(msg)
        resource = resources.files(_PACKAGE) / _CARD_FOLDER / f"{name}.toml"
        text = resource.read_bytes()
        source = str(resource)
    return parse_card(text, source)


def parse_card(text: bytes | str, source: str = "<string>") -> DetectorCard:
    """Parse the TOML text of a card; ``source`` names the file in error messages."""
    raw = text.decode() if isinstance(text, bytes) else text
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as err:
        msg = f"{source}: not valid TOML ({err})"
        raise CardError(msg) from err
    _check_keys(data, {"name", "description", *_SECTIONS}, source, "")
    for key in ("name", "description"):
        if not isinstance(data[key], str):
            msg = f"{source}: key {key!r} must be a string, found {data[key]!r}"
            raise CardError(msg)
    sections: dict[str, Any] = {
        key: _section(data[key], cls, source, key) for key, cls in _SECTIONS.items()
    }
    return DetectorCard(name=data["name"], description=data["description"], **sections)


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
