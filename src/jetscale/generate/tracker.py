"""Charged-particle propagation and tracker response, after Delphes 3.5 (JetClass card).

Pure, vectorised functions of flat float64 arrays (one entry per particle, units GeV,
mm, tesla). They reproduce these Delphes modules of the card JetClass was simulated
with (``jet-universe/jetclass_generation/delphes_card.tcl``):

* ``ParticlePropagator`` (:func:`propagate`): every stable particle produced inside
  the solenoid cylinder is carried to its surface, on a straight line if neutral and
  on a helix in the uniform field ``Bz`` if charged. The surface point gives the
  ``eta``/``phi`` that Delphes uses for the tracking efficiency, the momentum
  smearing and the calorimeter tower; the helix perigee gives ``d0``, ``dz`` and the
  track momentum.
* ``Efficiency`` for charged hadrons, electrons and muons
  (:func:`tracking_efficiency`): binned in ``(|eta| at the surface, pT)``.
* ``TrackSmearing`` (:func:`smear_impact_parameters`): ``d0`` and ``dz`` smeared
  with binned Gaussian resolutions in ``(|eta|, pT)``; the errors are the table
  values. The track keeps its true perigee momentum: TrackSmearing rebuilds the
  momentum from the propagator's ``P``, ``CtgTheta`` and ``Phi``, which
  MomentumSmearing never updates, so in the JetClass card the MomentumSmearing
  modules only choose the pT bin of the resolution table. We look the table up with
  the true pT (a departure that matters only for tracks within the smearing of a
  bin edge; neighbouring bins differ by up to about 25%, mostly below 1 GeV).

The numbers of the JetClass card live in the detector card files, not here.

Departures from Delphes are listed where they occur; none changes a prompt track.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: pT [GeV] = GEV_PER_TESLA_METRE * |q| [e] * Bz [T] * R [m]  (c / 1e9 in SI).
GEV_PER_TESLA_METRE = 0.299792458
#: Speed of light, mm/ns.
C_MM_PER_NS = 299.792458
#: Delphes treats |charge| below this (in e) as neutral and |Bz| below this (T) as no field.
CHARGE_EPSILON = 1e-9
BZ_EPSILON = 1e-9
#: Delphes drops particles with pT^2 below this (GeV^2) before propagating them.
PT2_MIN = 1e-9


@dataclass(frozen=True)
class Solenoid:
    """The cylinder the ParticlePropagator carries particles to (Delphes CMS: 1290, 3000, 3.8)."""

    radius: float  # mm
    half_length: float  # mm
    bz: float  # T, along +z

    def __post_init__(self) -> None:
        for key in ("radius", "half_length"):
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                msg = f"propagator {key} must be a positive number of mm, got {value!r}"
                raise ValueError(msg)
        if not math.isfinite(self.bz):
            msg = f"propagator bz must be a finite field in tesla, got {self.bz!r}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Propagation:
    """Where each particle meets the cylinder, and its perigee (arrays of shape (N,)).

    ``x, y, z``, ``eta_calo``, ``phi_calo``, ``path_length`` and ``flight_time`` are
    NaN where ``reached_calorimeter`` is false. ``d0``, ``dz`` and the perigee momentum
    are given for every particle with pT^2 >= :data:`PT2_MIN` (zero d0, dz and the
    input momentum for neutrals); use them only where ``reached_calorimeter``.
    """

    inside: np.ndarray  # bool: production vertex inside or on the cylinder (Delphes keeps it)
    reached_calorimeter: np.ndarray  # bool: inside, pT^2 >= PT2_MIN and the surface is reached
    on_endcap: np.ndarray  # bool: leaves through |z| = half_length rather than the barrel
    x: np.ndarray  # mm, point on the cylinder surface
    y: np.ndarray
    z: np.ndarray
    eta_calo: np.ndarray  # eta and phi of the position vector (x, y, z)
    phi_calo: np.ndarray
    path_length: np.ndarray  # mm, along the trajectory from the production vertex
    flight_time: np.ndarray  # ns, path_length / (beta c)
    d0: np.ndarray  # mm, signed transverse impact parameter (Delphes convention)
    dz: np.ndarray  # mm, z of the point of closest approach to the beam line
    px_perigee: np.ndarray  # GeV, transverse momentum at the perigee (|pT|, pz unchanged)
    py_perigee: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def helix_radius(pt: np.ndarray, charge: np.ndarray, bz: float) -> np.ndarray:
    """Signed radius of curvature (mm), ``r = pT / (0.299792458 q Bz)`` as in Delphes.

    Positive (clockwise seen from +z) for ``q * Bz > 0``. Infinite for neutrals or no field.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1e3 * np.asarray(pt, dtype=np.float64) / (GEV_PER_TESLA_METRE * charge * bz)


