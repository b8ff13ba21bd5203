"""The independent reference of NanoAOD truth labelling: a plain per-event loop over raw GenPart.

Shared by the truth tests (tests/io/test_nanoaod_truth.py) and the processor
tests, which check that ``jet_class`` on NanoAOD simulation is exactly this.
"""

from __future__ import annotations

import math

import numpy as np

from jetscale import schema
from jetscale.io.nanoaod import FatJetSelection

#: The GenPart branches the reference reads.
GENPART = ("pdgId", "genPartIdxMother", "statusFlags", "eta", "phi")

# The reference: a plain loop over one event's raw GenPart columns, walking the
# record downwards from each resonance (the library walks it upwards, vectorised).

RESONANCES = {6, 23, 24, 25}
NEUTRINOS = {12, 14, 16}
QUARKS = {1, 2, 3, 4, 5}
LEPTONS = {11, 13}


def delta_r(eta1: float, phi1: float, eta2: float, phi2: float) -> float:
    return math.hypot(eta1 - eta2, math.remainder(phi1 - phi2, 2 * math.pi))


def reference_event(
    gen: dict[str, np.ndarray], jets: list[tuple[float, float]], radius: float = 0.8
) -> tuple[list[int], int]:
    """Truth class of each jet ``(eta, phi)`` and how many were made unmatched by broken indices."""
    pdg = [int(x) for x in gen["pdgId"]]
    n = len(pdg)
    mother = [int(x) for x in gen["genPartIdxMother"]]
    eta = [float(x) for x in gen["eta"]]
    phi = [float(x) for x in gen["phi"]]
    broken = [not -1 <= m < n for m in mother]
    children: dict[int, list[int]] = {i: [] for i in range(n)}
    for i, m in enumerate(mother):
        if 0 <= m < n:
            children[m].append(i)

    def last_copy(i: int) -> int:
        seen = {i}
        while True:
            same = [k for k in children[i] if pdg[k] == pdg[i] and k not in seen]
            if not same:
                return i
            i = same[0]
            seen.add(i)

    def visible(i: int) -> list[int]:
        """Products of the decay of ``i``: W/Z followed, neutrinos dropped."""
        out = []
        for d in children[i]:
            if abs(pdg[d]) in (23, 24):
                out += visible(last_copy(d))
            elif abs(pdg[d]) not in NEUTRINOS:
                out.append(d)
        return out

    def kinds(ids: list[int]) -> list[str]:
        return sorted(
            "q" if abs(p) in QUARKS else "l" if abs(p) in LEPTONS else str(abs(p)) for p in ids
        )

    decays = []  # (resonance, class or None, products, W/Z it contains)
    for r in range(n):
        if abs(pdg[r]) not in RESONANCES or not (int(gen["statusFlags"][r]) >> 13) & 1:
            continue
        kids = [d for d in children[r] if abs(pdg[d]) not in NEUTRINOS]
        kid_ids = sorted(abs(pdg[d]) for d in kids)
        bosons = [last_copy(d) for d in kids if abs(pdg[d]) in (23, 24)]
        from_w = [pdg[p] for w in bosons if abs(pdg[w]) == 24 for p in visible(w)]
        cls = None
        if abs(pdg[r]) == 6 and len(kids) == 2 and kinds([pdg[d] for d in kids]) == ["24", "q"]:
            cls = {("q", "q"): "Tbqq", ("l",): "Tbl"}.get(tuple(kinds(from_w)))
        elif abs(pdg[r]) in (23, 24) and kinds([pdg[d] for d in kids]) == ["q", "q"]:
            cls = "Zqq" if abs(pdg[r]) == 23 else "Wqq"
        elif abs(pdg[r]) == 25 and kid_ids in ([5, 5], [4, 4], [21, 21]):
            cls = {5: "Hbb", 4: "Hcc", 21: "Hgg"}[kid_ids[0]]
        elif abs(pdg[r]) == 25 and kid_ids == [24, 24]:
            cls = {("q",) * 4: "H4q", ("l", "q", "q"): "Hqql"}.get(tuple(kinds(from_w)))
        decays.append((r, cls, visible(r), bosons))

    def inside(j: int, i: int) -> bool:
        return delta_r(jets[j][0], jets[j][1], eta[i], phi[i]) < radius

    def contained(j: int, decay: tuple[int, str | None, list[int], list[int]]) -> bool:
        r, _, products, _ = decay
        return inside(j, r) and all(inside(j, p) for p in products)

    owner: dict[int, list[tuple[float, str]]] = {j: [] for j in range(len(jets))}
    for decay in decays:
        r, cls, _, _ = decay
        candidates = []
        for j in range(len(jets)):
            parent_contained = any(r in parent[3] and contained(j, parent) for parent in decays)
            if cls is not None and contained(j, decay) and not parent_contained:
                candidates.append((delta_r(jets[j][0], jets[j][1], eta[r], phi[r]), j))
        if candidates:
            distance, j = min(candidates)
            assert cls is not None
            owner[j].append((distance, cls))

    labels, n_broken = [], 0
    for j in range(len(jets)):
        if any(inside(j, i) for i in range(n) if broken[i]):
            labels.append(-1)
            n_broken += 1
        elif owner[j]:
            labels.append(schema.CLASS_NAMES.index(min(owner[j])[1]))
        elif any(inside(j, p) for decay in decays for p in decay[2]):
            labels.append(-1)
        else:
            labels.append(0)
    return labels, n_broken


def reference_labels(
    gen: dict[str, np.ndarray], jets: list[list[tuple[float, float]]]
) -> tuple[list[list[int]], int]:
    """:func:`reference_event` over all events: ``gen`` maps GenPart fields to per-event arrays."""
    labels, n_broken = [], 0
    for event, event_jets in enumerate(jets):
        got, broken = reference_event({k: v[event] for k, v in gen.items()}, event_jets)
        labels.append(got)
        n_broken += broken
    return labels, n_broken


def selected_jets(
    raw: dict[str, np.ndarray], selection: FatJetSelection
) -> list[list[tuple[float, float]]]:
    """``(eta, phi)`` of the jets ``fatjets_from_nanoaod`` keeps, with the selection rewritten in NumPy."""
    out = []
    for event in range(len(raw["FatJet_pt"])):
        keep = (raw["FatJet_pt"][event] > selection.min_pt) & (
            np.abs(raw["FatJet_eta"][event]) < selection.max_abs_eta
        )
        if "FatJet_jetId" in raw and selection.jet_id != "none":
            keep &= (raw["FatJet_jetId"][event] & {"tight": 2, "loose": 3}[selection.jet_id]) != 0
        out.append(
            [
                (float(e), float(p))
                for e, p in zip(
                    raw["FatJet_eta"][event][keep], raw["FatJet_phi"][event][keep], strict=True
                )
            ]
        )
    return out


def read_raw(path: object) -> dict[str, np.ndarray]:
    """The raw branches the reference reads from a NanoAOD file: GenPart and the fat jets."""
    import uproot

    with uproot.open(path) as file:
        return file["Events"].arrays(  # type: ignore[no-any-return]
            [f"GenPart_{f}" for f in GENPART]
            + ["FatJet_pt", "FatJet_eta", "FatJet_phi"]
            + (["FatJet_jetId"] if "FatJet_jetId" in file["Events"] else []),
            library="np",
        )
