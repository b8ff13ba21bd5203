"""The Delphes chain of the cms card end to end, on hand-made particles.

Expected values come from the card's numbers and the Delphes formulas written out
here, not from the modules under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from jetscale.generate.cards import DelphesCard, load_card
from jetscale.generate.detector import apply_detector
from jetscale.generate.particles import GenParticles, RecoParticles

FLAGS = ("isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon")


@pytest.fixture(scope="module")
def cms() -> DelphesCard:
    card = load_card("cms")
    assert isinstance(card, DelphesCard)
    return card


def one_per_event(
    n: int,
    pdgid: int,
    charge: float,
    pt: float,
    eta: float,
    mass: float = 0.0,
    vertex: tuple[float, float, float] = (0.0, 0.0, 0.0),
    phi: float = 0.3,
) -> GenParticles:
    """``n`` events holding one particle each, all alike."""
    px, py = pt * math.cos(phi), pt * math.sin(phi)
    pz = pt * math.sinh(eta)
    energy = math.sqrt(px**2 + py**2 + pz**2 + mass**2)
    full = lambda value: np.full(n, float(value))  # noqa: E731
    return GenParticles(
        event=np.arange(n, dtype=np.int64),
        px=full(px),
        py=full(py),
        pz=full(pz),
        energy=full(energy),
        pdgid=np.full(n, pdgid, dtype=np.int64),
        charge=full(charge),
        vx=full(vertex[0]),
        vy=full(vertex[1]),
        vz=full(vertex[2]),
    )


def ecal_sigma(energy: np.ndarray, eta: float) -> np.ndarray:
    """The card's barrel ECal resolution (GeV), written out."""
    return (1 + 0.64 * eta**2) * np.sqrt(energy**2 * 0.008**2 + energy * 0.11**2 + 0.40**2)


def hcal_sigma(energy: np.ndarray) -> np.ndarray:
    """The card's HCal resolution for |eta| <= 3 (GeV), written out."""
    return np.sqrt(energy**2 * 0.050**2 + energy * 1.50**2)


def test_one_flag_per_particle_and_determinism(cms: DelphesCard) -> None:
    rng = np.random.default_rng(1)
    n = 3000
    gen = GenParticles(
        event=np.sort(rng.integers(0, 30, n)),
        px=rng.normal(0, 5, n),
        py=rng.normal(0, 5, n),
        pz=rng.normal(0, 20, n),
        energy=np.zeros(n),
        pdgid=rng.choice([211, -211, 22, 130, 11, -13, 2112, 12], n),
        charge=np.zeros(n),
        vx=np.zeros(n),
        vy=np.zeros(n),
        vz=np.zeros(n),
    )
    charge = np.select(
        [gen.pdgid == 211, gen.pdgid == -211, gen.pdgid == 11, gen.pdgid == -13],
        [1.0, -1.0, -1.0, 1.0],
        0.0,
    )
    mass = np.where(np.abs(gen.pdgid) == 211, 0.1396, 0.0)
    energy = np.sqrt(gen.px**2 + gen.py**2 + gen.pz**2 + mass**2)
    gen = GenParticles(**{**gen.__dict__, "charge": charge, "energy": energy})
    first = apply_detector(gen, cms, np.random.default_rng(7))
    again = apply_detector(gen, cms, np.random.default_rng(7))
    other = apply_detector(gen, cms, np.random.default_rng(8))
    for name in RecoParticles.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name), err_msg=name)
    assert not np.array_equal(first.px, other.px) or len(first) != len(other)
    flags = np.stack([getattr(first, f) for f in FLAGS])
    assert (flags.sum(axis=0) == 1).all()
    assert (np.diff(first.event) >= 0).all()  # event order, for the jet finder
    # Neutrals carry no charge and no impact parameters; tracks have errors.
    neutral = (first.isPhoton == 1) | (first.isNeutralHadron == 1)
    assert (first.charge[neutral] == 0).all() and (first.d0err[neutral] == 0).all()
    assert (first.charge[~neutral] != 0).all()