def propagate(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    energy: np.ndarray,
    charge: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    vz: np.ndarray,
    *,
    radius: float,
    half_length: float,
    bz: float,
) -> Propagation:
    """Delphes' ParticlePropagator: carry particles to the cylinder ``radius`` x ``half_length``.

    Momenta in GeV, charges in e, production vertices in mm, ``bz`` in tesla; all
    arrays of shape (N,). A charged particle turns clockwise seen from +z when
    ``q * Bz > 0`` (``phi`` decreases by ``psi`` after a turning angle ``psi``):
    centre ``xc = x + r sin(phi0)``, ``yc = y - r cos(phi0)`` with the signed ``r`` of
    :func:`helix_radius`, as in Delphes.

    * Particles produced outside the cylinder (``hypot(vx, vy) > radius`` or
      ``|vz| > half_length``) or with pT^2 < :data:`PT2_MIN` are dropped by Delphes:
      ``reached_calorimeter`` is false.
    * The exit is the first crossing, forward in time, of the barrel or an endcap. A
      helix reaches the barrel only if ``rc + |r| >= radius`` (``rc`` = distance of
      its axis from the beam line); soft "loopers" (``2|r| < radius`` from the
      origin) end on an endcap. A looper with ``pz == 0`` circles forever: Delphes
      keeps it with a meaningless position (time 1e99); here ``reached_calorimeter``
      is false.
    * Perigee: the point of the transverse circle closest to the beam line, reached
      by the smallest forward or backward turn. ``d0 = (xd py' - yd px') / pT`` at
      that point with the perigee momentum ``(px', py')``, which equals
      ``sign(q Bz) * (rc - |r|)`` and, for a stiff track, the straight-line
      ``(vx py - vy px) / pT``; ``dz = zd`` (the beam spot is at the origin). Delphes
      3.5 finds the perigee by folding the turning angle into ``[-pi/2, pi/2]``, which
      picks the farthest point instead when the vertex lies more than a quarter turn
      from the perigee (possible only for a vertex further than about ``sqrt(2) |r|``
      from the beam: pT below ~0.08 GeV for a vertex 100 mm out at 3.8 T); we always
      take the closest point.
    * Neutrals, and everything when ``|bz| < 1e-9``, move on straight lines. Neutrals
      get ``d0 = dz = 0`` as in Delphes; charged particles without field get the
      straight-line ``d0 = (x py - y px)/pT``, ``dz = z - (x px + y py)/pT * pz/pT``
      (Delphes leaves them at zero; a departure that only matters without field).

    This is the Delphes 3.5.0 propagator (O. Cerri's low-pT fix: exit after the
    turning angle from the perigee, ``zd`` on the helix). Older Delphes took ``zd``
    from the chord, ``z + (hypot(xd, yd) - hypot(x, y)) * pz/pT``, and chose among six
    barrel crossings. Helix arithmetic uses chord forms, so a 10 TeV track is as
    precise as a soft one. ``energy`` only enters the flight time.
    """
    px, py, pz, energy, charge, vx, vy, vz = (
        np.asarray(a, dtype=np.float64) for a in (px, py, pz, energy, charge, vx, vy, vz)
    )
    pt = np.hypot(px, py)
    inside = (np.hypot(vx, vy) <= radius) & (np.abs(vz) <= half_length)
    moving = pt**2 >= PT2_MIN
    charged = np.abs(charge) >= CHARGE_EPSILON
    curved = moving & charged & (abs(bz) >= BZ_EPSILON)
    straight = moving & ~curved

    n = len(px)
    s_exit = np.full(n, np.nan)  # transverse path length to the surface, mm
    on_endcap = np.zeros(n, dtype=bool)
    x, y, z = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    d0, dz = np.zeros(n), np.zeros(n)
    px_perigee, py_perigee = px.copy(), py.copy()

    for mask, carry in ((straight, _straight_line), (curved, _helix)):
        if not mask.any():
            continue
        safe_pt = pt[mask]
        sign = np.sign(charge[mask] * bz)
        result = carry(
            vx[mask],
            vy[mask],
            vz[mask],
            px[mask] / safe_pt,
            py[mask] / safe_pt,
            pz[mask] / safe_pt,
            sign,
            np.abs(helix_radius(safe_pt, charge[mask], bz)),
            radius,
            half_length,
        )
        s_exit[mask], on_endcap[mask] = result.s_exit, result.on_endcap
        x[mask], y[mask], z[mask] = result.x, result.y, result.z
        d0[mask], dz[mask] = result.d0, result.dz
        px_perigee[mask] = safe_pt * result.cos_perigee
        py_perigee[mask] = safe_pt * result.sin_perigee

    d0 = np.where(charged, d0, 0.0)
    dz = np.where(charged, dz, 0.0)
    reached = inside & moving & np.isfinite(s_exit)
    on_endcap &= reached
    for array in (x, y, z, s_exit):
        array[~reached] = np.nan
    rho = np.hypot(x, y)
    # A point on the beam axis (an endcap hit at rho = 0) has eta = +-inf.
    eta_calo = np.arcsinh(np.divide(z, rho, out=np.copysign(np.full(n, np.inf), z), where=rho > 0))
    eta_calo[~reached] = np.nan
    path_length = s_exit * np.hypot(1.0, np.divide(pz, pt, out=np.zeros(n), where=moving))
    flight_time = s_exit * np.divide(energy, pt * C_MM_PER_NS, out=np.zeros(n), where=moving)
    return Propagation(
        inside=inside,
        reached_calorimeter=reached,
        on_endcap=on_endcap,
        x=x,
        y=y,
        z=z,
        eta_calo=eta_calo,
        phi_calo=np.arctan2(y, x),
        path_length=path_length,
        flight_time=flight_time,
        d0=np.where(moving, d0, 0.0),
        dz=np.where(moving, dz, 0.0),
        px_perigee=px_perigee,
        py_perigee=py_perigee,
    )


