"""A Delphes-style sampling calorimeter: towers, log-normal smearing and energy flow.

One call of :func:`simulate` does what one Delphes 3.5 ``SimpleCalorimeter`` module
does (``modules/SimpleCalorimeter.cc``), for many events at once, on flat float64
arrays with an ``event`` index. The JetClass card runs two of them in a row: the ECal
on all stable particles and the tracks, then the HCal on all stable particles and the
ECal's energy-flow tracks (the tracks rescaled by the ECal step).

Per event and tower (Delphes' ``Process`` and ``FinalizeTower``):

* a particle with energy fraction ``f >= 1e-9`` (by |PDG id|) deposits ``E*f`` in the
  tower containing its calorimeter-entry point (``eta_calo``, ``phi_calo``);
* a track with ``f > 1e-9`` adds ``E*f`` to the tower's track energy; a track with
  ``f <= 1e-9`` passes unchanged. A track outside every tower is dropped, as in
  Delphes, whatever its fraction (scale 0, counted in ``n_tracks_outside``);
* the tower energy is smeared log-normally with ``sigma = resolution(eta_centre, E)``
  to ``E'``; ``sigma`` is re-evaluated at ``E'`` and the tower is zeroed if
  ``E' < energy_min`` or ``E' < energy_significance_min * sigma``;
* the neutral excess ``E' - E_track`` becomes one massless neutral (PID
  ``neutral_pid``) if it exceeds ``energy_min`` and ``energy_significance_min`` times
  ``sqrt(sigma_track**2 + sigma**2)``; its direction is uniform inside the tower
  (``smear_tower_center``) or the tower centre. The tower's tracks are then unchanged;
* otherwise the tower's tracks are rescaled to the best energy estimate,
  ``best / E_track``, with ``best`` the inverse-variance mean of ``E_track`` and ``E'``.

Departures from Delphes, all deliberate:

* Track resolution is taken as zero. The JetClass card's ``TrackSmearing`` sets
  ``TrackResolution = 0`` on every track, and Delphes gives a zero-resolution track
  weight 0 (not infinity) in the best estimate, so ``best = E'``: tracks without a
  significant neutral excess carry the smeared calorimeter energy, and nothing at all
  (scale 0) when the tower failed its threshold.
* Where Delphes divides 0 by 0 (a tower with zero calorimeter resolution, or with
  tracks but no deposit, under zero track resolution) it would give the tracks NaN
  momenta; here ``best = E'`` there too.
* Random numbers come from a ``numpy.random.Generator`` in a fixed order (one normal
  per tower, then two uniforms per tower for the direction), not ROOT's stream, so
  results equal Delphes' in distribution, not event by event.
* ``log1p`` replaces ``log(1 + x)`` in the log-normal width (same value, better
  rounding for small ``sigma/E``).
* Delphes merges an eta edge given twice (by two ``EtaPhiBins`` entries) and unions
  its phi lists; :class:`Segmentation` refuses duplicates (a card mistake in practice).
* Insensitive towers, timing, pile-up bookkeeping and the tower output's ``Eem``/
  ``Ehad`` are not modelled: none of them reaches JetClass' energy-flow candidates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Energy fractions at or below this count as zero (Delphes' ``1.0E-9``).
FRACTION_EPSILON = 1e-9
_MAX_KEY = 2**62


def card_number(
    value: Any, where: str, minimum: float = -math.inf, maximum: float = math.inf
) -> float:
    """``value`` as a float if it is a finite number in [minimum, maximum]; else ValueError.

    A card's value must be a number as written (not a string, not a boolean): NaN
    thresholds would make every comparison false and silently change the response.
    """
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not minimum <= value <= maximum:
        bounds = (
            f" in [{minimum}, {maximum}]"
            if math.isfinite(maximum)
            else (f" >= {minimum}" if math.isfinite(minimum) else "")
        )
        msg = f"{where} must be a finite number{bounds}, found {value!r}"
        raise ValueError(msg)
    return float(value)


#: Narrowest tower row accepted (in eta): closer edges mean overlapping blocks.
MIN_TOWER_WIDTH = 1e-6


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


def uniform_phi_edges(n_bins: int) -> np.ndarray:
    """``n_bins + 1`` edges of equal phi bins over [-pi, pi].

    Computed as ``(i * pi) / (n/2)`` for ``i = -n/2 .. n/2``, the arithmetic of the
    Delphes cards (``$i * $pi/180.0``), so the edges are the same doubles.
    """
    half = n_bins / 2.0
    return (np.arange(n_bins + 1) - half) * np.pi / half


@dataclass(frozen=True, eq=False)
class Segmentation:
    """Calorimeter towers: eta edges, each carrying its own list of phi edges.

    ``eta_edges`` (K,) is strictly increasing; ``phi_edges[k]`` are the phi edges of
    eta bin ``k = 1 .. K-1``, the tower row ``(eta_edges[k-1], eta_edges[k]]`` (Delphes
    attaches a phi list to each eta edge and a row uses the list of its upper edge;
    ``phi_edges[0]`` is required but never used). Binning is Delphes' ``lower_bound``:
    bins are open below and closed above, so a value equal to the lowest edge, or
    beyond the highest, lies outside (``phi = -pi`` exactly is outside too).
    Towers are numbered row by row, phi fastest, from 0 to ``n_towers - 1``.
    """

    eta_edges: np.ndarray
    phi_edges: tuple[np.ndarray, ...]
    n_towers: int = field(init=False)
    _first_tower: np.ndarray = field(init=False, repr=False)  # (K,) first tower id of row k
    _scheme: np.ndarray = field(init=False, repr=False)  # (K,) index into _schemes
    _schemes: tuple[np.ndarray, ...] = field(init=False, repr=False)  # distinct phi lists
    _edges: tuple[np.ndarray, ...] = field(init=False, repr=False)  # per tower lo/hi edges

    def __post_init__(self) -> None:
        eta = np.asarray(self.eta_edges, dtype=np.float64)
        if eta.ndim != 1 or len(eta) < 2:
            msg = f"segmentation: eta_edges needs at least 2 edges, got shape {eta.shape}"
            raise ValueError(msg)
        if not np.all(np.isfinite(eta)):
            msg = f"segmentation: eta_edges has a non-finite value: {float(eta[~np.isfinite(eta)][0])}"
            raise ValueError(msg)
        bad = np.flatnonzero(np.diff(eta) <= 0)
        if len(bad):
            k = int(bad[0])
            msg = (
                "segmentation: eta_edges must be sorted and unique: "
                f"edge {k + 1} = {float(eta[k + 1])!r} follows edge {k} = {float(eta[k])!r}"
            )
            raise ValueError(msg)
        if len(self.phi_edges) != len(eta):
            msg = (
                "segmentation: every eta edge needs a list of phi edges: "
                f"{len(eta)} eta edges but {len(self.phi_edges)} phi lists"
            )
            raise ValueError(msg)
        phis = []
        for k, raw in enumerate(self.phi_edges):  # eta edges, not particles
            phi = np.asarray(raw, dtype=np.float64)
            where = f"segmentation: phi edges of eta edge {k} (eta = {float(eta[k])!r})"
            if phi.ndim != 1 or len(phi) < 2:
                msg = f"{where} need at least 2 edges, got shape {phi.shape}"
                raise ValueError(msg)
            if not np.all(np.isfinite(phi)) or np.any(np.diff(phi) <= 0):
                msg = f"{where} must be finite, sorted and unique"
                raise ValueError(msg)
            phis.append(phi)

        # Rows sharing a phi list share one searchsorted call in tower_index.
        scheme_of: dict[bytes, int] = {}
        schemes: list[np.ndarray] = []
        scheme = np.empty(len(eta), dtype=np.int64)
        for k, phi in enumerate(phis):
            key = phi.tobytes()
            if key not in scheme_of:
                scheme_of[key] = len(schemes)
                schemes.append(_frozen(phi))
            scheme[k] = scheme_of[key]
        n_phi = np.array([len(p) - 1 for p in phis], dtype=np.int64)
        n_phi[0] = 0  # edge 0 only closes row 1
        first = np.concatenate([[0], np.cumsum(n_phi)[:-1]])
        rows = np.arange(1, len(eta))
        edges = (
            np.repeat(eta[rows - 1], n_phi[rows]),
            np.repeat(eta[rows], n_phi[rows]),
            np.concatenate([phis[k][:-1] for k in rows]),
            np.concatenate([phis[k][1:] for k in rows]),
        )
        object.__setattr__(self, "eta_edges", _frozen(eta))
        object.__setattr__(self, "phi_edges", tuple(_frozen(p) for p in phis))
        object.__setattr__(self, "n_towers", int(n_phi.sum()))
        object.__setattr__(self, "_first_tower", first)
        object.__setattr__(self, "_scheme", scheme)
        object.__setattr__(self, "_schemes", tuple(schemes))
        object.__setattr__(self, "_edges", tuple(_frozen(e) for e in edges))

    @classmethod
    def from_arrays(
        cls, eta_edges: Sequence[float] | np.ndarray, phi_edges: Sequence[Sequence[float]]
    ) -> Segmentation:
        """Segmentation from explicit arrays: K eta edges and one phi-edge list per edge."""
        return cls(np.asarray(eta_edges, dtype=np.float64), tuple(np.asarray(p) for p in phi_edges))

    @classmethod
    def from_blocks(cls, blocks: Sequence[Mapping[str, Any]]) -> Segmentation:
        """Segmentation from card blocks (the ``EtaPhiBins`` of a Delphes card).

        Each block gives eta edges and ``phi_bins = n``: those edges carry ``n`` equal phi
        bins over [-pi, pi]. The edges are either ``eta_edges = [...]`` or
        ``eta_grid = {offset, step, first, last}``, meaning ``offset + i*step`` for
        ``i = first .. last`` (the card loops, e.g. ``-2.958 + $i*0.0174``, reproduced to
        the bit). Blocks may come in any order; each block's edges must increase and no
        edge may appear twice.
        """
        etas: list[np.ndarray] = []
        n_bins: list[int] = []
        for i, block in enumerate(blocks):
            where = f"segmentation block {i}"
            unknown = sorted(set(block) - {"eta_edges", "eta_grid", "phi_bins"})
            if unknown:
                msg = f"{where}: unknown key(s) {unknown}"
                raise ValueError(msg)
            if ("eta_edges" in block) == ("eta_grid" in block):
                msg = f"{where}: give exactly one of eta_edges and eta_grid"
                raise ValueError(msg)
            if "phi_bins" not in block:
                msg = f"{where}: missing phi_bins (number of equal phi bins over [-pi, pi])"
                raise ValueError(msg)
            n = block["phi_bins"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                msg = f"{where}: phi_bins must be a positive integer, got {n!r}"
                raise ValueError(msg)
            if "eta_grid" in block:
                eta = _grid_edges(block["eta_grid"], where)
            else:
                eta = np.asarray(block["eta_edges"], dtype=np.float64)
                if eta.ndim != 1 or len(eta) == 0:
                    msg = f"{where}: eta_edges must be a non-empty list of numbers"
                    raise ValueError(msg)
            if not np.all(np.isfinite(eta)):
                msg = f"{where}: eta edges must be finite"
                raise ValueError(msg)
            bad = np.flatnonzero(np.diff(eta) <= 0)
            if len(bad):
                k = int(bad[0])
                msg = (
                    f"{where}: eta edges must increase: "
                    f"edge {k + 1} = {float(eta[k + 1])!r} follows {float(eta[k])!r}"
                )
                raise ValueError(msg)
            etas.append(eta)
            n_bins.append(n)
        if not etas:
            msg = "segmentation: no blocks"
            raise ValueError(msg)
        eta_all = np.concatenate(etas)
        block_of = np.repeat(np.arange(len(etas)), [len(e) for e in etas])
        order = np.argsort(eta_all, kind="stable")
        eta_sorted = eta_all[order]
        # Blocks that overlap leave towers of a rounding error's width, which no
        # detector has (a typo in an offset, say): refused like an exact duplicate.
        dup = np.flatnonzero(np.diff(eta_sorted) < MIN_TOWER_WIDTH)
        if len(dup):
            k = int(dup[0])
            a, b = sorted((int(block_of[order[k]]), int(block_of[order[k + 1]])))
            first, second = float(eta_sorted[k]), float(eta_sorted[k + 1])
            what = (
                "appears twice"
                if first == second
                else f"and {second!r} are closer than {MIN_TOWER_WIDTH}"
            )
            msg = (
                f"segmentation: eta edge {first!r} {what} (segmentation blocks {a} and {b} overlap)"
            )
            raise ValueError(msg)
        phi_of_block = [uniform_phi_edges(n) for n in n_bins]
        return cls(eta_sorted, tuple(phi_of_block[b] for b in block_of[order]))

    def tower_index(self, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat tower id (int64, -1 outside) and in-acceptance mask for points (eta, phi).

        Delphes' rule: ``k = lower_bound(eta_edges, eta)`` (the first edge >= eta) must
        satisfy ``1 <= k < K``; then the same with the phi list of edge ``k``. NaN is
        outside.
        """
        eta = np.asarray(eta, dtype=np.float64)
        phi = np.asarray(phi, dtype=np.float64)
        row = np.searchsorted(self.eta_edges, eta, side="left")
        valid = (row >= 1) & (row < len(self.eta_edges))
        row = np.where(valid, row, 1)
        scheme = self._scheme[row]
        col = np.zeros(len(eta), dtype=np.int64)
        n_edges = np.zeros(len(eta), dtype=np.int64)
        for s, edges in enumerate(self._schemes):  # a handful of distinct phi lists
            sel = np.flatnonzero(valid & (scheme == s))
            col[sel] = np.searchsorted(edges, phi[sel], side="left")
            n_edges[sel] = len(edges)
        valid &= (col >= 1) & (col < n_edges)
        tower = np.where(valid, self._first_tower[row] + col - 1, -1)
        return tower, valid

    def tower_edges(
        self, tower: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(eta_lo, eta_hi, phi_lo, phi_hi)`` of towers given by flat id."""
        tower = np.asarray(tower, dtype=np.int64)
        if tower.size and (tower.min() < 0 or tower.max() >= self.n_towers):
            msg = f"tower ids must lie in [0, {self.n_towers}), got {tower.min()}..{tower.max()}"
            raise ValueError(msg)
        return (
            self._edges[0][tower],
            self._edges[1][tower],
            self._edges[2][tower],
            self._edges[3][tower],
        )

    def tower_center(self, tower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(eta, phi)`` of tower centres: the mid-points of the edges, as Delphes."""
        eta_lo, eta_hi, phi_lo, phi_hi = self.tower_edges(tower)
        return 0.5 * (eta_lo + eta_hi), 0.5 * (phi_lo + phi_hi)


def _grid_edges(grid: Any, where: str) -> np.ndarray:
    keys = {"offset", "step", "first", "last"}
    if not isinstance(grid, Mapping) or set(grid) != keys:
        msg = f"{where}: eta_grid must be a table with exactly the keys {sorted(keys)}"
        raise ValueError(msg)
    first, last = grid["first"], grid["last"]
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (first, last)) or last < first:
        msg = f"{where}: eta_grid first/last must be integers with first <= last"
        raise ValueError(msg)
    if not grid["step"] > 0:
        msg = f"{where}: eta_grid step must be positive, got {grid['step']!r}"
        raise ValueError(msg)
    return float(grid["offset"]) + np.arange(first, last + 1) * float(grid["step"])


