"""Propagation, tracking efficiency and impact-parameter tables against independent references.

The helix reference is a step-by-step Runge-Kutta integration of the equation of
motion in the field; closest approaches are found by stepping along that trajectory.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from jetscale.generate.tracker import (
    BinnedTable,
    ImpactParameterTables,
    Solenoid,
    TrackingEfficiency,
    helix_radius,
    impact_parameter_resolution,
    lookup,
    propagate,
    smear_impact_parameters,
    tracking_efficiency,
)

RADIUS, HALF_LENGTH, BZ = 1290.0, 3000.0, 3.8  # JetClass card: mm, mm, T
PION_MASS = 0.13957


def _propagate(pt, eta, phi, charge, vertex=(0.0, 0.0, 0.0), mass=PION_MASS, bz=BZ):
    pt, eta, phi, charge = (
        np.atleast_1d(np.asarray(a, dtype=float)) for a in (pt, eta, phi, charge)
    )
    pt, eta, phi, charge = np.broadcast_arrays(pt, eta, phi, charge)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    vx, vy, vz = (np.full(pt.shape, float(c)) for c in vertex)
    return propagate(
        px, py, pz, energy, charge, vx, vy, vz, radius=RADIUS, half_length=HALF_LENGTH, bz=bz
    )


# --- reference: Runge-Kutta integration of du/ds = (0.2998e-3 q / p) u x B ---------------


def _rk4_step(state, h, k):
    """One RK4 step of length h (mm) for state (x, y, z, ux, uy, uz); k = 0.2998e-3 q Bz / p."""

    def derivative(s):
        return (s[3], s[4], s[5], k * s[4], -k * s[3], 0.0)

    k1 = derivative(state)
    k2 = derivative([s + 0.5 * h * d for s, d in zip(state, k1, strict=True)])
    k3 = derivative([s + 0.5 * h * d for s, d in zip(state, k2, strict=True)])
    k4 = derivative([s + h * d for s, d in zip(state, k3, strict=True)])
    return [
        s + h / 6.0 * (a + 2 * b + 2 * c + d)
        for s, a, b, c, d in zip(state, k1, k2, k3, k4, strict=True)
    ]


def _start(pt, eta, phi, charge, vertex, bz):
    p = pt * math.cosh(eta)
    direction = [pt * math.cos(phi) / p, pt * math.sin(phi) / p, pt * math.sinh(eta) / p]
    return [*map(float, vertex), *direction], 0.299792458e-3 * charge * bz / p


def _bisect_step(state, h, k, crossed):
    """The step length in (0, h] at which ``crossed`` first becomes true, refined by bisection."""
    low, high = 0.0, h
    for _ in range(60):
        mid = 0.5 * (low + high)
        if crossed(_rk4_step(state, mid, k)):
            high = mid
        else:
            low = mid
    return _rk4_step(state, high, k)


def _integrated_exit(pt, eta, phi, charge, vertex=(0, 0, 0), bz=BZ, step=1.0):
    """Point where the integrated trajectory first leaves the cylinder, mm."""
    state, k = _start(pt, eta, phi, charge, vertex, bz)

    def outside(s):
        return math.hypot(s[0], s[1]) > RADIUS or abs(s[2]) > HALF_LENGTH

    for _ in range(100_000):
        nxt = _rk4_step(state, step, k)
        if outside(nxt):
            return _bisect_step(state, step, k, outside)[:3]
        state = nxt
    raise AssertionError("the reference trajectory never left the cylinder")


def _integrated_closest_approach(pt, eta, phi, charge, vertex, bz=BZ, step=0.5):
    """(d0, dz, transverse direction) at the perigee: the minimum of the distance to the
    beam line reached by the shortest path, forward or backward, found by stepping."""
    state, k = _start(pt, eta, phi, charge, vertex, bz)
    half_turn = math.pi * pt / (0.299792458e-3 * abs(charge * bz)) * math.cosh(eta)
    found = []  # (path length, state) of the minimum in each direction
    for direction in (1.0, -1.0):
        s = list(state)
        for n in range(int(half_turn / step) + 2):
            nxt = _rk4_step(s, direction * step, k)
            radial = nxt[0] * nxt[3] + nxt[1] * nxt[4]  # d(rho^2)/ds / 2 going forward
            if direction * radial >= 0 and direction * (s[0] * s[3] + s[1] * s[4]) < 0:
                point = _bisect_step(
                    s,
                    direction * step,
                    k,
                    lambda q, d=direction: d * (q[0] * q[3] + q[1] * q[4]) >= 0,
                )
                found.append((n * step, point))
                break
            s = nxt
    assert found
    best = min(found, key=lambda item: item[0])[1]
    x, y, z, ux, uy, _ = best
    d0 = (x * uy - y * ux) / math.hypot(ux, uy)  # Delphes: (xd py - yd px) / pT at the perigee
    return d0, z, (ux, uy)


HELIX_CASES = [
    # pT GeV, eta, phi, charge, vertex mm, Bz T
    (0.5, 1.0, 0.3, +1, (0, 0, 0), BZ),  # looper: 2r = 877 mm < 1290 mm, ends on the endcap
    (0.5, 0.3, -2.0, -1, (0, 0, 0), BZ),  # looper, 3.6 turns before the endcap
    (2.0, -0.4, 2.5, +1, (30, -20, 50), BZ),  # displaced, to the barrel
    (1.2, 1.8, -2.0, -1, (5, 5, -100), BZ),  # forward, to the endcap
    (20.0, 0.1, 1.0, +1, (-100, 300, 0), -2.0),  # reversed field
    (0.8, 0.05, math.pi, +1, (400, 0, 0), BZ),  # produced at 400 mm, heading inwards
]


@pytest.mark.parametrize(("pt", "eta", "phi", "charge", "vertex", "bz"), HELIX_CASES)
def test_helix_exit_matches_integrated_equation_of_motion(pt, eta, phi, charge, vertex, bz):
    result = _propagate(pt, eta, phi, charge, vertex, bz=bz)
    expected = _integrated_exit(pt, eta, phi, charge, vertex, bz)
    assert result.reached_calorimeter[0]
    got = (result.x[0], result.y[0], result.z[0])
    assert got == pytest.approx(expected, abs=1e-3)
    on_endcap = abs(abs(expected[2]) - HALF_LENGTH) < 1e-6
    assert result.on_endcap[0] == on_endcap
    rho = math.hypot(expected[0], expected[1])
    assert result.eta_calo[0] == pytest.approx(math.asinh(expected[2] / rho), abs=1e-6)
    assert result.phi_calo[0] == pytest.approx(math.atan2(expected[1], expected[0]), abs=1e-6)


def test_soft_pion_from_origin_curls_up_and_ends_on_the_endcap():
    result = _propagate(0.5, 0.3, 0.0, +1)
    diameter = 2 * 0.5 / (0.299792458 * 3.8) * 1e3
    assert diameter == pytest.approx(877.8, abs=0.1) and diameter < RADIUS
    assert result.on_endcap[0]
    assert result.z[0] == HALF_LENGTH
    assert math.hypot(result.x[0], result.y[0]) <= diameter + 1e-9
    assert abs(result.eta_calo[0]) > 1.2  # far from the particle's own eta of 0.3


def test_helix_radius_is_signed_like_delphes():
    assert helix_radius(np.array(1.0), np.array(1.0), 3.8) == pytest.approx(877.80, abs=0.01)
    assert helix_radius(np.array(1.0), np.array(-1.0), 3.8) < 0
    assert helix_radius(np.array(1.0), np.array(-1.0), -3.8) > 0


@pytest.mark.parametrize(
    ("pt", "eta", "phi", "charge", "vertex"),
    [
        (1.0, 0.5, 0.4, +1, (20.0, -15.0, 7.0)),  # perigee behind the vertex
        (0.7, -1.2, 2.0, -1, (35.0, 10.0, -40.0)),  # perigee ahead
        (3.0, 0.8, -2.5, +1, (60.0, 40.0, 100.0)),
        # Perigee 113 degrees back along the circle: Delphes 3.5 would fold the turn into
        # [-90, 90] degrees and return the farthest point; we keep the closest.
        (0.1, 0.3, -math.pi / 2 + 0.6, +1, (150.0, 0.0, 0.0)),
    ],
)
def test_perigee_matches_brute_force_closest_approach(pt, eta, phi, charge, vertex):
    result = _propagate(pt, eta, phi, charge, vertex)
    d0, dz, (ux, uy) = _integrated_closest_approach(pt, eta, phi, charge, vertex)
    assert result.d0[0] == pytest.approx(d0, abs=1e-4)
    assert result.dz[0] == pytest.approx(dz, abs=1e-4)
    # The perigee momentum points along the trajectory there, with the same pT.
    direction = np.array([ux, uy]) / math.hypot(ux, uy)
    got = np.array([result.px_perigee[0], result.py_perigee[0]])
    assert got == pytest.approx(pt * direction, abs=1e-6)


def test_d0_equals_signed_distance_from_the_helix_axis():
    """Delphes: d0 = sign(q Bz) (rc - |r|), with centre xc = x + r sin(phi0), yc = y - r cos(phi0)."""
    vertex, pt, phi = (10.0, 20.0, 0.0), 2.0, 0.4
    for charge in (+1, -1):
        for bz in (3.8, -3.8):
            r = pt / (0.299792458e-3 * charge * bz)
            xc, yc = vertex[0] + r * math.sin(phi), vertex[1] - r * math.cos(phi)
            expected = math.copysign(1.0, charge * bz) * (math.hypot(xc, yc) - abs(r))
            result = _propagate(pt, 0.0, phi, charge, vertex, bz=bz)
            assert result.d0[0] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("charge", "bz"), [(+1, 3.8), (-1, 3.8), (+1, -3.8), (-1, -3.8)])
def test_d0_sign_follows_the_delphes_convention_for_both_charges(charge, bz):
    # Vertex at (0, 5) mm with p along +x: the vertex is the perigee, and
    # d0 = (x py - y px) / pT = -5 mm whatever the charge or field.
    result = _propagate(10.0, 0.0, 0.0, charge, (0.0, 5.0, 0.0), bz=bz)
    assert result.d0[0] == pytest.approx(-5.0, abs=1e-9)
    assert result.dz[0] == pytest.approx(0.0, abs=1e-9)
    mirrored = _propagate(10.0, 0.0, 0.0, charge, (0.0, -5.0, 0.0), bz=bz)
    assert mirrored.d0[0] == pytest.approx(5.0, abs=1e-9)


def test_stiff_track_matches_straight_line_impact_parameters():
    vertex, pt, eta, phi = (3.0, -4.0, 10.0), 1000.0, 0.7, 0.9
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    d0_line = (vertex[0] * py - vertex[1] * px) / pt
    dz_line = vertex[2] - (vertex[0] * px + vertex[1] * py) / pt * pz / pt
    for charge in (+1, -1):
        result = _propagate(pt, eta, phi, charge, vertex)
        assert result.d0[0] == pytest.approx(d0_line, abs=1e-4)  # curvature: ~1e-5 mm
        assert result.dz[0] == pytest.approx(dz_line, abs=1e-4)


def test_prompt_tracks_have_zero_impact_parameters_and_unchanged_momentum():
    rng = np.random.default_rng(1)
    n = 200
    pt = rng.uniform(0.2, 50.0, n)
    phi = rng.uniform(-math.pi, math.pi, n)
    result = _propagate(pt, rng.uniform(-3, 3, n), phi, rng.choice([-1.0, 1.0], n))
    assert np.abs(result.d0).max() < 1e-9
    assert np.abs(result.dz).max() < 1e-9
    assert result.px_perigee == pytest.approx(pt * np.cos(phi), abs=1e-9)
    assert result.py_perigee == pytest.approx(pt * np.sin(phi), abs=1e-9)
    assert result.reached_calorimeter.all()
    rho = np.hypot(result.x, result.y)
    barrel = ~result.on_endcap
    assert rho[barrel] == pytest.approx(RADIUS, abs=1e-6)
    assert np.abs(result.z[result.on_endcap]) == pytest.approx(HALF_LENGTH)
    assert (rho[result.on_endcap] <= RADIUS + 1e-9).all()
    assert (np.abs(result.z[barrel]) <= HALF_LENGTH + 1e-9).all()


def test_neutral_particles_fly_straight_to_the_surface():
    # eta 0.5 from the origin: barrel at z = 1290 sinh(0.5); eta 2: endcap at rho = 3000/sinh(2).
    result = _propagate([10.0, 10.0], [0.5, 2.0], [0.3, -1.0], 0.0)
    assert not result.on_endcap[0]
    assert (result.x[0], result.y[0]) == pytest.approx(
        (RADIUS * math.cos(0.3), RADIUS * math.sin(0.3))
    )
    assert result.z[0] == pytest.approx(RADIUS * math.sinh(0.5))
    assert result.eta_calo[0] == pytest.approx(0.5)
    assert result.phi_calo[0] == pytest.approx(0.3)
    assert result.on_endcap[1]
    assert result.z[1] == HALF_LENGTH
    assert math.hypot(result.x[1], result.y[1]) == pytest.approx(HALF_LENGTH / math.sinh(2.0))
    assert result.eta_calo[1] == pytest.approx(2.0)
    assert (result.d0 == 0).all() and (result.dz == 0).all()
    # A photon from the origin at eta 0 flies 1290 mm in 1290/c ns.
    photon = _propagate(5.0, 0.0, 0.0, 0.0, mass=0.0)
    assert photon.path_length[0] == pytest.approx(RADIUS)
    assert photon.flight_time[0] == pytest.approx(RADIUS / 299.792458)


def test_displaced_neutral_exit_point():
    # Produced at x = 100 mm moving along +y: leaves at y = sqrt(1290^2 - 100^2).
    result = _propagate(4.0, 0.0, math.pi / 2, 0.0, (100.0, 0.0, 20.0))
    assert (result.x[0], result.y[0], result.z[0]) == pytest.approx(
        (100.0, math.sqrt(RADIUS**2 - 100.0**2), 20.0)
    )
    # Without a field a charged particle flies straight too, with straight-line d0.
    charged = _propagate(4.0, 0.0, math.pi / 2, 1.0, (100.0, 0.0, 20.0), bz=0.0)
    assert charged.y[0] == pytest.approx(math.sqrt(RADIUS**2 - 100.0**2))
    assert charged.d0[0] == pytest.approx(100.0)
    assert charged.dz[0] == pytest.approx(20.0)


def test_particles_produced_outside_the_cylinder_are_flagged():
    vertices = [
        (1290.0, 0.0, 0.0),  # on the barrel: inside
        (1290.001, 0.0, 0.0),
        (913.0, 913.0, 0.0),  # rho = 1291.2
        (0.0, 0.0, 3000.0),  # on the endcap: inside
        (0.0, 0.0, -3000.01),
    ]
    inside = []
    for vertex in vertices:
        result = _propagate(2.0, 0.2, 0.0, 1.0, vertex)
        inside.append(bool(result.inside[0]))
        assert result.reached_calorimeter[0] == result.inside[0]
        if not result.inside[0]:
            assert math.isnan(result.x[0]) and math.isnan(result.eta_calo[0])
    assert inside == [True, False, False, True, False]


def test_transverse_looper_never_reaches_the_calorimeter():
    # pz = 0 and 2r = 526 mm < 1290 mm: it circles forever (Delphes gives a meaningless point).
    charged = _propagate(0.3, 0.0, 0.5, -1.0)
    assert charged.inside[0] and not charged.reached_calorimeter[0]
    assert math.isnan(charged.x[0]) and math.isnan(charged.eta_calo[0])
    # A neutral with pz = 0 reaches the barrel at its own z.
    neutral = _propagate(0.3, 0.0, 0.5, 0.0, (0.0, 0.0, 12.0))
    assert neutral.reached_calorimeter[0] and neutral.z[0] == pytest.approx(12.0)


def test_tiny_transverse_momentum_is_dropped():
    result = propagate(
        *(np.array([v]) for v in (1e-6, 0.0, 10.0, 10.0, 1.0, 0.0, 0.0, 0.0)),
        radius=RADIUS,
        half_length=HALF_LENGTH,
        bz=BZ,
    )
    assert result.inside[0] and not result.reached_calorimeter[0]


def test_no_particles_give_empty_arrays():
    empty = np.zeros(0)
    result = propagate(*(empty,) * 8, radius=RADIUS, half_length=HALF_LENGTH, bz=BZ)
    assert len(result) == 0 and result.d0.shape == (0,) and result.inside.dtype == bool


def test_solenoid_refuses_nonsense():
    assert Solenoid(RADIUS, HALF_LENGTH, BZ).bz == BZ
    with pytest.raises(ValueError, match="radius"):
        Solenoid(-1.0, HALF_LENGTH, BZ)
    with pytest.raises(ValueError, match="bz"):
        Solenoid(RADIUS, HALF_LENGTH, math.nan)


# --- tables ----------------------------------------------------------------------------


def test_lookup_bins_are_open_below_and_closed_above():
    table = BinnedTable("t", [0.0, 1.0, 2.0], [10.0, 20.0, math.inf], [[1, 2], [3, 4]], -1.0)
    x = np.array([0.0, 1e-12, 1.0, 1.0 + 1e-12, 2.0, 2.0 + 1e-12, 0.5, 0.5, 0.5, math.nan])
    y = np.array([15.0, 15.0, 15.0, 15.0, 15.0, 15.0, 10.0, 20.0, math.inf, 15.0])
    assert table.lookup(x, y).tolist() == [-1, 1, 1, 3, 3, -1, -1, 1, 2, -1]
    assert lookup(table.values, table.x_edges, table.y_edges, 0.5, 20.0 + 1e-9).tolist() == 2.0
    assert table.lookup(np.zeros((2, 3)) + 0.5, 15.0).shape == (2, 3)


def test_tables_compare_and_hash_like_card_values():
    a = BinnedTable("t", [0, 1], [0, 1, 2], [[0.5, 0.6]])
    b = BinnedTable("t", (0.0, 1.0), np.array([0.0, 1.0, 2.0]), np.array([[0.5, 0.6]]))
    assert a == b and hash(a) == hash(b)
    assert a.values == ((0.5, 0.6),)


@pytest.mark.parametrize(
    ("x_edges", "y_edges", "values", "match"),
    [
        ([0.0, 1.0, 0.5], [0.0, 1.0], [[1.0], [2.0]], "x_edges must be strictly increasing"),
        ([0.0, 1.0], [0.0, 0.0], [[1.0]], "y_edges must be strictly increasing"),
        ([0.0, math.nan], [0.0, 1.0], [[1.0]], "x_edges must be strictly increasing"),
        ([0.0], [0.0, 1.0], [[]], "x_edges must list at least two"),
        ([0.0, 1.0, 2.0], [0.0, 1.0], [[1.0, 2.0]], r"shape \(1, 2\).* 2 x 1 bins"),
        ([0.0, 1.0], [0.0, 1.0, 2.0], [[1.0], [2.0, 3.0]], "values must be 1 rows of 2"),
        ([0.0, 1.0], [0.0, 1.0], [[math.inf]], "finite"),
    ],
)
def test_invalid_tables_are_refused_with_their_name(x_edges, y_edges, values, match):
    with pytest.raises(ValueError, match=f"table 'tracking.muon': .*{match}"):
        BinnedTable("tracking.muon", x_edges, y_edges, values)


# JetClass card numbers (also in the card file): efficiencies in (|eta_calo|, pT).
HADRON = TrackingEfficiency(
    BinnedTable("tracking.charged_hadron", [-math.inf, 1.5, 2.5], [0.1, 1.0, math.inf],
                [[0.70, 0.95], [0.60, 0.85]])
)  # fmt: skip
MUON = TrackingEfficiency(
    BinnedTable("tracking.muon", [-math.inf, 1.5, 2.5], [0.1, 1.0, 1000.0, math.inf],
                [[0.75, 0.99, 0.99], [0.70, 0.98, 0.98]]),
    falloff_pt=1000.0,
    falloff_rate=5.0e-4,
)  # fmt: skip


def test_charged_hadron_efficiency_follows_the_delphes_formula_edges():
    abs_eta = np.array([0.0, 1.5, 1.5 + 1e-9, 2.5, 2.5 + 1e-9, 0.7, 0.7, 0.7, 2.0])
    pt = np.array([0.5, 0.5, 0.5, 5.0, 5.0, 0.1, 0.1 + 1e-9, 1.0, 1.0 + 1e-9])
    expected = [0.70, 0.70, 0.60, 0.85, 0.0, 0.0, 0.70, 0.70, 0.85]
    assert tracking_efficiency(pt, abs_eta, HADRON) == pytest.approx(expected)


def test_muon_efficiency_falls_off_above_one_tev():
    pt = np.array([999.0, 1000.0, 2000.0, 2000.0])
    abs_eta = np.array([1.0, 1.0, 1.0, 2.0])
    expected = [0.99, 0.99, 0.99 * math.exp(0.5 - 2000 * 5e-4), 0.98 * math.exp(0.5 - 1.0)]
    assert tracking_efficiency(pt, abs_eta, MUON) == pytest.approx(expected)


def test_efficiency_tables_refuse_non_probabilities():
    table = BinnedTable("tracking.electron", [0.0, 2.5], [0.1, math.inf], [[1.2]])
    with pytest.raises(ValueError, match="tracking.electron.*\\[0, 1\\]"):
        TrackingEfficiency(table)
    good = BinnedTable("tracking.electron", [0.0, 2.5], [0.1, math.inf], [[0.9]])
    with pytest.raises(ValueError, match="tracking.electron.*falloff_rate"):
        TrackingEfficiency(good, falloff_pt=1.0, falloff_rate=-1.0)


# First and last pT bins of the JetClass d0 / dz tables (mm); middle bins are unused here.
PT_EDGES = [0.1823, 0.2227, 134.7130, math.inf]
D0 = BinnedTable(
    "track_smearing.d0", [0.0, 0.9, 1.4, 2.5], PT_EDGES,
    [[0.3543, 0.0, 0.0110], [0.4564, 0.0, 0.0095], [0.6970, 0.0, 0.0137]],
)  # fmt: skip
DZ = BinnedTable(
    "track_smearing.dz", [0.0, 0.9, 1.4, 2.5], PT_EDGES,
    [[0.3693, 0.0, 0.0318], [0.7062, 0.0, 0.0310], [2.1717, 0.0, 0.0850]],
)  # fmt: skip


def test_impact_parameter_resolution_table_lookup():
    eta = np.array([0.0, 0.5, -0.5, 0.9, -1.0, 2.5, 2.6, 0.3, 0.3])
    pt = np.array([5e2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.1823, 200.0])
    assert impact_parameter_resolution(pt, eta, D0) == pytest.approx(
        [0.0, 0.3543, 0.3543, 0.3543, 0.4564, 0.6970, 0.0, 0.0, 0.0110]
    )
    assert impact_parameter_resolution(pt, eta, DZ)[5] == pytest.approx(2.1717)


def test_smearing_adds_table_sigma_times_the_normal_draw():
    tables = ImpactParameterTables(D0, DZ)
    d0, dz = np.array([0.5, -1.0, 0.2]), np.array([3.0, 0.0, -2.0])
    pt, eta = np.array([200.0, 0.2, 0.1]), np.array([1.0, 2.0, 0.3])
    smeared = smear_impact_parameters(
        d0, dz, pt, eta, tables, np.array([1.0, -2.0, 5.0]), np.array([0.5, 1.0, 5.0])
    )
    assert smeared.d0err == pytest.approx([0.0095, 0.6970, 0.0])
    assert smeared.dzerr == pytest.approx([0.0310, 2.1717, 0.0])
    assert smeared.d0val == pytest.approx([0.5 + 0.0095, -1.0 - 2 * 0.6970, 0.2])
    assert smeared.dzval == pytest.approx([3.0 + 0.5 * 0.0310, 2.1717, -2.0])


def test_resolution_tables_refuse_negative_sigmas():
    bad = BinnedTable("track_smearing.dz", [0.0, 2.5], [0.1, math.inf], [[-0.1]])
    with pytest.raises(ValueError, match="track_smearing.dz.*non-negative"):
        ImpactParameterTables(D0, bad)