@dataclass(frozen=True)
class _Carried:
    """Per-particle result of one kind of trajectory (arrays of the selected particles)."""

    s_exit: np.ndarray  # transverse path length to the surface, mm (inf: never)
    on_endcap: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    d0: np.ndarray
    dz: np.ndarray
    cos_perigee: np.ndarray  # direction of the transverse momentum at the perigee
    sin_perigee: np.ndarray


def _endcap_distance(z: np.ndarray, cot: np.ndarray, half_length: float) -> np.ndarray:
    """Transverse path length to ``|z| = half_length`` for ``dz/ds = cot`` (inf if cot == 0)."""
    moving_z = cot != 0
    safe_cot = np.where(moving_z, cot, 1.0)
    return np.where(moving_z, (np.copysign(half_length, cot) - z) / safe_cot, np.inf)


def _straight_line(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    cos0: np.ndarray,
    sin0: np.ndarray,
    cot: np.ndarray,
    sign: np.ndarray,
    r_abs: np.ndarray,
    radius: float,
    half_length: float,
) -> _Carried:
    along = x * cos0 + y * sin0
    across = x * sin0 - y * cos0  # (x py - y px) / pT
    s_barrel = np.sqrt(np.maximum(radius**2 - across**2, 0.0)) - along
    s_endcap = _endcap_distance(z, cot, half_length)
    s_exit = np.maximum(np.minimum(s_barrel, s_endcap), 0.0)
    on_endcap = s_endcap < s_barrel
    return _Carried(
        s_exit=s_exit,
        on_endcap=on_endcap,
        x=x + s_exit * cos0,
        y=y + s_exit * sin0,
        z=np.where(on_endcap, np.copysign(half_length, cot), z + cot * s_exit),
        d0=across,
        dz=z - along * cot,
        cos_perigee=cos0,
        sin_perigee=sin0,
    )


