"""Truth matching of jets to the resonance decays of a JetClass class.

A decay is the resonance (its last copy, i.e. after its own radiation and
recoils) followed by its relevant decay products: the first copies, right after
the decay, of quarks, gluons and charged leptons (e, mu, tau); intermediate W and
Z bosons are followed to their own decay products and neutrinos are ignored.
A jet is matched to a decay when the resonance and every product lie within
``DeltaR < radius`` of the jet axis (JetClass's rule); when several jets qualify,
the one closest to the resonance gets it, so a decay labels at most one jet.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from jetscale.generate.processes import ProcessSpec

#: Default matching radius, equal to the jet radius.
MATCH_RADIUS = 0.8
_FOLLOW_IDS = (23, 24)  # intermediate bosons: follow to their decay products
_NEUTRINO_IDS = (12, 14, 16)
_LEPTON_IDS = (11, 13, 15)
_PARTON_IDS = (1, 2, 3, 4, 5, 6, 21)
_QCD_PARTON_IDS = (1, 2, 3, 4, 5, 21)  # the light partons a QCD jet comes from
_HARD_OUTGOING = (22, 23)  # status of the hard process's outgoing particles

Member = tuple[float, float, float]  # (pt GeV, eta, phi)


def find_decays(event: Any, n_hard: int, spec: ProcessSpec) -> list[list[Member]]:
    """The decays of ``spec.resonance_id`` in a ``pythia8mc.Event``.

    ``n_hard`` is the size of the hard-process record: its entries are copied at
    the start of the event record, so the resonances are found there without a
    scan of the full event. Each decay is ``[resonance, product, ...]`` with
    members as ``(pt, eta, phi)``. Decays whose product content differs from the
    class definition (``spec.n_quarks`` quarks/gluons, ``spec.n_leptons`` charged
    leptons) are left out.
    """
    return list(decays_by_resonance(event, n_hard, spec).values())


def decays_by_resonance(event: Any, n_hard: int, spec: ProcessSpec) -> dict[int, list[Member]]:
    """:func:`find_decays`, each decay keyed by its resonance's entry in the hard process.

    The key names the same resonance in every re-simulation of one hard process
    (:mod:`~jetscale.generate.resimulate`), whatever the shower did to it since.
    """
    if spec.resonance_id is None:
        return {}
    decays = {}
    seen = set()
    for i in range(n_hard):
        candidate = event[i]
        if candidate.idAbs() != spec.resonance_id or candidate.statusAbs() not in _HARD_OUTGOING:
            continue
        last_index = candidate.iBotCopyId()
        if last_index in seen:
            continue
        seen.add(last_index)
        last = event[last_index]
        products: list[Any] = []
        _collect_products(event, last, products)
        n_leptons = sum(p.idAbs() in _LEPTON_IDS for p in products)
        n_partons = sum(p.idAbs() in _PARTON_IDS for p in products)
        if (
            n_leptons != spec.n_leptons
            or n_partons != spec.n_quarks
            or n_leptons + n_partons != len(products)
        ):
            continue
        decays[i] = [(p.pT(), p.eta(), p.phi()) for p in (last, *products)]
    return decays


def hard_partons(process: Any) -> dict[int, list[Member]]:
    """The outgoing quarks and gluons of a hard process, keyed by their entry in it.

    What a QCD jet is matched to in re-simulated views: the parton's own
    direction in the hard process (one member), the same in every view.
    """
    partons = {}
    for i in range(process.size()):
        particle = process[i]
        if particle.status() in _HARD_OUTGOING and particle.idAbs() in _QCD_PARTON_IDS:
            partons[i] = [(particle.pT(), particle.eta(), particle.phi())]
    return partons


def _collect_products(event: Any, particle: Any, out: list[Any]) -> None:
    for index in particle.daughterList():
        daughter = event[index]
        abs_id = daughter.idAbs()
        if abs_id in _FOLLOW_IDS:
            _collect_products(event, event[daughter.iBotCopyId()], out)
        elif abs_id not in _NEUTRINO_IDS:
            out.append(daughter)


def delta_r(eta1: np.ndarray, phi1: np.ndarray, eta2: np.ndarray, phi2: np.ndarray) -> np.ndarray:
    """``DeltaR`` with ``DeltaPhi`` wrapped into [-pi, pi), as ``vector``'s ``deltaR`` computes it."""
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return np.sqrt(dphi**2 + (eta1 - eta2) ** 2)


def match_jets(
    jets: ak.Array, decays: list[list[list[Member]]], radius: float = MATCH_RADIUS
) -> ak.Array:
    """Which jets are truth-matched, as a jagged boolean array shaped like ``jets``.

    ``jets`` is jagged per event with fields ``pt, eta, phi``; ``decays`` holds per
    event a list of decays from :func:`find_decays`.
    """
    keyed = [dict(enumerate(event_decays)) for event_decays in decays]
    return assign_jets(jets, keyed, radius) >= 0


def assign_jets(
    jets: ak.Array, objects: list[dict[int, list[Member]]], radius: float = MATCH_RADIUS
) -> ak.Array:
    """The key of the object each jet is matched to (-1: none), jagged like ``jets``.

    ``objects`` holds per event the decays (or hard partons) by key, each a list
    of members ``(pt, eta, phi)`` whose first member is the object itself. A jet
    is matched when every member lies within ``DeltaR < radius`` of its axis;
    when several jets qualify, the one closest to the first member gets the key,
    so an object labels at most one jet. A batch holds a few objects per event,
    so they are visited in Python with numpy per object.
    """
    counts = ak.to_numpy(ak.num(jets, axis=1))
    starts = np.cumsum(counts) - counts
    flat = ak.flatten(jets, axis=1)
    eta = np.asarray(ak.to_numpy(flat.eta), dtype=np.float64)
    phi = np.asarray(ak.to_numpy(flat.phi), dtype=np.float64)
    key_of = np.full(len(eta), -1, dtype=np.int64)
    for start, count, event_objects in zip(starts, counts, objects, strict=True):
        jets_eta = eta[start : start + count, np.newaxis]
        jets_phi = phi[start : start + count, np.newaxis]
        for key, members in event_objects.items():
            member = np.asarray(members, dtype=np.float64)  # (member, 3): pt, eta, phi
            dr = delta_r(jets_eta, jets_phi, member[:, 1], member[:, 2])  # (jet, member)
            contained = np.all(dr < radius, axis=1)
            if contained.any():
                # the contained jet closest to the object gets it
                key_of[start + np.argmin(np.where(contained, dr[:, 0], np.inf))] = key
    return ak.unflatten(key_of, counts)
