"""Detector response against the card's numbers, computed independently here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jetscale.generate.cards import load_card
from jetscale.generate.detector import GenParticles, apply_detector, impact_parameters

N = 40_000


def _particles(pdgid, charge, pt, eta, n=N, vertex=(0.0, 0.0, 0.0), mass=0.0):
    phi = np.linspace(-math.pi, math.pi, n, endpoint=False)
    px, py = pt * np.cos(phi), pt * np.sin(phi)
    pz = pt * np.sinh(eta) * np.ones(n)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    return GenParticles(
        event=np.zeros(n, dtype=np.int64),
        px=px,
        py=py,
        pz=pz,
        energy=energy,
        pdgid=np.full(n, pdgid, dtype=np.int64),
        charge=np.full(n, float(charge)),
        vx=np.full(n, vertex[0]),
        vy=np.full(n, vertex[1]),
        vz=np.full(n, vertex[2]),
    )


def _binomial_ok(k, n, p, sigmas=5.0):
    return abs(k - n * p) < sigmas * math.sqrt(n * p * (1 - p)) + 1


@pytest.fixture(scope="module")
def cms():
    return load_card("cms_parametric")


@pytest.mark.parametrize("card_name", ["cms_parametric", "coarse"])
def test_track_efficiency_and_pt_resolution(card_name):
    card = load_card(card_name)
    pt = 100.0
    reco = apply_detector(_particles(211, 1, pt, 0.3, mass=0.1396), card, np.random.default_rng(1))
    tracks = reco.charge != 0
    assert _binomial_ok(int(tracks.sum()), N, card.tracking.efficiency)
    # untracked pions are HCAL deposits: neutral, flagged neutral hadron, no impact parameters
    neutral = ~tracks
    assert np.all(reco.isNeutralHadron[neutral] == 1)
    assert np.all(reco.d0val[neutral] == 0) and np.all(reco.dzerr[neutral] == 0)
    assert np.all(reco.isChargedHadron[tracks] == 1)
    measured = np.hypot(reco.px[tracks], reco.py[tracks]) / pt - 1
    expected = math.hypot(card.tracking.pt_resolution_const, card.tracking.pt_resolution_slope * pt)
    assert np.std(measured) == pytest.approx(expected, rel=0.03)
    assert abs(np.mean(measured)) < 4 * expected / math.sqrt(tracks.sum())


@pytest.mark.parametrize(("pdgid", "calo", "energy"), [(22, "ecal", 50.0), (2112, "hcal", 200.0)])
def test_calorimeter_resolution(cms, pdgid, calo, energy):
    section = getattr(cms, calo)
    reco = apply_detector(_particles(pdgid, 0, energy, 0.0), cms, np.random.default_rng(2))
    assert len(reco) == N  # far above threshold, inside acceptance
    flag = reco.isPhoton if pdgid == 22 else reco.isNeutralHadron
    assert np.all(flag == 1)
    measured = reco.energy / energy - 1
    expected = math.hypot(section.stochastic / math.sqrt(energy), section.constant)
    assert np.std(measured) == pytest.approx(expected, rel=0.03)
    # deposits are massless and keep their direction
    p = np.sqrt(reco.px**2 + reco.py**2 + reco.pz**2)
    np.testing.assert_allclose(p, reco.energy, rtol=1e-9)


def test_energy_threshold_and_acceptance(cms):
    soft = apply_detector(_particles(22, 0, 0.2, 0.0, n=1000), cms, np.random.default_rng(3))
    assert len(soft) < 5  # 0.2 GeV photons sit below the 0.5 GeV ECAL threshold
    forward = apply_detector(_particles(22, 0, 10.0, 3.5, n=1000), cms, np.random.default_rng(3))
    assert len(forward) == 0  # beyond the ECAL's |eta| < 3
    pions_fwd = apply_detector(_particles(211, 1, 10.0, 2.7, n=1000), cms, np.random.default_rng(3))
    assert len(pions_fwd) > 990 and np.all(pions_fwd.charge == 0)  # outside the tracker: HCAL


def test_neutrinos_dropped_and_untracked_muons_lost(cms):
    assert (
        len(apply_detector(_particles(14, 0, 50.0, 0.0, n=100), cms, np.random.default_rng(4))) == 0
    )
    reco = apply_detector(_particles(13, -1, 50.0, 0.0, n=N), cms, np.random.default_rng(4))
    assert _binomial_ok(len(reco), N, cms.tracking.efficiency)
    assert _binomial_ok(
        int(reco.isMuon.sum()), N, cms.tracking.efficiency * cms.particle_id.muon_efficiency
    )
    assert np.all(reco.isMuon + reco.isChargedHadron == 1)


def test_electron_identification_and_untracked_electrons(cms):
    reco = apply_detector(_particles(11, -1, 50.0, 0.0, n=N), cms, np.random.default_rng(5))
    eff = cms.tracking.efficiency
    assert _binomial_ok(int(reco.isElectron.sum()), N, eff * cms.particle_id.electron_efficiency)
    assert _binomial_ok(int(reco.isPhoton.sum()), N, 1 - eff)  # failed tracking: ECAL deposit
    assert np.all(reco.charge[reco.isPhoton == 1] == 0)
    assert np.all(reco.charge[reco.isElectron == 1] == -1)
    flags = (
        reco.isChargedHadron + reco.isNeutralHadron + reco.isPhoton + reco.isElectron + reco.isMuon
    )
    assert np.all(flags == 1)


def test_impact_parameters_by_hand():
    # vertex (1, 0, 2) mm, momentum along +y and +z: the line x = 1, y = t, z = 2 + t
    # passes the beam line at distance 1 mm at t = 0, z = 2 mm; positive sign: x*py > 0.
    d0, dz = impact_parameters(*(np.array([v]) for v in (1.0, 0.0, 2.0, 0.0, 10.0, 10.0)))
    assert d0[0] == pytest.approx(1.0) and dz[0] == pytest.approx(2.0)
    # vertex (1, 1, 0), p = (1, 0, 1): line (1 + t, 1, t) is closest at t = -1, point (0, 1, -1)
    d0, dz = impact_parameters(*(np.array([v]) for v in (1.0, 1.0, 0.0, 1.0, 0.0, 1.0)))
    assert d0[0] == pytest.approx(-1.0) and dz[0] == pytest.approx(-1.0)
    # a track from the origin has no impact parameter
    d0, dz = impact_parameters(*(np.array([v]) for v in (0.0, 0.0, 0.0, 3.0, 4.0, 5.0)))
    assert d0[0] == 0 and dz[0] == 0


def test_impact_parameter_smearing(cms):
    pt = 2.0
    vertex = (0.3, 0.0, 1.0)  # mm
    gen = _particles(211, 1, pt, 0.0, vertex=vertex, mass=0.1396)
    reco = apply_detector(gen, cms, np.random.default_rng(6))
    tracks = reco.charge != 0
    phi = np.arctan2(reco.py[tracks], reco.px[tracks])
    true_d0 = vertex[0] * np.sin(phi)  # (x*py - y*px)/pt with y = 0
    true_dz = np.full(phi.shape, vertex[2])  # pz = 0 at eta = 0, so dz is the vertex z
    ip = cms.impact_parameter
    pt_reco = np.hypot(reco.px[tracks], reco.py[tracks])
    sigma_d0 = np.hypot(ip.d0_const, ip.d0_slope / pt_reco)
    sigma_dz = np.hypot(ip.dz_const, ip.dz_slope / pt_reco)
    np.testing.assert_allclose(reco.d0err[tracks], sigma_d0, rtol=1e-6)
    np.testing.assert_allclose(reco.dzerr[tracks], sigma_dz, rtol=1e-6)
    pull_d0 = (reco.d0val[tracks] - true_d0) / sigma_d0
    pull_dz = (reco.dzval[tracks] - true_dz) / sigma_dz
    assert np.std(pull_d0) == pytest.approx(1.0, rel=0.03)
    assert np.std(pull_dz) == pytest.approx(1.0, rel=0.03)
    assert abs(np.mean(pull_d0)) < 0.05


def test_far_vertex_not_tracked(cms):
    gen = _particles(
        211, 1, 5.0, 0.0, n=200, vertex=(cms.tracking.max_vertex_radius + 10.0, 0.0, 0.0)
    )
    reco = apply_detector(gen, cms, np.random.default_rng(7))
    assert np.all(reco.charge == 0)


def test_same_generator_state_same_output(cms):
    gen = _particles(211, 1, 20.0, 0.5, n=500)
    a = apply_detector(gen, cms, np.random.default_rng(8))
    b = apply_detector(gen, cms, np.random.default_rng(8))
    c = apply_detector(gen, cms, np.random.default_rng(9))
    np.testing.assert_array_equal(a.px, b.px)
    assert not np.array_equal(a.px, c.px)