def test_a_photon_is_one_smeared_massless_photon_inside_its_crystal(cms: DelphesCard) -> None:
    n, energy, eta = 4000, 50.0, 0.3
    gen = one_per_event(n, 22, 0.0, energy / math.cosh(eta), eta)
    reco = apply_detector(gen, cms, np.random.default_rng(3))
    assert len(reco) == n and (reco.isPhoton == 1).all()  # 50 GeV is far above threshold
    measured = reco.energy
    sigma = float(ecal_sigma(np.array(energy), 0.3))
    assert abs(measured.mean() - energy) < 5 * sigma / math.sqrt(n)  # log-normal keeps the mean
    assert measured.std() == pytest.approx(sigma, rel=0.08)
    np.testing.assert_allclose(reco.px**2 + reco.py**2 + reco.pz**2, measured**2, rtol=1e-9)
    # Direction: uniform inside the crystal (k*0.0174, (k+1)*0.0174] x one degree.
    pt = np.hypot(reco.px, reco.py)
    reco_eta = np.arcsinh(reco.pz / pt)
    row = math.ceil(eta / 0.0174)
    assert ((reco_eta > (row - 1) * 0.0174 - 1e-9) & (reco_eta <= row * 0.0174 + 1e-9)).all()
    degree = math.pi / 180
    column = math.ceil(0.3 / degree)
    phi = np.arctan2(reco.py, reco.px)
    assert ((phi > (column - 1) * degree - 1e-9) & (phi <= column * degree + 1e-9)).all()


def test_a_lone_pion_track_takes_the_hcal_measurement(cms: DelphesCard) -> None:
    """Alone in its tower, a tracked pion either leaves a neutral excess (the track
    untouched) or is rescaled to the smeared HCal energy (track resolution 0)."""
    n, pt, eta, mass = 6000, 20.0, 0.2, 0.13957
    gen = one_per_event(n, 211, 1.0, pt, eta, mass=mass)
    reco = apply_detector(gen, cms, np.random.default_rng(5))
    track = reco.isChargedHadron == 1
    tracked_events = np.unique(reco.event[track])
    # Tracking efficiency 0.95 above 1 GeV in the barrel.
    assert abs(len(tracked_events) / n - 0.95) < 5 * math.sqrt(0.95 * 0.05 / n)
    true_energy = math.sqrt((pt * math.cosh(eta)) ** 2 + mass**2)
    with_neutral = np.isin(reco.event, reco.event[reco.isNeutralHadron == 1])
    rescaled = track & ~with_neutral
    untouched = track & with_neutral
    np.testing.assert_allclose(reco.energy[untouched], true_energy, rtol=1e-9)
    assert rescaled.sum() > 0.5 * n
    # The rescaled tracks carry E' (log-normal around the true energy, HCal sigma).
    sigma = float(hcal_sigma(np.array(true_energy)))
    spread = reco.energy[rescaled].std()
    assert 0.6 * sigma < spread < 1.1 * sigma  # truncated above by the neutral cut
    # Every emitted neutral hadron passed the excess test of the card: > max(1, sigma(E')).
    hadron = reco.isNeutralHadron == 1
    e_prime = reco.energy[hadron] + true_energy
    assert (reco.energy[hadron] > np.maximum(1.0, hcal_sigma(e_prime))).all()