@dataclass(frozen=True)
class EnergyFractions:
    """Share of a particle's energy deposited in this calorimeter, by |PDG id|.

    ``default`` applies to ids not listed (Delphes' ``EnergyFraction {0}``).
    """

    default: float
    by_pid: tuple[tuple[int, float], ...]

    def __post_init__(self) -> None:
        ids = [pid for pid, _ in self.by_pid]
        if len(set(ids)) != len(ids):
            msg = f"energy fractions: an id is listed twice in {ids}"
            raise ValueError(msg)
        named = [("default", self.default), *((f"id {p}", v) for p, v in self.by_pid)]
        for name, value in named:
            if not np.isfinite(value) or value < 0:
                msg = f"energy fractions: {name} must be finite and >= 0, got {value!r}"
                raise ValueError(msg)
        if any(pid <= 0 for pid in ids):
            msg = f"energy fractions: ids must be positive |PDG id|s, got {ids}"
            raise ValueError(msg)

    @classmethod
    def from_config(
        cls, table: Mapping[str, Any], where: str = "energy_fraction"
    ) -> EnergyFractions:
        """From ``{default = f, 11 = f, ...}`` (TOML keys are strings of |PDG id|s)."""
        if "default" not in table:
            msg = f"{where}: missing 'default' (fraction of ids not listed)"
            raise ValueError(msg)
        pairs = []
        for key, value in table.items():
            if key == "default":
                continue
            if not str(key).isdigit() or int(key) == 0:
                msg = f"{where}: key {key!r} is not a positive |PDG id| (use 'default')"
                raise ValueError(msg)
            pairs.append((int(key), card_number(value, f"{where}.{key}", 0.0, 1.0)))
        default = card_number(table["default"], f"{where}.default", 0.0, 1.0)
        return cls(default, tuple(sorted(pairs)))

    def __call__(self, abs_pid: np.ndarray) -> np.ndarray:
        """Fraction for each |PDG id| (any sign is dropped first)."""
        pid = np.abs(np.asarray(abs_pid, dtype=np.int64))
        if not self.by_pid:
            return np.full(len(pid), self.default)
        ids = np.array([p for p, _ in self.by_pid], dtype=np.int64)
        values = np.array([v for _, v in self.by_pid], dtype=np.float64)
        order = np.argsort(ids)
        ids, values = ids[order], values[order]
        pos = np.minimum(np.searchsorted(ids, pid), len(ids) - 1)
        return np.where(ids[pos] == pid, values[pos], self.default)


