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
import vector

from jetscale.generate.processes import ProcessSpec

vector.register_awkward()

#: Default matching radius, equal to the jet radius.
MATCH_RADIUS = 0.8
_FOLLOW_IDS = (23, 24)  # intermediate bosons: follow to their decay products
_NEUTRINO_IDS = (12, 14, 16)
_LEPTON_IDS = (11, 13, 15)
_PARTON_IDS = (1, 2, 3, 4, 5, 6, 21)
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
    if spec.resonance_id is None:
        return []
    decays = []
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
        decays.append([(p.pT(), p.eta(), p.phi()) for p in (last, *products)])
    return decays


def _collect_products(event: Any, particle: Any, out: list[Any]) -> None:
    for index in particle.daughterList():
        daughter = event[index]
        abs_id = daughter.idAbs()
        if abs_id in _FOLLOW_IDS:
            _collect_products(event, event[daughter.iBotCopyId()], out)
        elif abs_id not in _NEUTRINO_IDS:
            out.append(daughter)


def match_jets(
    jets: ak.Array, decays: list[list[list[Member]]], radius: float = MATCH_RADIUS
) -> ak.Array:
    """Which jets are truth-matched, as a jagged boolean array shaped like ``jets``.

    ``jets`` is jagged per event with fields ``pt, eta, phi``; ``decays`` holds per
    event a list of decays from :func:`find_decays`.
    """
    jet_vectors = ak.zip({"rho": jets.pt, "eta": jets.eta, "phi": jets.phi}, with_name="Momentum3D")
    if not any(decays):
        return ak.values_astype(ak.zeros_like(jets.pt), bool)
    members = ak.Array(decays)  # (event, decay, member) tuples (pt, eta, phi)
    decay_vectors = ak.zip(
        {"rho": members["0"], "eta": members["1"], "phi": members["2"]}, with_name="Momentum3D"
    )
    pairs = ak.cartesian(
        {"jet": jet_vectors, "decay": decay_vectors}, nested=True
    )  # (event, jet, decay)
    delta_r = pairs.jet.deltaR(pairs.decay)  # (event, jet, decay, member)
    contained = ak.all(delta_r < radius, axis=-1)  # (event, jet, decay)
    score = ak.where(contained, delta_r[..., 0], np.inf)
    best_jet = ak.argmin(score, axis=1)  # (event, decay): closest jet to each resonance
    jet_index = ak.local_index(score, axis=1)
    owns = contained & (jet_index == best_jet[:, np.newaxis, :])
    return ak.fill_none(ak.any(owns, axis=-1), False)
