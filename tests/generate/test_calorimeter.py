"""Delphes-style calorimeter against numbers computed by hand from the JetClass card.

The card text below is ``ECal``/``HCal`` of jet-universe/jetclass_generation
``delphes_card.tcl`` (Delphes 3.5 SimpleCalorimeter) in CalorimeterSpec.from_config form.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources

import numpy as np
import pytest

from jetscale.generate.calorimeter import (
    CaloInput,
    CalorimeterSpec,
    EnergyFractions,
    Resolution,
    Segmentation,
    simulate,
)

PI = math.pi


@pytest.fixture(scope="module")
def card():
    # The shipped cms card holds the JetClass calorimeters (one home for the numbers).
    return tomllib.loads((resources.files("jetscale.generate") / "cards" / "cms.toml").read_text())


@pytest.fixture(scope="module")
def ecal(card):
    return CalorimeterSpec.from_config(card["ecal"], "ecal")


@pytest.fixture(scope="module")
def hcal(card):
    return CalorimeterSpec.from_config(card["hcal"], "hcal")


def _input(event=(), energy=(), eta=(), phi=(), pid=()):
    return CaloInput(
        event=np.asarray(event, dtype=np.int64),
        energy=np.asarray(energy, dtype=np.float64),
        eta=np.asarray(eta, dtype=np.float64),
        phi=np.asarray(phi, dtype=np.float64),
        abs_pid=np.asarray(pid, dtype=np.int64),
    )


NONE = _input()


def _repeat(n_events, energy, eta, phi, pid):
    """The same particles in each of ``n_events`` events."""
    k = len(energy)
    return _input(
        np.repeat(np.arange(n_events), k),
        np.tile(energy, n_events),
        np.tile(eta, n_events),
        np.tile(phi, n_events),
        np.tile(pid, n_events),
    )


def _with(spec, **changes):
    fields = {name: getattr(spec, name) for name in spec.__dataclass_fields__}
    return CalorimeterSpec(**(fields | changes))


# Hand formulas of the JetClass card (GeV).
def sigma_ecal_barrel(eta, e):
    return (1 + 0.64 * eta**2) * np.sqrt(e**2 * 0.008**2 + e * 0.11**2 + 0.40**2)


def sigma_hcal_central(e):
    return np.sqrt(e**2 * 0.050**2 + e * 1.50**2)


# --- segmentation -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    # rows: (-1, 0] with the 4 phi bins of edge 0; (0, 0.5] with 2; (0.5, 2] with 1.
    return Segmentation.from_blocks(
        [
            {"eta_edges": [-1.0, 0.5], "phi_bins": 2},
            {"eta_edges": [0.0], "phi_bins": 4},
            {"eta_edges": [2.0], "phi_bins": 1},
        ]
    )


def test_small_segmentation_by_hand(small):
    assert small.n_towers == 4 + 2 + 1
    points = [
        (-0.5, 0.1, 2),  # row 1, phi in (0, pi/2] -> third of four
        (0.0, -3.0, 0),  # eta = 0 closes row 1 (bins closed above)
        (-1.0, 0.1, -1),  # the lowest edge is outside
        (0.25, 0.0, 4),  # phi = 0 closes (-pi, 0]
        (0.25, 1e-9, 5),
        (1.0, PI, 6),
        (1.0, -PI, -1),  # phi = -pi equals the lowest phi edge: outside, as in Delphes
        (2.0, 0.0, 6),
        (2.0001, 0.0, -1),
        (float("nan"), 0.0, -1),
        (0.1, float("nan"), -1),
    ]
    eta, phi, expected = (np.array(c) for c in zip(*points, strict=True))
    tower, valid = small.tower_index(eta, phi)
    np.testing.assert_array_equal(tower, expected)
    np.testing.assert_array_equal(valid, expected >= 0)
    lo_eta, hi_eta, lo_phi, hi_phi = small.tower_edges(np.array([2, 4, 6]))
    np.testing.assert_allclose(lo_eta, [-1.0, 0.0, 0.5])
    np.testing.assert_allclose(hi_eta, [0.0, 0.5, 2.0])
    np.testing.assert_allclose(lo_phi, [0.0, -PI, -PI])
    np.testing.assert_allclose(hi_phi, [PI / 2, 0.0, PI])
    assert small.tower_center(np.array([2]))[0][0] == pytest.approx(-0.5)


def test_explicit_arrays_equal_blocks(small):
    arrays = Segmentation.from_arrays(
        [-1.0, 0.0, 0.5, 2.0],
        [np.linspace(-PI, PI, 3), np.linspace(-PI, PI, 5), [-PI, 0, PI], [-PI, PI]],
    )
    assert arrays.n_towers == small.n_towers
    rng = np.random.default_rng(3)
    eta, phi = rng.uniform(-1.5, 2.5, 1000), rng.uniform(-PI, PI, 1000)
    np.testing.assert_array_equal(arrays.tower_index(eta, phi)[0], small.tower_index(eta, phi)[0])


def _edges_at(seg, eta, phi):
    tower, valid = seg.tower_index(np.array([eta]), np.array([phi]))
    if not valid[0]:
        return None
    return tuple(float(x[0]) for x in seg.tower_edges(tower))


def test_jetclass_ecal_towers(ecal):
    seg = ecal.segmentation
    # every edge but the lowest (-5) closes one row: the 172 barrel and 2 x 84 endcap edges
    # carry 360 phi bins, the 22 HF edges above -5 carry 36.
    assert seg.n_towers == (172 + 168) * 360 + 22 * 36
    one_degree = PI / 180
    assert _edges_at(seg, 0.01, 0.001) == pytest.approx((0.0, 0.0174, 0.0, one_degree))
    assert _edges_at(seg, 0.0174, 0.001) == pytest.approx((0.0, 0.0174, 0.0, one_degree))
    assert _edges_at(seg, 0.0, 0.001) == pytest.approx((-0.0174, 0.0, 0.0, one_degree))
    assert _edges_at(seg, 0.3, PI) == pytest.approx((0.2958, 0.3132, PI - one_degree, PI))
    assert _edges_at(seg, 0.3, -PI) is None
    assert _edges_at(seg, 0.3, -PI + 1e-12) == pytest.approx(
        (0.2958, 0.3132, -PI, -PI + one_degree)
    )
    assert _edges_at(seg, 1.5, 0.5) == pytest.approx(
        (1.4964, 1.5138, 28 * one_degree, 29 * one_degree)
    )
    # the last endcap row keeps 1 degree; the HF row above it has 10 degrees
    assert _edges_at(seg, -2.95, 0.05)[:3] == pytest.approx((-2.958, -2.9406, 2 * one_degree))
    assert _edges_at(seg, 2.95, 0.05)[:3] == pytest.approx((2.9406, 2.958, 2 * one_degree))
    assert _edges_at(seg, 3.0, 0.05) == pytest.approx((2.958, 3.125, 0.0, PI / 18))
    assert _edges_at(seg, -3.0, 0.05) == pytest.approx((-3.125, -2.958, 0.0, PI / 18))
    assert _edges_at(seg, 5.0, 0.05) == pytest.approx((4.7, 5.0, 0.0, PI / 18))
    assert _edges_at(seg, -5.0, 0.05) is None
    assert _edges_at(seg, 5.01, 0.05) is None
    # the card's Tcl arithmetic, to the bit
    assert 86 * 0.0174 in seg.eta_edges
    assert -2.958 + 84 * 0.0174 in seg.eta_edges
    assert 1.4964 + 84 * 0.0174 in seg.eta_edges


def test_jetclass_hcal_towers(hcal):
    seg = hcal.segmentation
    assert seg.n_towers == 38 * 72 + 38 * 36 + 4 * 18
    five, ten, twenty = PI / 36, PI / 18, PI / 9
    assert _edges_at(seg, 0.01, 0.1) == pytest.approx((0.0, 0.087, five, 2 * five))
    assert _edges_at(seg, 1.6, 0.1) == pytest.approx((1.566, 1.653, five, 2 * five))
    assert _edges_at(seg, -1.6, 0.1) == pytest.approx((-1.653, -1.566, five, 2 * five))
    assert _edges_at(seg, 1.7, 0.1) == pytest.approx((1.653, 1.74, 0.0, ten))
    assert _edges_at(seg, -1.7, 0.1) == pytest.approx((-1.74, -1.653, 0.0, ten))
    assert _edges_at(seg, 4.4, 0.1) == pytest.approx((4.35, 4.525, 0.0, ten))
    assert _edges_at(seg, -4.4, 0.1) == pytest.approx((-4.525, -4.35, 0.0, ten))
    assert _edges_at(seg, 4.6, 0.1) == pytest.approx((4.525, 4.7, 0.0, twenty))
    assert _edges_at(seg, -4.6, 0.1) == pytest.approx((-4.7, -4.525, 0.0, twenty))
    assert _edges_at(seg, 1.7, -PI + 0.01) == pytest.approx((1.653, 1.74, -PI, -PI + ten))


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([{"eta_edges": [0.0, 1.0], "phi_bins": 4}, {"eta_edges": [3.0, 2.0], "phi_bins": 4}],
         r"segmentation block 1: eta edges must increase"),
        ([{"eta_edges": [0.0, 1.0], "phi_bins": 4}, {"eta_edges": [2.0], "phi_bins": 8},
          {"eta_edges": [1.0], "phi_bins": 2}],
         r"eta edge 1\.0 appears twice \(segmentation blocks 0 and 2 overlap\)"),
        ([{"eta_edges": [0.0, 1.0], "phi_bins": 0}], r"block 0: phi_bins must be a positive integer"),
        ([{"eta_edges": [0.0, 1.0], "phi_bins": 2.5}], r"block 0: phi_bins must be a positive integer"),
        ([{"eta_edges": [0.0, 1.0]}], r"block 0: missing phi_bins"),
        ([{"eta_edges": [0.0], "eta_grid": {}, "phi_bins": 1}], r"block 0: give exactly one of"),
        ([{"eta_edges": [0.0, 1.0], "phi_bins": 1, "phi": 3}], r"block 0: unknown key"),
        ([{"eta_grid": {"offset": 0.0, "step": -1.0, "first": 0, "last": 3}, "phi_bins": 1}],
         r"block 0: eta_grid step must be positive"),
        ([{"eta_edges": [0.0], "phi_bins": 1}], r"at least 2 edges"),
        ([], r"no blocks"),
    ],
)  # fmt: skip
def test_invalid_blocks_refused(blocks, message):
    with pytest.raises(ValueError, match=message):
        Segmentation.from_blocks(blocks)


def test_invalid_arrays_refused():
    phi = [-PI, 0.0, PI]
    with pytest.raises(ValueError, match=r"sorted and unique: edge 2 = 0\.5 follows edge 1 = 1\.0"):
        Segmentation.from_arrays([0.0, 1.0, 0.5], [phi, phi, phi])
    with pytest.raises(ValueError, match=r"sorted and unique"):
        Segmentation.from_arrays([0.0, 1.0, 1.0], [phi, phi, phi])
    with pytest.raises(
        ValueError, match=r"every eta edge needs a list of phi edges: 3 eta edges but 2"
    ):
        Segmentation.from_arrays([0.0, 0.5, 1.0], [phi, phi])
    with pytest.raises(ValueError, match=r"phi edges of eta edge 2 \(eta = 1\.0\)"):
        Segmentation.from_arrays([0.0, 0.5, 1.0], [phi, phi, [0.0]])
    with pytest.raises(ValueError, match=r"phi edges of eta edge 1 .* sorted and unique"):
        Segmentation.from_arrays([0.0, 0.5, 1.0], [phi, [0.0, -1.0], phi])


def test_invalid_spec_refused(card):
    ecal = dict(card["ecal"])
    del ecal["energy_min"]
    with pytest.raises(ValueError, match=r"\[ecal\]: missing keys \['energy_min'\]"):
        CalorimeterSpec.from_config(ecal, "ecal")
    with pytest.raises(ValueError, match=r"key '0' is not a positive \|PDG id\|"):
        EnergyFractions.from_config({"default": 1.0, "0": 0.5})
    region = dict(card["ecal"]["resolution"][0])
    with pytest.raises(ValueError, match=r"region 1: need 1\.5 <= abs_eta_min"):
        Resolution.from_config([region, region])
    bad = dict(card["hcal"]) | {"segmentation": [{"eta_edges": [1.0, 0.0], "phi_bins": 3}]}
    with pytest.raises(ValueError, match=r"\[hcal\]: segmentation block 0"):
        CalorimeterSpec.from_config(bad, "hcal")


def test_resolution_matches_card_formulas(ecal, hcal):
    eta = np.array([0.0, 0.7, 1.5, 1.6, 2.0, 2.5, 3.0, 4.9, 5.0, 5.1])
    e = np.full(len(eta), 20.0)
    core = math.sqrt(20**2 * 0.008**2 + 20 * 0.11**2 + 0.40**2)
    expected = [
        core,
        (1 + 0.64 * 0.49) * core,
        (1 + 0.64 * 2.25) * core,  # |eta| <= 1.5 is barrel
        (2.16 + 5.6 * 0.16) * core,
        2.16 * core,
        (2.16 + 5.6 * 0.25) * core,
        math.sqrt(400 * 0.107**2 + 20 * 2.08**2),
        math.sqrt(400 * 0.107**2 + 20 * 2.08**2),
        math.sqrt(400 * 0.107**2 + 20 * 2.08**2),
        0.0,  # outside every region
    ]
    np.testing.assert_allclose(ecal.resolution(eta, e), expected, rtol=1e-12)
    hcal_expected = [math.sqrt(400 * 0.05**2 + 20 * 1.5**2)] * 7 + [
        math.sqrt(400 * 0.13**2 + 20 * 2.7**2)
    ] * 3
    hcal_expected[-1] = 0.0
    np.testing.assert_allclose(hcal.resolution(eta, e), hcal_expected, rtol=1e-12)


# --- towers, fractions ------------------------------------------------------------------

# Three photons in ECal tower (0, 0.0174] x (0, 1 deg], one in (0.4872, 0.5046] x (0, 1 deg].
TOWER_ETA = [0.005, 0.010, 0.015, 0.5]
TOWER_PHI = [0.001, 0.010, 0.017, 0.010]
TOWER_E = [1.0, 2.0, 3.5, 4.0]


def test_tower_sums_without_smearing(ecal):
    spec = _with(ecal, resolution=Resolution(()))  # sigma = 0: E' = E, threshold energy_min
    particles = _input([0, 0, 0, 0], TOWER_E, TOWER_ETA, TOWER_PHI, [22, 22, 22, 22])
    out = simulate(spec, particles, NONE, np.random.default_rng(1))
    np.testing.assert_array_equal(out.tower_energy, [6.5, 4.0])
    np.testing.assert_allclose(out.tower_measured, [6.5, 4.0], rtol=1e-12)
    np.testing.assert_allclose(out.neutral_energy, [6.5, 4.0], rtol=1e-12)
    assert out.neutral_pid == 22
    lo, hi, _, _ = spec.segmentation.tower_edges(out.neutral_tower)
    np.testing.assert_allclose(lo, [0.0, 0.4872], atol=1e-12)
    np.testing.assert_allclose(hi, [0.0174, 0.5046], atol=1e-12)


def test_tower_smearing_is_lognormal_with_card_sigma(ecal):
    spec = _with(ecal, energy_min=0.0, energy_significance_min=0.0)  # nothing zeroed
    n = 4000
    particles = _repeat(n, TOWER_E, TOWER_ETA, TOWER_PHI, [22] * 4)
    out = simulate(spec, particles, NONE, np.random.default_rng(2))
    assert len(out.tower_measured) == 2 * n
    for k, (energy, eta_c) in enumerate([(6.5, 0.0087), (4.0, 0.4959)]):
        measured = out.tower_measured[k::2]
        sigma = sigma_ecal_barrel(eta_c, energy)
        assert abs(measured.mean() - energy) < 4 * sigma / math.sqrt(n)
        assert measured.std() == pytest.approx(sigma, rel=0.1)
        b = math.sqrt(math.log(1 + sigma**2 / energy**2))  # log E' is Gaussian of width b
        assert np.log(measured).std() == pytest.approx(b, rel=0.05)
        assert measured.min() > 0


def test_fractions_k0s_split_muon_and_neutrino_invisible(ecal, hcal):
    particles = _input(
        [0, 0, 0], [100.0, 50.0, 30.0], [0.3, 0.3, -0.3], [0.2, 1.0, 1.0], [310, 13, 14]
    )
    e_out = simulate(ecal, particles, NONE, np.random.default_rng(0))
    h_out = simulate(hcal, particles, NONE, np.random.default_rng(0))
    assert e_out.tower_energy.tolist() == pytest.approx([30.0])
    assert h_out.tower_energy.tolist() == pytest.approx([70.0])
    np.testing.assert_array_equal(EnergyFractions.from_config({"default": 1.0, "13": 0.0})(
        np.array([13, -13, 211, 0])), [0.0, 0.0, 1.0, 1.0])  # fmt: skip
    # a muon track passes both calorimeters unchanged and makes no tower
    muon = _input([0], [50.0], [0.3], [1.0], [13])
    for spec in (ecal, hcal):
        out = simulate(spec, particles, muon, np.random.default_rng(0))
        assert out.track_scale.tolist() == [1.0]
        assert out.n_tracks_outside == 0


# --- energy flow: neutral excess and track rescaling ---------------------------------


def test_track_alone_in_tower_carries_the_calorimeter_energy(hcal):
    n = 2000
    pion = _repeat(n, [50.0], [0.2], [0.3], [211])
    out = simulate(hcal, pion, pion, np.random.default_rng(4))
    measured, scale = out.tower_measured, out.track_scale
    emitted = np.isin(np.arange(n), out.neutral_event)
    # no significant excess: the track takes E' (best = E' with zero track resolution)
    np.testing.assert_allclose(scale[~emitted], measured[~emitted] / 50.0, rtol=1e-12)
    # a significant excess: one neutral of E' - 50, the track unchanged
    assert np.all(scale[emitted] == 1.0)
    excess = measured[emitted] - 50.0
    np.testing.assert_allclose(out.neutral_energy, excess, rtol=1e-12)
    assert np.all(excess > 1.0) and np.all(excess > sigma_hcal_central(measured[emitted]))
    # and the excess test is the card's: E' - 50 > max(1, sigma(E'))
    expect = (measured - 50.0 > 1.0) & (measured - 50.0 > sigma_hcal_central(measured))
    np.testing.assert_array_equal(emitted, expect)
    assert 0.05 < emitted.mean() < 0.4  # P(E' > 50 + sigma) for sigma/E = 18%
    assert np.all(out.neutral_event[1:] > out.neutral_event[:-1])  # sorted by event


def test_big_neutral_excess_leaves_the_track_unchanged(hcal):
    n = 200
    event = _repeat(n, [10.0, 200.0], [0.2, 0.21], [0.3, 0.31], [211, 130])
    track = _repeat(n, [10.0], [0.2], [0.3], [211])
    out = simulate(hcal, event, track, np.random.default_rng(5))
    np.testing.assert_array_equal(out.track_scale, np.ones(n))
    np.testing.assert_array_equal(out.neutral_event, np.arange(n))
    np.testing.assert_allclose(out.neutral_energy, out.tower_measured - 10.0, rtol=1e-12)
    sigma = sigma_hcal_central(210.0)
    assert abs(out.tower_measured.mean() - 210.0) < 4 * sigma / math.sqrt(n)
    assert out.neutral_pid == 0


def test_tower_below_threshold_zeroes_its_track(ecal):
    n = 1000
    electron = _repeat(n, [0.3], [0.1], [0.3], [11])
    out = simulate(ecal, electron, electron, np.random.default_rng(6))
    zeroed = out.tower_measured == 0
    assert zeroed.mean() > 0.8  # E' must exceed max(0.5, 2 sigma(E')) ~ 0.83 GeV
    assert np.all(out.track_scale[zeroed] == 0.0)
    assert not np.isin(np.flatnonzero(zeroed), out.neutral_event).any()
    kept = out.tower_measured[~zeroed]
    assert np.all((kept >= 0.5) & (kept >= 2 * sigma_ecal_barrel(0.0957, kept)))
    # a track whose tower has no deposit at all is dropped too
    lone = simulate(ecal, NONE, _input([0], [5.0], [0.1], [0.3], [11]), np.random.default_rng(0))
    assert lone.track_scale.tolist() == [0.0]
    assert len(lone.neutral_energy) == 0


def test_tracks_outside_every_tower_are_dropped(ecal):
    tracks = _input([0, 0, 0, 0], [5.0] * 4, [6.0, 0.1, -5.0, 0.1], [0.1, -PI, 0.1, 0.1], [211] * 4)
    out = simulate(ecal, NONE, tracks, np.random.default_rng(0))
    assert out.track_scale.tolist() == [0.0, 0.0, 0.0, 1.0]  # hadron: ECal fraction 0, passes
    assert out.n_tracks_outside == 3


def test_neutral_direction_inside_its_tower(hcal):
    n = 500
    event = _repeat(n, [100.0], [1.7], [3.1], [2112])
    out = simulate(hcal, event, NONE, np.random.default_rng(7))
    lo_eta, hi_eta, lo_phi, hi_phi = hcal.segmentation.tower_edges(out.neutral_tower)
    assert np.all((out.neutral_eta >= lo_eta) & (out.neutral_eta <= hi_eta))
    assert np.all((out.neutral_phi >= lo_phi) & (out.neutral_phi <= hi_phi))
    assert np.all(lo_eta == 1.653) and np.all(hi_phi == pytest.approx(PI))
    assert out.neutral_eta.std() == pytest.approx(0.087 / math.sqrt(12), rel=0.15)  # uniform
    centred = simulate(_with(hcal, smear_tower_center=False), event, NONE, np.random.default_rng(7))
    np.testing.assert_allclose(centred.neutral_eta, 0.5 * (1.653 + 1.74))
    np.testing.assert_allclose(centred.neutral_phi, PI - PI / 36)


def _jet_events(n_events, seed):
    """Events of ~1000 particles: two 500 GeV jets (100 particles each) and soft particles."""
    rng = np.random.default_rng(seed)
    rows = []
    for ev in range(n_events):
        for axis_eta, axis_phi in ((0.4, 0.5), (-1.2, 0.5 - PI + 0.2)):
            frac = rng.exponential(1.0, 100)
            rows.append((ev, 500 * frac / frac.sum(), axis_eta + rng.normal(0, 0.1, 100),
                         axis_phi + rng.normal(0, 0.1, 100)))  # fmt: skip
        rows.append(
            (ev, rng.exponential(0.8, 800), rng.uniform(-2.5, 2.5, 800), rng.uniform(-PI, PI, 800))
        )
    event = np.concatenate([np.full(len(r[1]), r[0]) for r in rows])
    energy, eta, phi = (np.concatenate([r[i] for r in rows]) for i in (1, 2, 3))
    phi = (phi + PI) % (2 * PI) - PI
    species = [211, 22, 130, 2112, 11, 13, 310, 321, 3122, 12]
    pid = rng.choice(
        species, len(energy), p=[0.5, 0.3, 0.05, 0.04, 0.02, 0.01, 0.03, 0.03, 0.01, 0.01]
    )
    return _input(event, energy, eta, phi, pid)


def _eflow(ecal, hcal, particles, seed):
    """ECal then HCal as in the JetClass card; massless tracks (E scales like pT)."""
    charged = np.isin(particles.abs_pid, [211, 11, 13, 321])
    tracks = _input(
        *(
            np.asarray(getattr(particles, f))[charged]
            for f in ("event", "energy", "eta", "phi", "abs_pid")
        )
    )
    rng = np.random.default_rng(seed)
    e_out = simulate(ecal, particles, tracks, rng)
    tracks_e = _input(
        tracks.event, tracks.energy * e_out.track_scale, tracks.eta, tracks.phi, tracks.abs_pid
    )
    h_out = simulate(hcal, particles, tracks_e, rng)
    visible = (
        (tracks_e.energy * h_out.track_scale).sum()
        + e_out.neutral_energy.sum()
        + h_out.neutral_energy.sum()
    )
    muons = tracks.energy[tracks.abs_pid == 13].sum()
    return visible, muons, e_out, h_out


def test_eflow_conserves_deposited_energy_within_resolution(ecal, hcal):
    particles = _jet_events(3, seed=8)
    fraction = {22: (1, 0), 11: (1, 0), 13: (0, 0), 12: (0, 0), 310: (0.3, 0.7), 3122: (0.3, 0.7)}
    f_e = np.array([fraction.get(p, (0, 1))[0] for p in particles.abs_pid])
    f_h = np.array([fraction.get(p, (0, 1))[1] for p in particles.abs_pid])
    deposited = (particles.energy * (f_e + f_h)).sum()
    assert deposited > 0.8 * particles.energy.sum()

    no_thresholds = {"energy_min": 0.0, "energy_significance_min": 0.0}
    visible, muons, e_out, h_out = _eflow(
        _with(ecal, **no_thresholds), _with(hcal, **no_thresholds), particles, 9
    )
    sigma2 = 0.0
    for spec, out in ((ecal, e_out), (hcal, h_out)):
        eta_c, _ = spec.segmentation.tower_center(out.tower_id)
        sigma2 += (spec.resolution(eta_c, out.tower_energy) ** 2).sum()
    # every tower's E' reaches the energy flow exactly once (tracks rescaled or a neutral)
    towers = e_out.tower_measured.sum() + h_out.tower_measured.sum()
    assert visible - muons == pytest.approx(towers, rel=1e-9)
    assert abs(visible - muons - deposited) < 5 * math.sqrt(sigma2)
    assert math.sqrt(sigma2) < 0.05 * deposited

    # the card's thresholds drop soft towers (and their tracks) but the bookkeeping holds
    visible, muons, e_out, h_out = _eflow(ecal, hcal, particles, 9)
    towers = e_out.tower_measured.sum() + h_out.tower_measured.sum()
    assert visible - muons == pytest.approx(towers, rel=1e-9)
    assert 0.75 * deposited < visible - muons < deposited + 5 * math.sqrt(sigma2)


def test_deterministic(ecal, hcal):
    particles = _jet_events(2, seed=10)
    first = _eflow(ecal, hcal, particles, 11)
    second = _eflow(ecal, hcal, particles, 11)
    other = _eflow(ecal, hcal, particles, 12)
    assert first[0] == second[0]
    for a, b in zip(first[2:], second[2:], strict=True):
        for name in a.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert first[0] != other[0]
    assert not np.array_equal(first[3].neutral_eta, other[3].neutral_eta)


def test_empty_input(ecal):
    out = simulate(ecal, NONE, NONE, np.random.default_rng(0))
    assert len(out.track_scale) == 0 and len(out.neutral_energy) == 0 and out.n_tracks_outside == 0
