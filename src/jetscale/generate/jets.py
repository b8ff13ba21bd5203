"""From detector-level particles of many events to JetClass jet records.

:func:`build_jets` clusters every event, keeps the jets in the pT window
(JetClass's ``500 < pT < 1000`` GeV by default, see :func:`check_pt_range`) and
``|eta| < 2`` that pass a selection mask (truth matching), and fills the internal
layout of :mod:`jetscale.schema`: jet kinematics from the E-scheme sum of the
constituents, soft drop, N-subjettiness, and constituents sorted by descending pT
(ties by their order in the event) with ``deta = eta - eta_jet`` and
``dphi = phi - phi_jet`` wrapped into [-pi, pi].

Everything between the FastJet calls is numpy on flat arrays (one entry per
particle, jet or constituent of the whole batch), and the records are assembled
from awkward's layout classes directly: the high-level awkward operations this
replaced cost more than the clustering itself. Jet kinematics follow the
formulas of ``vector`` (which computed them before), so the records are
bit-for-bit those of the awkward version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import awkward as ak
import numpy as np

from jetscale import schema
from jetscale.generate.detector import RecoParticles
from jetscale.generate.substructure import cluster_jets, jet_substructure

JET_PT_MIN = 500.0  # GeV
JET_PT_MAX = 1000.0  # GeV
#: JetClass's jet pT window, GeV: the default of ``jetscale generate --pt-range``.
DEFAULT_PT_RANGE: tuple[float, float] = (JET_PT_MIN, JET_PT_MAX)
#: Highest jet pT a window may reach, GeV: half the 13 TeV collision energy.
PT_LIMIT = 6500.0
JET_ABS_ETA_MAX = 2.0


def check_pt_range(pt_range: tuple[float, float] | list[float]) -> tuple[float, float]:
    """``pt_range`` as ``(min, max)`` floats in GeV; a ValueError unless ``0 < min < max <= 6500``."""
    try:
        low, high = (float(v) for v in pt_range)
    except (TypeError, ValueError):
        msg = f"pt_range must be two numbers (min, max) in GeV, got {pt_range!r}"
        raise ValueError(msg) from None
    if not (0 < low < high <= PT_LIMIT):
        msg = f"pt_range must satisfy 0 < min < max <= {PT_LIMIT:g} GeV, got ({low:g}, {high:g})"
        raise ValueError(msg)
    return low, high


@dataclass(frozen=True)
class JetCandidates:
    """Jets of a batch of events in the window, flat: ``(J,)`` arrays and their constituents."""

    event: np.ndarray  # (J,) int64, event of each jet, ascending
    pt: np.ndarray  # (J,) GeV, E-scheme sum of the constituents
    eta: np.ndarray
    phi: np.ndarray
    energy: np.ndarray  # (J,) GeV
    #: (J + 1,) int64: the constituents of jet j are ``index[offsets[j]:offsets[j + 1]]``
    offsets: np.ndarray
    #: (C,) int64 positions of the constituents in the RecoParticles, in FastJet's order
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.pt)

    def take(self, jets: np.ndarray) -> JetCandidates:
        """The candidates ``jets`` (indices, or a boolean mask), in that order."""
        jets = np.arange(len(self))[jets] if jets.dtype == np.bool_ else jets
        offsets, positions = _gather_lists(self.offsets, jets)
        return JetCandidates(
            self.event[jets],
            self.pt[jets],
            self.eta[jets],
            self.phi[jets],
            self.energy[jets],
            offsets,
            self.index[positions],
        )


def _gather_lists(offsets: np.ndarray, lists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and flat positions of the lists ``lists`` of a ``(list, item)`` layout, in that order."""
    counts = np.diff(offsets)[lists]
    new_offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(counts, out=new_offsets[1:])
    positions = np.arange(new_offsets[-1]) + np.repeat(offsets[lists] - new_offsets[:-1], counts)
    return new_offsets, positions