def _helix(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    cos0: np.ndarray,
    sin0: np.ndarray,
    cot: np.ndarray,
    sign: np.ndarray,
    r_abs: np.ndarray,
    radius: float,
    half_length: float,
) -> _Carried:
    # After a turning angle psi the momentum points along phi0 - sign * psi, the
    # particle has moved by the chord 2|r| sin(psi/2) along phi0 - sign * psi/2, and
    # z has grown by cot * |r| * psi.
    xc = x + sign * r_abs * sin0
    yc = y - sign * r_abs * cos0
    rc = np.hypot(xc, yc)
    # rc - |r| without the cancellation of two numbers of size |r|.
    gap = (x**2 + y**2 + 2.0 * sign * r_abs * (x * sin0 - y * cos0)) / (rc + r_abs)
    centred = rc > 0
    safe_rc = np.where(centred, rc, 1.0)
    sin_d = np.where(centred, sign * xc / safe_rc, sin0)
    cos_d = np.where(centred, -sign * yc / safe_rc, cos0)
    psi_perigee = sign * np.arctan2(sin0 * cos_d - cos0 * sin_d, cos0 * cos_d + sin0 * sin_d)

    # Turning angle from the perigee to the barrel: cos(alpha) = (r^2 + rc^2 - R^2)/(2|r|rc).
    reaches_barrel = rc + r_abs >= radius
    sin2_half = np.clip((radius**2 - gap**2) / (4.0 * r_abs * safe_rc), 0.0, 1.0)
    alpha = 2.0 * np.arcsin(np.sqrt(sin2_half))
    s_barrel = np.where(reaches_barrel, r_abs * np.maximum(psi_perigee + alpha, 0.0), np.inf)
    s_endcap = _endcap_distance(z, cot, half_length)
    s_exit = np.minimum(s_barrel, s_endcap)
    on_endcap = s_endcap < s_barrel

    s_finite = np.where(np.isfinite(s_exit), s_exit, 0.0)  # a pz = 0 looper never exits
    half = 0.5 * s_finite / r_abs
    chord = 2.0 * r_abs * np.sin(half)
    cos_half, sin_half = np.cos(half), np.sin(half)
    return _Carried(
        s_exit=s_exit,
        on_endcap=on_endcap,
        x=x + chord * (cos0 * cos_half + sign * sin0 * sin_half),
        y=y + chord * (sin0 * cos_half - sign * cos0 * sin_half),
        z=np.where(on_endcap, np.copysign(half_length, cot), z + cot * s_finite),
        d0=sign * gap,
        dz=z + cot * r_abs * psi_perigee,
        cos_perigee=cos_d,
        sin_perigee=sin_d,
    )


# --- binned tables -------------------------------------------------------------------


