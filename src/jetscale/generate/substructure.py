"""Jet clustering and substructure with FastJet's awkward interface, many events at once.

* :func:`cluster_constituents` -- anti-kT R = 0.8 jets of every event, as indices
  of their constituents;
* :func:`softdrop_mass` -- soft-drop mass (z_cut = 0.1, beta = 0, R0 = 0.8);
* :func:`nsubjettiness` -- tau_1..tau_4 with beta = 1 (normalised measure,
  one-pass kT axes, R0 = 0.8).

The last two take one list of constituents per jet: each jet is handed to FastJet
as its own "event" and reclustered with Cambridge/Aachen at a radius larger than
any two constituents' separation, so its single exclusive jet holds them all.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import awkward as ak
import numpy as np

from jetscale._optional import import_optional

JET_RADIUS = 0.8
SOFTDROP_ZCUT = 0.1
SOFTDROP_BETA = 0.0
NSUBJETTINESS_BETA = 1.0
#: C/A radius for reclustering one jet into a single exclusive jet: anti-kT R = 0.8
#: constituents are at most about 2R apart.
_RECLUSTER_RADIUS = 2.5

_banner_silenced = False


def _fastjet() -> Any:
    """The ``fastjet`` module, imported on first use (the ``gen`` extra), its banner silenced."""
    global _banner_silenced
    fastjet = import_optional("fastjet", extra="gen", purpose="jetscale.generate (FastJet)")
    if not _banner_silenced:
        _silence_banner(fastjet)
        _banner_silenced = True
    return fastjet


def _silence_banner(fastjet: Any) -> None:
    """Let FastJet print its once-per-process banner into /dev/null (library code stays quiet)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:  # noqa: PTH123 - need a raw file descriptor
            os.dup2(devnull.fileno(), 1)
            one = ak.Array([[{"px": 1.0, "py": 0.0, "pz": 0.0, "E": 1.0}]])
            fastjet.ClusterSequence(
                one, fastjet.JetDefinition(fastjet.antikt_algorithm, JET_RADIUS)
            ).inclusive_jets()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _four_vectors(particles: ak.Array) -> ak.Array:
    """``px, py, pz, E`` records (float64) from records with ``px, py, pz, energy``."""
    return ak.zip(
        {
            "px": ak.values_astype(particles.px, np.float64),
            "py": ak.values_astype(particles.py, np.float64),
            "pz": ak.values_astype(particles.pz, np.float64),
            "E": ak.values_astype(particles.energy, np.float64),
        }
    )


def cluster_constituents(particles: ak.Array, min_pt: float) -> ak.Array:
    """Anti-kT R = 0.8 jets above ``min_pt`` (GeV) as constituent indices.

    ``particles`` is jagged ``(event, particle)`` with ``px, py, pz, energy``; the
    result is ``(event, jet, constituent)`` indices into each event's particles.
    """
    fj = _fastjet()
    jetdef = fj.JetDefinition(fj.antikt_algorithm, JET_RADIUS)
    return fj.ClusterSequence(_four_vectors(particles), jetdef).constituent_index(min_pt)


def _per_jet_sequence(constituents: ak.Array) -> Any:
    fj = _fastjet()
    jetdef = fj.JetDefinition(fj.cambridge_algorithm, _RECLUSTER_RADIUS)
    return fj.ClusterSequence(_four_vectors(constituents), jetdef)


def softdrop_mass(constituents: ak.Array) -> np.ndarray:
    """Soft-drop mass (GeV) of each jet; ``constituents`` is jagged ``(jet, constituent)``."""
    if len(constituents) == 0:
        return np.zeros(0)
    groomed = _per_jet_sequence(constituents).exclusive_jets_softdrop_grooming(
        njets=1, beta=SOFTDROP_BETA, symmetry_cut=SOFTDROP_ZCUT, R0=JET_RADIUS
    )
    return np.asarray(ak.to_numpy(groomed.msoftdrop), dtype=np.float64)


def nsubjettiness(constituents: ak.Array) -> np.ndarray:
    """N-subjettiness ``(jet, 4)`` array of tau_1..tau_4 (beta = 1, normalised, one-pass kT axes)."""
    if len(constituents) == 0:
        return np.zeros((0, 4))
    taus = _per_jet_sequence(constituents).njettiness(
        measure_definition="NormalizedMeasure",
        axes_definition="OnePass_KT_Axes",
        njets=[1, 2, 3, 4],
        beta=NSUBJETTINESS_BETA,
        R0=JET_RADIUS,
    )
    return np.asarray(ak.to_numpy(taus), dtype=np.float64).reshape(len(constituents), 4)