@dataclass(frozen=True)
class ResolutionRegion:
    """``sigma(E) = (f0 + f2*(|eta| - eta0)**2) * sqrt((c*E)**2 + s**2*E + n**2)`` (GeV).

    Valid for ``abs_eta_min < |eta| <= abs_eta_max`` (Delphes' ``abs(eta) > a &&
    abs(eta) <= b``); a region starting at 0 includes ``eta = 0``.
    """

    abs_eta_min: float
    abs_eta_max: float
    f0: float
    f2: float
    eta0: float
    c: float  # constant term
    s: float  # stochastic term, GeV^1/2
    n: float  # noise term, GeV


@dataclass(frozen=True)
class Resolution:
    """Absolute energy resolution piecewise in |eta| (zero outside every region)."""

    regions: tuple[ResolutionRegion, ...]

    def __post_init__(self) -> None:
        previous = 0.0
        for i, r in enumerate(self.regions):
            values = (r.abs_eta_min, r.abs_eta_max, r.f0, r.f2, r.eta0, r.c, r.s, r.n)
            if not all(np.isfinite(v) for v in values):
                msg = f"resolution region {i}: every value must be finite"
                raise ValueError(msg)
            if not previous <= r.abs_eta_min < r.abs_eta_max:
                msg = (
                    f"resolution region {i}: need {previous} <= abs_eta_min < abs_eta_max "
                    f"(regions sorted, not overlapping), got {r.abs_eta_min}, {r.abs_eta_max}"
                )
                raise ValueError(msg)
            if r.f0 < 0 or r.f2 < 0:
                msg = f"resolution region {i}: f0 and f2 must be >= 0"
                raise ValueError(msg)
            previous = r.abs_eta_max

    @classmethod
    def from_config(cls, tables: Sequence[Mapping[str, Any]]) -> Resolution:
        """From a list of tables with exactly the fields of :class:`ResolutionRegion`."""
        names = set(ResolutionRegion.__dataclass_fields__)
        regions = []
        for i, table in enumerate(tables):
            if set(table) != names:
                missing, unknown = sorted(names - set(table)), sorted(set(table) - names)
                msg = f"resolution region {i}: missing {missing}, unknown {unknown}"
                raise ValueError(msg)
            regions.append(
                ResolutionRegion(
                    **{
                        k: card_number(
                            table[k],
                            f"resolution region {i}: {k}",
                            0.0 if k != "eta0" else -math.inf,
                        )
                        for k in names
                    }
                )
            )
        return cls(tuple(regions))

    def __call__(self, eta: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """sigma(E) in GeV at pseudorapidity ``eta`` and energy ``energy`` (GeV)."""
        abs_eta = np.abs(np.asarray(eta, dtype=np.float64))
        energy = np.asarray(energy, dtype=np.float64)
        if not self.regions:
            return np.zeros(np.broadcast(abs_eta, energy).shape)
        columns = np.array(  # (8, R): one contiguous row per parameter
            [
                [r.abs_eta_min, r.abs_eta_max, r.f0, r.f2, r.eta0, r.c, r.s, r.n]
                for r in self.regions
            ]
        ).T.copy()
        idx = np.searchsorted(columns[1], abs_eta, side="left")  # first region with max >= |eta|
        inside = idx < len(self.regions)
        idx = np.minimum(idx, len(self.regions) - 1)
        lo, _, f0, f2, eta0, c, s, n = (column[idx] for column in columns)
        inside &= (abs_eta > lo) | (lo == 0)
        sigma = (f0 + f2 * (abs_eta - eta0) ** 2) * np.sqrt(
            (c * energy) ** 2 + s**2 * energy + n**2
        )
        return np.where(inside, sigma, 0.0)


@dataclass(frozen=True, eq=False)
class CalorimeterSpec:
    """One Delphes ``SimpleCalorimeter``: towers, fractions, resolution and thresholds."""

    segmentation: Segmentation
    energy_fraction: EnergyFractions
    resolution: Resolution  # sigma(E) in GeV, evaluated at the tower-centre eta
    energy_min: float  # GeV: towers and neutral excesses below are dropped (EnergyMin)
    energy_significance_min: float  # same, in units of sigma (EnergySignificanceMin)
    smear_tower_center: bool  # neutral direction uniform in the tower, else its centre
    neutral_pid: int  # PID of the neutral outputs: 22 (ECal photons), 0 (HCal hadrons)

    @classmethod
    def from_config(cls, table: Mapping[str, Any], name: str = "calorimeter") -> CalorimeterSpec:
        """From a card section whose keys are the field names, all required.

        ``segmentation`` is a list of blocks (:meth:`Segmentation.from_blocks`),
        ``energy_fraction`` a table (:meth:`EnergyFractions.from_config`), ``resolution``
        a list of regions (:meth:`Resolution.from_config`). Every key is required.
        """
        keys = {
            "segmentation",
            "energy_fraction",
            "resolution",
            "energy_min",
            "energy_significance_min",
            "smear_tower_center",
            "neutral_pid",
        }
        if set(table) != keys:
            missing, unknown = sorted(keys - set(table)), sorted(set(table) - keys)
            msg = f"[{name}]: missing keys {missing}, unknown keys {unknown}"
            raise ValueError(msg)
        if not isinstance(table["smear_tower_center"], bool):
            msg = f"[{name}]: smear_tower_center must be true or false"
            raise ValueError(msg)
        try:
            return cls(
                segmentation=Segmentation.from_blocks(table["segmentation"]),
                energy_fraction=EnergyFractions.from_config(table["energy_fraction"]),
                resolution=Resolution.from_config(table["resolution"]),
                energy_min=card_number(table["energy_min"], "energy_min", 0.0),
                energy_significance_min=card_number(
                    table["energy_significance_min"], "energy_significance_min", 0.0
                ),
                smear_tower_center=table["smear_tower_center"],
                neutral_pid=_neutral_pid(table["neutral_pid"]),
            )
        except ValueError as error:
            msg = f"[{name}]: {error}"
            raise ValueError(msg) from error


#: PDG ids a calorimeter's neutral outputs may carry, and the flag each one sets.
NEUTRAL_FLAGS = {22: "isPhoton", 0: "isNeutralHadron"}


def _neutral_pid(value: Any) -> int:
    if isinstance(value, bool) or value not in NEUTRAL_FLAGS:
        msg = f"neutral_pid must be 22 (photons) or 0 (neutral hadrons), found {value!r}"
        raise ValueError(msg)
    return int(value)


@dataclass(frozen=True, eq=False)
class CaloInput:
    """Particles or tracks of many events at the calorimeter surface (flat, float64)."""

    event: np.ndarray  # (N,) int64 event index
    energy: np.ndarray  # (N,) GeV
    eta: np.ndarray  # (N,) pseudorapidity of the calorimeter entry point
    phi: np.ndarray  # (N,) azimuth of the calorimeter entry point, in [-pi, pi]
    abs_pid: np.ndarray  # (N,) |PDG id|

    def __post_init__(self) -> None:
        lengths = {len(np.asarray(getattr(self, f))) for f in self.__dataclass_fields__}
        if len(lengths) != 1:
            msg = f"CaloInput: arrays of different lengths {sorted(lengths)}"
            raise ValueError(msg)

    def __len__(self) -> int:
        return len(self.energy)


@dataclass(frozen=True, eq=False)
class CalorimeterOutput:
    """What one calorimeter step returns.

    Tracks: multiply each track's pT (hence |p|) by ``track_scale`` at fixed eta, phi
    and mass (Delphes' ``SetPtEtaPhiM``); 0 means the track is gone. Neutrals, sorted
    by (event, tower): massless, energy ``neutral_energy`` along (eta, phi). Towers:
    every (event, tower) hit, sorted the same way (for diagnostics and tests).
    """

    track_scale: np.ndarray  # (n_tracks,)
    track_inside: np.ndarray  # (n_tracks,) bool: in a tower (Delphes passes only these on)
    n_tracks_outside: int  # tracks outside every tower (scale 0)
    neutral_event: np.ndarray  # (M,) int64
    neutral_energy: np.ndarray  # (M,) GeV
    neutral_eta: np.ndarray  # (M,)
    neutral_phi: np.ndarray  # (M,)
    neutral_tower: np.ndarray  # (M,) flat tower id
    neutral_pid: int
    tower_event: np.ndarray  # (T,) int64
    tower_id: np.ndarray  # (T,) flat tower id
    tower_energy: np.ndarray  # (T,) GeV, deposited sum of E*fraction (before smearing)
    tower_track_energy: np.ndarray  # (T,) GeV, sum of E*fraction of the tower's tracks
    tower_measured: np.ndarray  # (T,) GeV, smeared energy E', 0 if below threshold
    tower_sigma: np.ndarray  # (T,) GeV, resolution at E' (before zeroing)


def log_normal(mean: np.ndarray, sigma: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Delphes' ``LogNormal(mean, sigma)`` given standard-normal draws; 0 where mean <= 0.

    ``b = sqrt(ln(1 + sigma**2/mean**2))``, ``a = ln(mean) - b**2/2``,
    ``exp(a + b*normal)``: a log-normal variable with that mean and standard deviation.
    """
    positive = mean > 0
    safe = np.where(positive, mean, 1.0)
    b = np.sqrt(np.log1p((sigma / safe) ** 2))
    a = np.log(safe) - 0.5 * b * b
    return np.where(positive, np.exp(a + b * normal), 0.0)


def simulate(
    spec: CalorimeterSpec, particles: CaloInput, tracks: CaloInput, rng: np.random.Generator
) -> CalorimeterOutput:
    """One ``SimpleCalorimeter`` step over many events (see the module docstring).

    Draws ``T`` standard normals then, with ``smear_tower_center``, ``2*T`` uniforms,
    ``T`` being the number of (event, tower) hits: the output depends only on the inputs
    and the generator state.
    """
    seg = spec.segmentation
    n_towers = seg.n_towers

    p_fraction = spec.energy_fraction(particles.abs_pid)
    p_sel = np.flatnonzero(p_fraction >= FRACTION_EPSILON)  # Delphes skips f < 1e-9
    p_tower, p_in = seg.tower_index(
        np.asarray(particles.eta)[p_sel], np.asarray(particles.phi)[p_sel]
    )
    p_sel, p_tower = p_sel[p_in], p_tower[p_in]

    t_fraction = spec.energy_fraction(tracks.abs_pid)
    t_tower, t_in = seg.tower_index(tracks.eta, tracks.phi)
    t_calo = t_in & (t_fraction > FRACTION_EPSILON)
    t_sel = np.flatnonzero(t_calo)

    p_event = np.asarray(particles.event, dtype=np.int64)[p_sel]
    t_event = np.asarray(tracks.event, dtype=np.int64)[t_sel]
    for ev in (p_event, t_event):
        if ev.size and max(abs(int(ev.min())), abs(int(ev.max()))) >= _MAX_KEY // n_towers:
            msg = f"event index too large for {n_towers} towers per event"
            raise ValueError(msg)
    keys, inverse = np.unique(
        np.concatenate([p_event * n_towers + p_tower, t_event * n_towers + t_tower[t_sel]]),
        return_inverse=True,
    )
    p_inv, t_inv = inverse[: len(p_sel)], inverse[len(p_sel) :]
    n_hit = len(keys)
    deposited = np.bincount(
        p_inv,
        weights=np.asarray(particles.energy, dtype=np.float64)[p_sel] * p_fraction[p_sel],
        minlength=n_hit,
    )
    track_energy = np.bincount(
        t_inv,
        weights=np.asarray(tracks.energy, dtype=np.float64)[t_sel] * t_fraction[t_sel],
        minlength=n_hit,
    )
    tower_event, tower_id = keys // n_towers, keys % n_towers
    eta_lo, eta_hi, phi_lo, phi_hi = seg.tower_edges(tower_id)
    eta_centre = 0.5 * (eta_lo + eta_hi)

    normal = rng.standard_normal(n_hit)
    if spec.smear_tower_center:
        uniform = rng.random((2, n_hit))
        eta = eta_lo + (eta_hi - eta_lo) * uniform[0]
        phi = phi_lo + (phi_hi - phi_lo) * uniform[1]
    else:
        eta, phi = eta_centre, 0.5 * (phi_lo + phi_hi)

    smeared = log_normal(deposited, spec.resolution(eta_centre, deposited), normal)
    sigma = spec.resolution(eta_centre, smeared)  # at E', before zeroing (Delphes' order)
    below = (smeared < spec.energy_min) | (smeared < spec.energy_significance_min * sigma)
    measured = np.where(below, 0.0, smeared)

    # Track resolution is 0 (JetClass): neutral significance uses sigma alone, and the
    # best estimate of a tower's charged energy is the calorimeter's E'.
    neutral = np.maximum(measured - track_energy, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        significance = neutral / sigma
    emit = (neutral > spec.energy_min) & (significance > spec.energy_significance_min)
    rescale = np.divide(
        measured, track_energy, out=np.zeros(n_hit), where=track_energy > 0
    )  # no tracks: unused; zero-energy tracks only: Delphes drops them (scale 0)
    tower_scale = np.where(emit, 1.0, rescale)

    track_scale = np.where(t_in, 1.0, 0.0)  # f <= 1e-9 in a tower: unchanged
    track_scale[t_sel] = tower_scale[t_inv]

    return CalorimeterOutput(
        track_scale=track_scale,
        track_inside=t_in,
        n_tracks_outside=int(np.count_nonzero(~t_in)),
        neutral_event=tower_event[emit],
        neutral_energy=neutral[emit],
        neutral_eta=eta[emit],
        neutral_phi=phi[emit],
        neutral_tower=tower_id[emit],
        neutral_pid=spec.neutral_pid,
        tower_event=tower_event,
        tower_id=tower_id,
        tower_energy=deposited,
        tower_track_energy=track_energy,
        tower_measured=measured,
        tower_sigma=sigma,
    )