def _table_arrays(
    name: str, x_edges: object, y_edges: object, values: object, outside: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float arrays of a table; ValueError naming the table otherwise."""
    arrays = []
    for key, edges in (("x_edges", x_edges), ("y_edges", y_edges)):
        try:
            array = np.asarray(edges, dtype=np.float64)
        except (TypeError, ValueError) as err:
            msg = f"table {name!r}: {key} must be a list of numbers, got {edges!r}"
            raise ValueError(msg) from err
        if array.ndim != 1 or len(array) < 2:
            msg = f"table {name!r}: {key} must list at least two bin edges, got {edges!r}"
            raise ValueError(msg)
        if np.isnan(array).any() or not (np.diff(array) > 0).all():
            msg = f"table {name!r}: {key} must be strictly increasing, got {array.tolist()}"
            raise ValueError(msg)
        arrays.append(array)
    x_array, y_array = arrays
    shape = (len(x_array) - 1, len(y_array) - 1)
    try:
        table = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        msg = f"table {name!r}: values must be {shape[0]} rows of {shape[1]} numbers"
        raise ValueError(msg) from err
    if table.shape != shape:
        msg = (
            f"table {name!r}: values have shape {table.shape}, but the edges make "
            f"{shape[0]} x {shape[1]} bins"
        )
        raise ValueError(msg)
    if not np.isfinite(table).all() or not math.isfinite(outside):
        msg = f"table {name!r}: values and the outside value must be finite numbers"
        raise ValueError(msg)
    return x_array, y_array, table


def lookup(
    table_values: np.ndarray | Sequence[Sequence[float]],
    x_edges: np.ndarray | Sequence[float],
    y_edges: np.ndarray | Sequence[float],
    x: np.ndarray | float,
    y: np.ndarray | float,
    outside: float = 0.0,
) -> np.ndarray:
    """Values of a binned 2-D table at ``(x, y)`` (broadcast together).

    Bin ``(i, j)`` is ``x_edges[i] < x <= x_edges[i + 1]`` and
    ``y_edges[j] < y <= y_edges[j + 1]``: open below and closed above, like
    Delphes' ``(pt > a && pt <= b)``. Points outside every bin (including a lower
    edge itself, NaN, and anything beyond the last edge) get ``outside``. Write
    ``-inf`` as first edge for a bin closed below (``abs(eta) <= 1.5`` includes 0)
    and ``inf`` as last edge for an open-ended bin (``pt > 134.713``).
    ``table_values`` has shape ``(len(x_edges) - 1, len(y_edges) - 1)``.
    """
    x_array, y_array, table = _table_arrays("table", x_edges, y_edges, table_values, outside)
    xb, yb = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    # side="left" puts a value equal to an edge in the bin below it; NaN sorts past the end.
    ix = np.searchsorted(x_array, xb, side="left") - 1
    iy = np.searchsorted(y_array, yb, side="left") - 1
    found = (ix >= 0) & (ix < table.shape[0]) & (iy >= 0) & (iy < table.shape[1])
    result = np.full(xb.shape, float(outside))
    result[found] = table[ix[found], iy[found]]
    return result


@dataclass(frozen=True)
class BinnedTable:
    """A named table binned in ``x`` (always |eta| here) and ``y`` (always pT, GeV).

    Bins are open below and closed above (see :func:`lookup`); ``values[i][j]`` is
    the value in x bin ``i`` and y bin ``j``; ``outside`` everywhere else. Edges and
    values are stored as tuples, so tables compare and hash like the rest of a card.
    Raises ValueError, naming the table, for edges that are not strictly increasing
    or values whose shape does not match them.
    """

    name: str
    x_edges: Sequence[float]
    y_edges: Sequence[float]
    values: Sequence[Sequence[float]]
    outside: float = 0.0

    def __post_init__(self) -> None:
        x_array, y_array, table = _table_arrays(
            self.name, self.x_edges, self.y_edges, self.values, self.outside
        )
        object.__setattr__(self, "x_edges", tuple(x_array.tolist()))
        object.__setattr__(self, "y_edges", tuple(y_array.tolist()))
        object.__setattr__(self, "values", tuple(tuple(row) for row in table.tolist()))
        object.__setattr__(self, "outside", float(self.outside))

    def lookup(self, x: np.ndarray | float, y: np.ndarray | float) -> np.ndarray:
        """Table values at ``(x, y)``; ``outside`` where no bin contains the point."""
        return lookup(self.values, self.x_edges, self.y_edges, x, y, self.outside)


# --- tracking efficiency ------------------------------------------------------------


@dataclass(frozen=True)
class TrackingEfficiency:
    """Tracking efficiency of one species (charged hadrons, electrons or muons).

    ``table`` is binned in (|eta| at the calorimeter surface, pT in GeV). Above
    ``falloff_pt`` (GeV) the efficiency is multiplied by
    ``exp(-(pT - falloff_pt) * falloff_rate)``: the JetClass muon term
    ``0.99 * exp(0.5 - pt * 5e-4)`` for pt > 1000 is ``falloff_pt = 1000``,
    ``falloff_rate = 5e-4``. The default (inf, 0) means no falloff.
    """

    table: BinnedTable
    falloff_pt: float = math.inf
    falloff_rate: float = 0.0

    def __post_init__(self) -> None:
        probabilities = [*np.ravel(self.table.values), self.table.outside]
        if not all(0.0 <= p <= 1.0 for p in probabilities):
            msg = f"table {self.table.name!r}: efficiencies must lie in [0, 1]"
            raise ValueError(msg)
        if math.isnan(self.falloff_pt) or not (
            math.isfinite(self.falloff_rate) and self.falloff_rate >= 0
        ):
            msg = (
                f"table {self.table.name!r}: falloff_pt must be a number (inf for none) and "
                f"falloff_rate a non-negative number, got {self.falloff_pt!r}, "
                f"{self.falloff_rate!r}"
            )
            raise ValueError(msg)


def tracking_efficiency(
    pt: np.ndarray, abs_eta_calo: np.ndarray, species_table: TrackingEfficiency
) -> np.ndarray:
    """Probability to reconstruct a track (Delphes ``Efficiency``), shape of the inputs.

    ``pt`` in GeV (the perigee pT, which equals the true pT); ``abs_eta_calo`` is
    ``|eta|`` of the point where the particle meets the calorimeter cylinder
    (:attr:`Propagation.eta_calo`), which is what Delphes evaluates its formula at.
    Delphes routes by ``|PID|``: 11 electrons, 13 muons, every other charged
    particle uses the charged-hadron table.
    """
    efficiency = species_table.table.lookup(abs_eta_calo, pt)
    if species_table.falloff_rate > 0:
        excess = np.maximum(np.asarray(pt, dtype=np.float64) - species_table.falloff_pt, 0.0)
        efficiency = efficiency * np.exp(-species_table.falloff_rate * excess)
    return efficiency


# --- impact-parameter smearing ------------------------------------------------------


@dataclass(frozen=True)
class ImpactParameterTables:
    """TrackSmearing's resolutions (mm) in (|eta| of the momentum, pT in GeV)."""

    d0: BinnedTable
    dz: BinnedTable

    def __post_init__(self) -> None:
        for table in (self.d0, self.dz):
            if min(*np.ravel(table.values), table.outside) < 0:
                msg = f"table {table.name!r}: resolutions must be non-negative (mm)"
                raise ValueError(msg)


