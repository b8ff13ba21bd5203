"""Jet building on flat arrays against awkward + vector, on hand-made events (no Pythia)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from jetscale import schema
from jetscale.generate.jets import build_jets, candidate_jets
from jetscale.generate.particles import RecoParticles
from jetscale.generate.substructure import cluster_jets

N_EVENTS = 12


def _sprays(seed: int = 1) -> RecoParticles:
    """Per event two back-to-back sprays of 30 particles (~700 GeV each) and soft noise."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("event", "pt", "eta", "phi")}
    for event in range(N_EVENTS):
        axis_eta, axis_phi = rng.uniform(-1.8, 1.8), rng.uniform(-np.pi, np.pi)
        for sign in (1.0, -1.0):
            n = 30
            columns["pt"].append(rng.exponential(23.0, n) + 1.0)
            columns["eta"].append(sign * axis_eta + rng.normal(0, 0.15, n))
            columns["phi"].append(axis_phi + (sign < 0) * np.pi + rng.normal(0, 0.15, n))
            columns["event"].append(np.full(n, event))
        columns["pt"].append(rng.uniform(0.5, 3.0, 40))
        columns["eta"].append(rng.uniform(-4, 4, 40))
        columns["phi"].append(rng.uniform(-np.pi, np.pi, 40))
        columns["event"].append(np.full(40, event))
    pt, eta, phi = (np.concatenate(columns[k]) for k in ("pt", "eta", "phi"))
    event = np.concatenate(columns["event"]).astype(np.int64)
    n = len(pt)
    flags = rng.integers(0, 5, n)
    return RecoParticles(
        event=event,
        px=pt * np.cos(phi),
        py=pt * np.sin(phi),
        pz=pt * np.sinh(eta),
        energy=pt * np.cosh(eta),
        charge=rng.choice([-1.0, 0.0, 1.0], n),
        d0val=rng.normal(0, 0.1, n),
        d0err=rng.uniform(0.01, 0.02, n),
        dzval=rng.normal(0, 0.1, n),
        dzerr=rng.uniform(0.01, 0.02, n),
        **{f: (flags == k).astype(np.int32) for k, f in enumerate(schema.CONSTITUENT_INT_FIELDS)},
    )


def test_candidates_match_awkward_and_vector_bit_for_bit():
    reco = _sprays()
    candidates = candidate_jets(reco, N_EVENTS, (300.0, 2000.0))
    assert len(candidates) > N_EVENTS  # most events give two jets
    # the awkward version: constituents gathered and summed per jet, kinematics from vector
    flat = ak.zip({f: getattr(reco, f) for f in ("px", "py", "pz", "energy")})
    constituents = ak.unflatten(flat[candidates.index], np.diff(candidates.offsets))
    p4 = vector.zip(
        {
            "px": ak.sum(constituents.px, axis=-1),
            "py": ak.sum(constituents.py, axis=-1),
            "pz": ak.sum(constituents.pz, axis=-1),
            "E": ak.sum(constituents.energy, axis=-1),
        }
    )
    for name, expected in (("pt", p4.pt), ("eta", p4.eta), ("phi", p4.phi), ("energy", p4.E)):
        assert np.array_equal(getattr(candidates, name), ak.to_numpy(expected)), name
    assert np.all((candidates.pt > 300.0) & (candidates.pt < 2000.0))
    assert np.all(np.abs(candidates.eta) < 2.0)
    assert np.all(
        reco.event[candidates.index] == np.repeat(candidates.event, np.diff(candidates.offsets))
    )


def test_flat_clustering_matches_fastjets_own_awkward_interface():
    """cluster_jets reads FastJet's buffers directly: the same jets and constituents as ak.

    The reference is FastJet's documented awkward call, converted with awkward's own
    operations (no buffer arithmetic), so a layout misread in cluster_jets shows here.
    """
    import fastjet as fj

    reco = _sprays(2)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(reco.event, minlength=N_EVENTS))])
    jet_offsets, constituent_offsets, index = cluster_jets(
        reco.px, reco.py, reco.pz, reco.energy, offsets, 100.0
    )
    particles = ak.unflatten(
        ak.zip(
            {"px": reco.px, "py": reco.py, "pz": reco.pz, "E": reco.energy}, with_name="Momentum4D"
        ),
        np.diff(offsets),
    )
    sequence = fj.ClusterSequence(particles, fj.JetDefinition(fj.antikt_algorithm, 0.8))
    expected = sequence.constituent_index(100.0)  # (event, jet, constituent), local indices
    assert ak.to_list(ak.num(expected, axis=1)) == np.diff(jet_offsets).tolist()
    per_jet = ak.to_numpy(ak.flatten(ak.num(expected, axis=2)))
    assert np.array_equal(per_jet, np.diff(constituent_offsets))
    flat_expected = ak.flatten(expected + ak.Array(offsets[:-1].tolist()), axis=None)
    assert np.array_equal(ak.to_numpy(flat_expected), index)
    assert len(index) > 0 and np.diff(jet_offsets).sum() > N_EVENTS  # several jets each


def test_records_order_and_selection():
    reco = _sprays(3)
    jets = build_jets(reco, N_EVENTS, label=4, pt_range=(300.0, 2000.0))
    assert ak.fields(jets) == [
        "pt",
        "eta",
        "phi",
        "energy",
        "nparticles",
        "sdmass",
        "tau1",
        "tau2",
        "tau3",
        "tau4",
        "label",
        "constituents",
    ]
    assert ak.fields(jets.constituents) == [
        *schema.CONSTITUENT_FLOAT_FIELDS,
        *schema.CONSTITUENT_INT_FIELDS,
    ]
    assert np.all(jets.label == 4)
    assert np.array_equal(ak.to_numpy(jets.nparticles), ak.to_numpy(ak.num(jets.constituents)))
    pt = np.hypot(jets.constituents.px, jets.constituents.py)
    assert ak.all(pt[:, 1:] <= pt[:, :-1])  # descending pT within each jet
    assert np.all(ak.to_numpy(jets.sdmass) > 0)

    forward = build_jets(
        reco, N_EVENTS, label=4, select=lambda c: c.eta > 0, pt_range=(300.0, 2000.0)
    )
    assert 0 < len(forward) < len(jets)
    assert ak.to_list(forward) == ak.to_list(jets[jets.eta > 0])