def test_muons_keep_their_momentum_and_displaced_tracks_get_helix_impact_parameters(
    cms: DelphesCard,
) -> None:
    n = 2000
    muons = apply_detector(
        one_per_event(n, 13, -1.0, 30.0, 0.5, mass=0.10566), cms, np.random.default_rng(2)
    )
    assert (muons.isMuon == 1).all() and len(muons) / n > 0.97  # efficiency 0.99
    np.testing.assert_allclose(np.hypot(muons.px, muons.py), 30.0, rtol=1e-9)  # no calo rescaling
    # A 30 GeV muon from (0, 2, 0) mm flying along x at phi = 0: the helix d0, by hand.
    vertex = (0.0, 2.0, 0.0)
    displaced = apply_detector(
        one_per_event(n, 13, -1.0, 30.0, 0.05, mass=0.10566, vertex=vertex, phi=0.0),
        cms,
        np.random.default_rng(4),
    )
    r = 30.0 / (0.299792458 * -1.0 * 3.8) * 1000.0  # signed radius, mm
    xc, yc = vertex[0] + r * math.sin(0.0), vertex[1] - r * math.cos(0.0)
    rc = math.hypot(xc, yc)
    expected = math.copysign(1.0, -1.0 * 3.8) * (rc - abs(r))
    # pT = 30, |eta| = 0.05: the card's first |eta| bin, pT bin 25 (27.16, 33.18]: 0.0130 mm.
    # (|eta| = 0 exactly is outside Delphes' (0, 0.9] bin: errors 0, as in Delphes.)
    assert displaced.d0err == pytest.approx(np.full(len(displaced), 0.0130))
    pull = (displaced.d0val - expected) / displaced.d0err
    assert abs(pull.mean()) < 5 / math.sqrt(len(pull)) and pull.std() == pytest.approx(1.0, rel=0.1)
    assert abs(abs(expected) - 2.0) < 1e-3  # nearly the straight-line value at 30 GeV


def test_particles_born_outside_the_tracker_volume_are_gone(cms: DelphesCard) -> None:
    outside = one_per_event(100, 22, 0.0, 20.0, 0.1, vertex=(1400.0, 0.0, 0.0))
    assert len(apply_detector(outside, cms, np.random.default_rng(1))) == 0
    neutrinos = one_per_event(100, 14, 0.0, 20.0, 0.1)
    assert len(apply_detector(neutrinos, cms, np.random.default_rng(1))) == 0


def test_neutral_flags_follow_the_cards_neutral_pid(cms: DelphesCard) -> None:
    import dataclasses

    gen = one_per_event(200, 22, 0.0, 50.0, 0.3)
    swapped = dataclasses.replace(cms, ecal=dataclasses.replace(cms.ecal, neutral_pid=0))
    reco = apply_detector(gen, swapped, np.random.default_rng(3))
    assert len(reco) == 200 and (reco.isNeutralHadron == 1).all() and (reco.isPhoton == 0).all()


def test_a_track_outside_every_ecal_tower_is_not_passed_to_the_hcal(cms: DelphesCard) -> None:
    """Delphes' HCal sees only the ECal's output tracks. With an ECal covering the barrel
    only and an HCal without smearing, a tracked proton at eta 2 is gone as a track and
    its HCal tower (its own deposit, no track energy) yields one neutral hadron of
    exactly its energy; passing the track on would have taken its mass off."""
    import dataclasses

    from jetscale.generate.calorimeter import Resolution, Segmentation

    barrel = Segmentation.from_blocks([{"eta_edges": [-1.5, 0.0, 1.5], "phi_bins": 36}])
    card = dataclasses.replace(
        cms,
        ecal=dataclasses.replace(cms.ecal, segmentation=barrel),
        hcal=dataclasses.replace(cms.hcal, resolution=Resolution(())),
    )
    n, pt, eta, mass = 500, 20.0, 2.0, 0.93827
    reco = apply_detector(
        one_per_event(n, 2212, 1.0, pt, eta, mass=mass), card, np.random.default_rng(9)
    )
    assert (reco.isChargedHadron == 0).all()
    assert len(reco) == n and (reco.isNeutralHadron == 1).all()
    true_energy = math.sqrt((pt * math.cosh(eta)) ** 2 + mass**2)
    np.testing.assert_allclose(reco.energy, true_energy, rtol=1e-12)