@dataclass(frozen=True)
class SmearedImpactParameters:
    """Smeared impact parameters and their errors, mm, shape (N,) each."""

    d0val: np.ndarray
    d0err: np.ndarray
    dzval: np.ndarray
    dzerr: np.ndarray


def impact_parameter_resolution(pt: np.ndarray, eta: np.ndarray, table: BinnedTable) -> np.ndarray:
    """Resolution (mm) from a TrackSmearing table at ``(|eta|, pT)``.

    ``eta`` is the track momentum's pseudorapidity (TrackSmearing evaluates its
    formulas at ``Momentum.Eta()``, not at the calorimeter position), ``pt`` the true
    pT in GeV (Delphes uses the MomentumSmearing pT here; see the module docstring).
    Outside the table (JetClass: pT <= 0.1823 GeV, ``|eta| > 2.5`` or ``eta == 0``
    exactly) the formula gives 0: Delphes keeps the track with unsmeared impact
    parameters and zero errors.
    """
    return table.lookup(np.abs(eta), pt)


def smear_impact_parameters(
    d0: np.ndarray,
    dz: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray,
    tables: ImpactParameterTables,
    normal_d0: np.ndarray,
    normal_dz: np.ndarray,
) -> SmearedImpactParameters:
    """Delphes' TrackSmearing of ``d0`` and ``dz`` (mm) with standard-normal draws.

    ``d0val = d0 + sigma_d0 * normal_d0`` and the same for ``dz``, where the sigmas
    come from :func:`impact_parameter_resolution`; the errors are the sigmas
    themselves (Delphes' ``ErrorD0``/``ErrorDZ``). The caller draws ``normal_d0`` and
    ``normal_dz`` (one per track), so the random stream stays aligned.
    """
    sigma_d0 = impact_parameter_resolution(pt, eta, tables.d0)
    sigma_dz = impact_parameter_resolution(pt, eta, tables.dz)
    return SmearedImpactParameters(
        d0val=np.asarray(d0, dtype=np.float64) + sigma_d0 * normal_d0,
        d0err=sigma_d0,
        dzval=np.asarray(dz, dtype=np.float64) + sigma_dz * normal_dz,
        dzerr=sigma_dz,
    )
