"""JetClass truth classes of simulated NanoAOD fat jets from the pruned generator record.

:func:`jet_truth` labels each jet of :func:`jetscale.io.nanoaod.fatjets_from_nanoaod`
(or any jagged array with ``eta`` and ``phi`` aligned with the events) with an
index into :data:`jetscale.schema.CLASS_NAMES` or a special value:

* :data:`UNMATCHED` (-1, ``"unmatched"``): simulation, but the jet is neither a
  matched decay nor QCD (a partially contained decay, a decay of no JetClass
  class within the jet, or a ``GenPart`` with a broken mother index within it);
* :data:`NO_GENERATOR_RECORD` (-2, ``"unlabelled"``): the events have no
  ``GenPart`` collection (data), so no truth exists.

Definitions (JetClass, Qu, Li and Qian 2022, as :mod:`jetscale.generate.truth`):

* A **decay** is a resonance's last copy (|pdgId| 6, 23, 24 or 25, ``statusFlags``
  bit 13) and its **products**: the GenParts whose mother is that copy (the first
  copies after the decay), with W and Z followed from their last copy to their
  own products, and neutrinos ignored. Products are first copies: the copies a
  quark or lepton gets in the shower, and its hadrons, are not products.
* The **class** of a decay from its products (q: a quark, |pdgId| 1-5; l: e or
  mu; anything else, a photon, a gluon where none belongs, or a tau, gives none):
  top -> q + W(q q') ``Tbqq``, top -> q + W(l nu) ``Tbl``; W -> q q' ``Wqq``;
  Z -> q q ``Zqq``; H -> b b ``Hbb``, c c ``Hcc``, g g ``Hgg``; H -> W W* with
  four quarks ``H4q`` and with q q' l nu ``Hqql``. The top's own quark is a b in
  all but 0.2 % of decays and is not required to be one. Taus: the generator
  forces W -> e or mu for ``Tbl`` and ``Hqql`` ("JetClass matches e and mu
  only: tau decays are not Hqql/Tbl jets", :mod:`jetscale.generate.processes`),
  so a decay with a tau has no class. H -> Z Z* has none either.
* A decay is **contained** in a jet when the resonance and all its products lie
  within ``DeltaR < radius`` of the jet axis, and **qualifies** for the jet when
  it is contained and has a class, unless it is a W or Z whose parent decay (top
  or Higgs) is contained in the same jet: a fully contained top is ``Tbqq``,
  never ``Wqq``, and a contained H -> Z Z* -> 4q (no class) is not ``Zqq``.
* A decay labels at most one jet, the qualifying jet closest to the resonance;
  a jet claimed by several decays takes the closest resonance.
* A jet labelled by no decay is **QCD** when no product of any heavy-resonance
  decay (classed or not, neutrinos aside) lies within its radius, else
  :data:`UNMATCHED`.
* **Broken records.** A mother index outside ``[-1, nGenPart)`` is read as "no
  mother", and every jet with such a GenPart within its radius is
  :data:`UNMATCHED` and flagged ``broken_genpart`` (count them with
  ``ak.sum(truth.broken_genpart)``): the decay it came from cannot be rebuilt.

What the pruned record of CMS NanoAOD keeps (checked on the shared files): the
incoming partons; every resonance's first copy (status 22) and last copy (status
62), in Drell-Yan also the recoil copies in between (status 44); the decay
products as first copies whose mother is the resonance's last copy: in the ttbar
v15 file all 400 tops have exactly a b and a W, and all 400 W (last copies) two
quarks, in the Drell-Yan file all 40 Z two charged leptons (e, mu, tau); the
later copies of those quarks and leptons (status 71 or 1), heavy-flavour hadrons
and some photons. Mother indices point to the nearest kept ancestor, -1 for
none; no index is out of range in any of the files.

The labelling is pure awkward: copies are followed by pointer jumping over
``genPartIdxMother`` (a fixed number of gathers, no loop over events), so eager,
virtual and dask-awkward NanoEvents give the same classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import awkward as ak
import numpy as np
import vector

from jetscale import schema

#: Special class of a simulated jet that is neither a matched decay nor QCD.
UNMATCHED: Final = -1
#: Special class of every jet of events without ``GenPart`` (data).
NO_GENERATOR_RECORD: Final = -2
UNMATCHED_NAME: Final = "unmatched"
#: Default matching radius, the AK8 jet radius.
MATCH_RADIUS: Final = 0.8
#: |pdgId| of the resonances whose decays are matched: top, Z, W, Higgs.
RESONANCE_IDS: Final[tuple[int, ...]] = (6, 23, 24, 25)

_FOLLOW_IDS: Final = (23, 24)  # followed from their last copy to their own products
_NEUTRINO_IDS: Final = (12, 14, 16)
_LIGHT_LEPTON_IDS: Final = (11, 13)  # JetClass's "l"
_IS_LAST_COPY_BIT: Final = 13  # of GenPart_statusFlags
# Pointer-jumping rounds: each doubles the copy-chain length followed (2**6 = 64 copies).
_COPY_JUMPS: Final = 6
_GENPART_FIELDS: Final = ("pdgId", "genPartIdxMother", "statusFlags", "eta", "phi")
_CLASS: Final = {name: index for index, name in enumerate(schema.CLASS_NAMES)}


def jet_truth(events: Any, jets: Any, radius: float = MATCH_RADIUS) -> Any:
    """Truth class of every jet, a record ``events * var * {truth_class, broken_genpart}``.

    ``events`` are NanoEvents (eager, virtual or dask-awkward) or any awkward
    record with a ``GenPart`` collection; ``jets`` (``events * var * jet``, fields
    ``eta`` and ``phi``, e.g. from ``fatjets_from_nanoaod``) are aligned with them.
    ``truth_class`` (int32) indexes :data:`jetscale.schema.CLASS_NAMES` or is
    :data:`UNMATCHED` or :data:`NO_GENERATOR_RECORD`; ``broken_genpart`` (bool)
    marks jets made unmatched by a broken mother index. Definitions are in the
    module docstring. Returns a dask-awkward array for dask input.
    """
    if not radius > 0:
        msg = f"radius must be positive, got {radius!r}"
        raise ValueError(msg)
    if type(events).__module__.startswith("dask_awkward"):
        import dask_awkward as dak

        return dak.map_partitions(
            _truth_kernel, events, jets, float(radius), label="jetscale-nanoaod-truth"
        )
    if ak.backend(events) != "typetracer" and len(jets) != len(events):
        msg = f"jets cover {len(jets)} events but there are {len(events)} events"
        raise ValueError(msg)
    return _truth_kernel(events, jets, float(radius))


def truth_classes(events: Any, jets: Any, radius: float = MATCH_RADIUS) -> Any:
    """The ``truth_class`` field of :func:`jet_truth`: int32, ``events * var * jet``."""
    return jet_truth(events, jets, radius)["truth_class"]


def truth_class_names(classes: Any, names: Sequence[str] = schema.CLASS_NAMES) -> Any:
    """Class name of each truth class: ``"unmatched"`` for -1, ``"unlabelled"`` for -2.

    A flat array gives a NumPy array of ``str``; a jagged ``events * var * jet``
    awkward array gives an awkward array of strings of the same structure.
    """
    table = np.asarray([*names, schema.UNLABELLED, UNMATCHED_NAME])  # -2, -1 from the end
    if isinstance(classes, ak.Array) and classes.ndim == 2:
        flat = table[ak.to_numpy(ak.flatten(classes)).astype(np.int64)]
        return ak.unflatten(ak.from_numpy(flat), ak.num(classes, axis=1))
    return table[np.asarray(classes, dtype=np.int64)]


def _truth_kernel(events: Any, jets: Any, radius: float) -> Any:
    """The labelling of one chunk: a pure function of awkward arrays (eager, virtual, typetracer)."""
    jet_dir = _directions(jets["eta"], jets["phi"])  # (events, jets)
    if "GenPart" not in ak.fields(events):
        no_truth = ak.values_astype(ak.zeros_like(jets["eta"]), np.int32) + NO_GENERATOR_RECORD
        return ak.zip({"truth_class": no_truth, "broken_genpart": no_truth > 0})
    gen = events["GenPart"]
    missing = [field for field in _GENPART_FIELDS if field not in ak.fields(gen)]
    if missing:
        msg = f"GenPart lacks field(s) {', '.join(missing)} (branches GenPart_<field>) needed for truth classes"
        raise ValueError(msg)

    pdg_id = gen["pdgId"]
    abs_id = abs(pdg_id)
    raw_mother = gen["genPartIdxMother"]
    broken = (raw_mother < -1) | (raw_mother >= ak.num(pdg_id, axis=1))
    mother = ak.where(broken, -1, raw_mother)
    index = ak.local_index(pdg_id, axis=1)

    # A copy is a particle whose mother has the same pdgId; jump to each chain's first copy.
    is_copy = (mother >= 0) & (_take(pdg_id, mother, 0) == pdg_id)
    first_copy = ak.where(is_copy, mother, index)
    for _ in range(_COPY_JUMPS):
        first_copy = first_copy[first_copy]
    decayed_from = mother[first_copy]  # the particle whose decay made this chain, -1: none

    is_last = ((gen["statusFlags"] >> _IS_LAST_COPY_BIT) & 1) == 1
    is_resonance = is_last & _isin(abs_id, RESONANCE_IDS)
    is_followed = is_last & _isin(abs_id, _FOLLOW_IDS)
    # Up to three decays a particle belongs to: its mother's, and through a followed W/Z its
    # grandmother's (t -> W -> q) and, once more, in case of two W/Z in a row.
    chain1 = ak.where(is_copy, -1, mother)
    chain2 = ak.where(_take(is_followed, chain1, False), _take(decayed_from, chain1, -1), -1)
    chain3 = ak.where(_take(is_followed, chain2, False), _take(decayed_from, chain2, -1), -1)
    of_resonance = (
        _take(is_resonance, chain1, False)
        | _take(is_resonance, chain2, False)
        | _take(is_resonance, chain3, False)
    )
    is_product = ~is_copy & ~_isin(abs_id, _FOLLOW_IDS + _NEUTRINO_IDS) & of_resonance

    prod_id = abs_id[is_product]  # (events, products)
    prod_chain = [chain[is_product] for chain in (chain1, chain2, chain3)]
    prod_via_w = (_take(abs_id, chain1, 0) == 24)[is_product]
    res_index = index[is_resonance]  # (events, resonances)
    res_id = abs_id[is_resonance]
    res_parent = decayed_from[is_resonance]

    # (events, resonances, products): which products belong to which decay
    res_col = res_index[:, :, np.newaxis]
    direct = prod_chain[0][:, np.newaxis, :] == res_col
    via_w = (prod_chain[1][:, np.newaxis, :] == res_col) & prod_via_w[:, np.newaxis, :]
    member = direct | (prod_chain[1][:, np.newaxis, :] == res_col)
    member = member | (prod_chain[2][:, np.newaxis, :] == res_col)
    res_class = _decay_classes(res_id, prod_id, member, direct, via_w)

    prod_dir = _directions(gen["eta"][is_product], gen["phi"][is_product])
    res_dir = _directions(gen["eta"][is_resonance], gen["phi"][is_resonance])
    dr_res = jet_dir[:, :, np.newaxis].deltaR(res_dir[:, np.newaxis, :])  # (events, jets, res)
    prod_inside = jet_dir[:, :, np.newaxis].deltaR(prod_dir[:, np.newaxis, :]) < radius
    all_inside = ak.all(
        prod_inside[:, :, np.newaxis, :] | ~member[:, np.newaxis, :, :], axis=3
    )  # (events, jets, res)
    contained = (dr_res < radius) & all_inside
    # A W/Z whose parent decay (t -> W, H -> W W*) lies wholly in the jet gives way to it.
    parent_of = res_parent[:, :, np.newaxis] == res_index[:, np.newaxis, :]  # (events, res, res)
    covered = ak.any(parent_of[:, np.newaxis, :, :] & contained[:, :, np.newaxis, :], axis=3)
    qualifies = contained & ~covered & (res_class >= 0)[:, np.newaxis, :]

    # Each decay labels its closest qualifying jet; each jet takes its closest such decay.
    score = ak.where(qualifies, dr_res, np.inf)
    best_jet = ak.fill_none(ak.argmin(score, axis=1), -1)  # (events, res)
    jet_index = ak.local_index(score, axis=1)
    owns = qualifies & (jet_index == best_jet[:, np.newaxis, :])
    owned_score = ak.where(owns, dr_res, np.inf)
    min_score = ak.min(owned_score, axis=2, mask_identity=False)  # inf for no decay
    closest = owns & (owned_score == min_score[:, :, np.newaxis])
    matched_class = ak.max(
        ak.where(closest, res_class[:, np.newaxis, :], -1), axis=2, mask_identity=False
    )  # (events, jets): -1 (or the int32 identity for no resonance at all) when unmatched

    near_product = ak.any(prod_inside, axis=2)
    label = ak.where(
        matched_class >= 0,
        matched_class,
        ak.where(near_product, UNMATCHED, _CLASS["QCD"]),
    )
    broken_dir = _directions(gen["eta"][broken], gen["phi"][broken])
    near_broken = ak.any(
        jet_dir[:, :, np.newaxis].deltaR(broken_dir[:, np.newaxis, :]) < radius, axis=2
    )
    label = ak.where(near_broken, UNMATCHED, label)
    return ak.zip(
        {
            "truth_class": ak.values_astype(label, np.int32),
            "broken_genpart": ak.values_astype(near_broken, bool),
        }
    )


def _decay_classes(res_id: Any, prod_id: Any, member: Any, direct: Any, via_w: Any) -> Any:
    """Class index of each decay, -1 for none, ``(events, resonances)``, from its products."""

    def count(belongs: Any, selected: Any = None) -> Any:
        if selected is not None:
            belongs = belongs & selected[:, np.newaxis, :]
        return ak.sum(belongs, axis=2)

    is_quark = (prod_id >= 1) & (prod_id <= 5)
    n_all, n_quark = count(member), count(member, is_quark)
    n_lepton = count(member, _isin(prod_id, _LIGHT_LEPTON_IDS))
    n_direct_quark, n_via_w = count(direct, is_quark), count(via_w)
    n_b, n_c, n_g = (count(member, prod_id == i) for i in (5, 4, 21))

    top, higgs = res_id == 6, res_id == 25
    top_quark = top & (n_direct_quark == 1)
    rules = {
        "Tbqq": top_quark & (n_all == 3) & (n_quark == 3) & (n_via_w == 2),
        "Tbl": top_quark & (n_all == 2) & (n_quark == 1) & (n_lepton == 1) & (n_via_w == 1),
        "Wqq": (res_id == 24) & (n_all == 2) & (n_quark == 2),
        "Zqq": (res_id == 23) & (n_all == 2) & (n_quark == 2),
        "Hbb": higgs & (n_all == 2) & (n_b == 2),
        "Hcc": higgs & (n_all == 2) & (n_c == 2),
        "Hgg": higgs & (n_all == 2) & (n_g == 2),
        "H4q": higgs & (n_all == 4) & (n_quark == 4) & (n_via_w == 4),
        "Hqql": higgs & (n_all == 3) & (n_quark == 2) & (n_lepton == 1) & (n_via_w == 3),
    }
    classes = ak.values_astype(ak.zeros_like(res_id), np.int32) - 1
    for name, rule in rules.items():  # the rules exclude one another
        classes = ak.where(rule, _CLASS[name], classes)
    return classes


def _take(values: Any, indices: Any, default: Any) -> Any:
    """``values[indices]`` within each event, ``default`` where an index is -1."""
    valid = indices >= 0
    return ak.where(valid, values[ak.where(valid, indices, 0)], default)


def _isin(values: Any, choices: Sequence[int]) -> Any:
    selected = values == choices[0]
    for choice in choices[1:]:
        selected = selected | (values == choice)
    return selected


def _directions(eta: Any, phi: Any) -> Any:
    """Unit ``vector`` 3D directions in float64 (NanoAOD stores float32), for ``deltaR``."""
    eta = ak.values_astype(eta, np.float64)
    return vector.zip(
        {"rho": ak.ones_like(eta), "eta": eta, "phi": ak.values_astype(phi, np.float64)}
    )
