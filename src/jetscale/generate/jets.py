"""From detector-level particles of many events to JetClass jet records.

:func:`build_jets` clusters every event, keeps the jets in the pT window
(JetClass's ``500 < pT < 1000`` GeV by default, see :func:`check_pt_range`) and
``|eta| < 2`` that pass a selection mask (truth matching), and fills the internal
layout of :mod:`jetscale.schema`: jet kinematics from the E-scheme sum of the
constituents, soft drop, N-subjettiness, and constituents sorted by descending pT
(ties by their order in the event) with ``deta = eta - eta_jet`` and
``dphi = phi - phi_jet`` wrapped into [-pi, pi].
"""

from __future__ import annotations

from collections.abc import Callable

import awkward as ak
import numpy as np
import vector

from jetscale import schema
from jetscale.generate.detector import RecoParticles
from jetscale.generate.substructure import cluster_constituents, nsubjettiness, softdrop_mass

vector.register_awkward()

JET_PT_MIN = 500.0  # GeV
JET_PT_MAX = 1000.0  # GeV
#: JetClass's jet pT window, GeV: the default of ``jetscale generate --pt-range``.
DEFAULT_PT_RANGE: tuple[float, float] = (JET_PT_MIN, JET_PT_MAX)
#: Highest jet pT a window may reach, GeV: half the 13 TeV collision energy.
PT_LIMIT = 6500.0
JET_ABS_ETA_MAX = 2.0

_PARTICLE_FIELDS = (
    "px",
    "py",
    "pz",
    "energy",
    "charge",
    "d0val",
    "d0err",
    "dzval",
    "dzerr",
    *schema.CONSTITUENT_INT_FIELDS,
)


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


def candidate_jets(
    reco: RecoParticles, n_events: int, pt_range: tuple[float, float] = DEFAULT_PT_RANGE
) -> tuple[ak.Array, ak.Array]:
    """Cluster all events; return ``(jets, constituents)`` for jets in the window.

    The window is ``pt_range[0] < pT < pt_range[1]`` (GeV) and ``|eta| < 2``.

    ``jets`` is ``(event, jet)`` with ``pt, eta, phi, energy`` (GeV); ``constituents``
    is ``(event, jet, constituent)`` with the :class:`RecoParticles` fields plus
    ``index`` (position of the particle in its event).
    """
    counts = np.bincount(reco.event, minlength=n_events)
    flat = {name: getattr(reco, name) for name in _PARTICLE_FIELDS}
    flat["index"] = np.arange(len(reco)) - np.repeat(np.cumsum(counts) - counts, counts)
    particles = ak.zip(flat)
    pt_min, pt_max = pt_range
    indices = cluster_constituents(
        ak.unflatten(particles, counts), min_pt=pt_min
    )  # (event, jet, constituent)
    # Global positions in the flat particle arrays, then back to (event, jet, constituent).
    starts = np.cumsum(counts) - counts
    jets_per_event = ak.to_numpy(ak.num(indices, axis=1))
    constituents_per_jet = ak.to_numpy(ak.flatten(ak.num(indices, axis=2)))
    flat_index = ak.to_numpy(ak.flatten(indices, axis=None)) + np.repeat(
        np.repeat(starts, jets_per_event), constituents_per_jet
    )
    constituents = ak.unflatten(
        ak.unflatten(particles[flat_index], constituents_per_jet), jets_per_event
    )
    p4 = ak.zip(
        {
            "px": ak.sum(constituents.px, axis=-1),
            "py": ak.sum(constituents.py, axis=-1),
            "pz": ak.sum(constituents.pz, axis=-1),
            "E": ak.sum(constituents.energy, axis=-1),
        },
        with_name="Momentum4D",
    )
    jets = ak.zip({"pt": p4.pt, "eta": p4.eta, "phi": p4.phi, "energy": p4.E})
    in_window = (jets.pt > pt_min) & (jets.pt < pt_max) & (abs(jets.eta) < JET_ABS_ETA_MAX)
    return jets[in_window], constituents[in_window]


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
    jets, constituents = candidate_jets(reco, n_events, pt_range)
    if select is not None:
        mask = select(jets)
        jets, constituents = jets[mask], constituents[mask]
    order = ak.argsort(jets.pt, axis=1, ascending=False, stable=True)
    jets = ak.flatten(jets[order], axis=1)
    constituents = ak.flatten(constituents[order], axis=1)  # (jet, constituent)
    return _records(jets, _sort_by_pt(constituents), label)


def _sort_by_pt(constituents: ak.Array) -> ak.Array:
    """Constituents of each jet by descending pT, ties by original index."""
    counts = ak.to_numpy(ak.num(constituents, axis=1))
    flat = ak.flatten(constituents, axis=1)
    pt = np.hypot(ak.to_numpy(flat.px), ak.to_numpy(flat.py))
    jet_id = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((ak.to_numpy(flat.index), -pt, jet_id))
    return ak.unflatten(flat[order], counts)


def _records(jets: ak.Array, constituents: ak.Array, label: int) -> ak.Array:
    counts = ak.to_numpy(ak.num(constituents, axis=1))
    flat = ak.flatten(constituents, axis=1)
    px, py, pz = (ak.to_numpy(flat[f]) for f in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / pt)
    phi = np.arctan2(py, px)
    jet_eta = np.repeat(ak.to_numpy(jets.eta), counts)
    jet_phi = np.repeat(ak.to_numpy(jets.phi), counts)
    content = {
        "px": px,
        "py": py,
        "pz": pz,
        "energy": ak.to_numpy(flat.energy),
        # JetClass's convention: the sign flips for backward jets (eta_jet < 0), so
        # deta > 0 always points away from the beam-line's nearer end.
        "deta": np.where(jet_eta > 0, 1.0, -1.0) * (eta - jet_eta),
        "dphi": (phi - jet_phi + np.pi) % (2 * np.pi) - np.pi,
        **{f: ak.to_numpy(flat[f]) for f in ("d0val", "d0err", "dzval", "dzerr", "charge")},
    }
    fields = {
        f: ak.unflatten(content[f].astype(np.float32), counts)
        for f in schema.CONSTITUENT_FLOAT_FIELDS
    }
    fields |= {
        f: ak.unflatten(ak.to_numpy(flat[f]).astype(np.int32), counts)
        for f in schema.CONSTITUENT_INT_FIELDS
    }
    taus = nsubjettiness(constituents)
    record = {
        "pt": ak.to_numpy(jets.pt),
        "eta": ak.to_numpy(jets.eta),
        "phi": ak.to_numpy(jets.phi),
        "energy": ak.to_numpy(jets.energy),
        "nparticles": counts,
        "sdmass": softdrop_mass(constituents),
        **{f"tau{n}": taus[:, n - 1] for n in range(1, 5)},
    }
    out = {f: np.asarray(v, dtype=np.float32) for f, v in record.items()}
    out["label"] = np.full(len(counts), label, dtype=np.int32)
    out["constituents"] = ak.zip(fields)
    return ak.zip(out, depth_limit=1)