def _eta(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """Pseudorapidity as ``vector`` computes it (0 for a null momentum, +-inf along the beam)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / np.sqrt(px**2 + py**2))
    eta[np.isnan(eta) & (pz == 0)] = 0.0
    return eta


def candidate_jets(
    reco: RecoParticles, n_events: int, pt_range: tuple[float, float] = DEFAULT_PT_RANGE
) -> JetCandidates:
    """Cluster all events; the jets in the window with their constituents.

    The window is ``pt_range[0] < pT < pt_range[1]`` (GeV) and ``|eta| < 2``; jets
    come in event order, then in FastJet's order.
    """
    counts = np.bincount(reco.event, minlength=n_events)
    event_offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(counts, out=event_offsets[1:])
    pt_min, pt_max = pt_range
    jet_offsets, offsets, index = cluster_jets(
        reco.px, reco.py, reco.pz, reco.energy, event_offsets, min_pt=pt_min
    )
    n_jets = len(offsets) - 1
    jet_of = np.repeat(np.arange(n_jets), np.diff(offsets))
    # bincount adds in input order, as awkward's sum over each jet's list did.
    px, py, pz, energy = (
        np.bincount(jet_of, weights=column[index], minlength=n_jets)
        for column in (reco.px, reco.py, reco.pz, reco.energy)
    )
    pt = np.sqrt(px**2 + py**2)
    eta = _eta(px, py, pz)
    candidates = JetCandidates(
        event=np.repeat(np.arange(n_events), np.diff(jet_offsets)),
        pt=pt,
        eta=eta,
        phi=np.arctan2(py, px),
        energy=energy,
        offsets=offsets,
        index=index,
    )
    in_window = (pt > pt_min) & (pt < pt_max) & (abs(eta) < JET_ABS_ETA_MAX)
    return candidates.take(in_window)


def _per_event(candidates: JetCandidates, n_events: int) -> ak.Array:
    """The candidates as a jagged ``(event, jet)`` array with ``pt, eta, phi, energy``."""
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(np.bincount(candidates.event, minlength=n_events), out=offsets[1:])
    fields = ("pt", "eta", "phi", "energy")
    columns = [ak.contents.NumpyArray(getattr(candidates, name)) for name in fields]
    return ak.Array(
        ak.contents.ListOffsetArray(
            ak.index.Index64(offsets), ak.contents.RecordArray(columns, list(fields))
        )
    )


def build_jets(
    reco: RecoParticles,
    n_events: int,
    label: int,
    select: Callable[[ak.Array], ak.Array] | None = None,
    pt_range: tuple[float, float] = DEFAULT_PT_RANGE,
) -> ak.Array:
    """JetClass records (internal layout) for the selected jets of a batch of events.

    Jets lie in ``pt_range`` (GeV) and ``|eta| < 2``; ``label`` is written to every one.
    ``select`` maps the ``(event, jet)`` candidates (fields ``pt, eta, phi``) to a
    boolean mask of the same shape; ``None`` keeps every jet in the window.
    Jets come out in event order, and by descending pT within an event.
    """
    candidates = candidate_jets(reco, n_events, pt_range)
    keep = np.ones(len(candidates), dtype=bool)
    if select is not None:
        mask = select(_per_event(candidates, n_events))
        keep = np.asarray(ak.to_numpy(ak.flatten(mask, axis=1)), dtype=bool)
    jets, _ = _kept_by_pt(candidates, keep)
    return _records(jets, _sort_by_pt(jets, reco), reco, label)


def build_keyed_jets(
    reco: RecoParticles,
    n_events: int,
    label: int,
    assign: Callable[[ak.Array], ak.Array],
    pt_range: tuple[float, float] = DEFAULT_PT_RANGE,
) -> tuple[ak.Array, np.ndarray, np.ndarray]:
    """:func:`build_jets` for jets matched to keyed objects (re-simulated views).

    ``assign`` maps the ``(event, jet)`` candidates to the int key of the object
    each jet is matched to, -1 for none (:func:`~jetscale.generate.truth.assign_jets`);
    matched jets are kept. Returns the records, and for each record its event
    in the batch and its key.
    """
    candidates = candidate_jets(reco, n_events, pt_range)
    keys = np.asarray(ak.to_numpy(ak.flatten(assign(_per_event(candidates, n_events)), axis=1)))
    jets, order = _kept_by_pt(candidates, keys >= 0)
    records = _records(jets, _sort_by_pt(jets, reco), reco, label)
    return records, jets.event, keys[order]


def _kept_by_pt(candidates: JetCandidates, keep: np.ndarray) -> tuple[JetCandidates, np.ndarray]:
    """The kept candidates in event order, by descending pT within an event, and their positions."""
    # Stable: equal pT keep FastJet's order.
    order = np.lexsort((-candidates.pt, candidates.event))
    kept = order[keep[order]]
    return candidates.take(kept), kept


def _sort_by_pt(jets: JetCandidates, reco: RecoParticles) -> np.ndarray:
    """The constituents of each jet by descending pT, ties by position in the event (flat positions)."""
    pt = np.hypot(reco.px[jets.index], reco.py[jets.index])
    jet_id = np.repeat(np.arange(len(jets)), np.diff(jets.offsets))
    return jets.index[np.lexsort((jets.index, -pt, jet_id))]


def _records(jets: JetCandidates, index: np.ndarray, reco: RecoParticles, label: int) -> ak.Array:
    """The JetClass records of ``jets``, whose constituents are ``index`` (sorted, flat positions)."""
    counts = np.diff(jets.offsets)
    px, py, pz, energy = (reco.px[index], reco.py[index], reco.pz[index], reco.energy[index])
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    jet_eta = np.repeat(jets.eta, counts)
    jet_phi = np.repeat(jets.phi, counts)
    content = {
        "px": px,
        "py": py,
        "pz": pz,
        "energy": energy,
        # JetClass's convention: the sign flips for backward jets (eta_jet < 0), so
        # deta > 0 always points away from the beam-line's nearer end.
        "deta": np.where(jet_eta > 0, 1.0, -1.0) * (eta - jet_eta),
        "dphi": (phi - jet_phi + np.pi) % (2 * np.pi) - np.pi,
        **{f: getattr(reco, f)[index] for f in ("d0val", "d0err", "dzval", "dzerr", "charge")},
    }
    fields = {f: content[f].astype(np.float32) for f in schema.CONSTITUENT_FLOAT_FIELDS}
    fields |= {f: getattr(reco, f)[index].astype(np.int32) for f in schema.CONSTITUENT_INT_FIELDS}
    sdmass, taus = jet_substructure(px, py, pz, energy, jets.offsets)
    record = {
        "pt": jets.pt,
        "eta": jets.eta,
        "phi": jets.phi,
        "energy": jets.energy,
        "nparticles": counts,
        "sdmass": sdmass,
        **{f"tau{n}": taus[:, n - 1] for n in range(1, 5)},
    }
    out = {f: np.asarray(v, dtype=np.float32) for f, v in record.items()}
    out["label"] = np.full(len(counts), label, dtype=np.int32)
    constituents = ak.contents.ListOffsetArray(
        ak.index.Index64(jets.offsets),
        ak.contents.RecordArray([ak.contents.NumpyArray(v) for v in fields.values()], list(fields)),
    )
    contents = [ak.contents.NumpyArray(v) for v in out.values()]
    return ak.Array(
        ak.contents.RecordArray(
            [*contents, constituents], [*out, "constituents"], length=len(counts)
        )
    )
