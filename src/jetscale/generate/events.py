"""Pythia 8 events: set up a generator and pull final-state particles into numpy.

Reading particles through the Python bindings costs 0.2-0.5 microseconds per
call and is, after event generation itself, the bottleneck; :func:`final_particles`
therefore visits only final-state particles, with unbound methods mapped over
them, and leaves everything else (charge, eta, selection) to vectorised numpy.
Generation reads the record from memory in bulk instead
(:mod:`~jetscale.generate.event_memory`, 50 times faster), with this as its
fallback and its check; :func:`stack_final` stacks what either returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from jetscale._optional import import_optional
from jetscale.generate.detector import GenParticles


def require_pythia() -> Any:
    """The ``pythia8mc`` module, imported on first use (the ``gen`` extra)."""
    return import_optional("pythia8mc", extra="gen", purpose="jetscale.generate (Pythia 8)")


def make_pythia(settings: Sequence[str], hard_process: Any = None) -> Any:
    """An initialised ``pythia8mc.Pythia`` configured with ``settings`` (readString lines).

    ``hard_process`` is a ``pythia8mc.LHAup`` for ``Beams:frameType = 5``
    (re-simulation: :mod:`~jetscale.generate.resimulate`); the caller keeps it alive.
    """
    module = require_pythia()
    pythia = module.Pythia("", False)  # no banner
    for line in settings:
        if not pythia.readString(line):
            msg = f"Pythia rejected the setting {line!r}"
            raise ValueError(msg)
    if hard_process is not None:
        pythia.setLHAupPtr(hard_process)
    if not pythia.init():
        msg = "Pythia initialisation failed for settings: " + "; ".join(settings)
        raise RuntimeError(msg)
    return pythia


#: What jetscale reads of a final-state particle: ``Particle`` accessors (GeV, mm).
FINAL_FIELDS = ("px", "py", "pz", "e", "id", "xProd", "yProd", "zProd")


def final_particles(event: Any) -> tuple[list[Any], ...]:
    """Final-state particles of a ``pythia8mc.Event`` as eight lists.

    Returns ``(px, py, pz, e, id, xProd, yProd, zProd)`` (GeV, mm).
    """
    particle = require_pythia().Particle
    final = list(filter(particle.isFinal, event))
    return tuple(list(map(getattr(particle, name), final)) for name in FINAL_FIELDS)


class ChargeTable:
    """Electric charge by PDG id, cached from Pythia's particle data."""

    def __init__(self, particle_data: Any) -> None:
        self._data = particle_data
        self._cache: dict[int, float] = {}

    def __call__(self, pdgid: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(pdgid, return_inverse=True)
        for pid in unique.tolist():
            if pid not in self._cache:
                self._cache[pid] = float(self._data.charge(pid))
        charges = np.array([self._cache[pid] for pid in unique.tolist()], dtype=np.float64)
        return charges[inverse].reshape(pdgid.shape)


def stack_events(
    per_event: Sequence[tuple[list[Any], ...]], charge_of: ChargeTable
) -> GenParticles:
    """Concatenate the :func:`final_particles` output of many events into :class:`GenParticles`."""
    counts = np.array([len(ev[0]) for ev in per_event], dtype=np.int64)
    total = int(counts.sum())
    columns = [
        np.fromiter(
            chain.from_iterable(ev[k] for ev in per_event),
            np.int64 if k == 4 else np.float64,
            total,
        )
        for k in range(len(FINAL_FIELDS))
    ]
    return _gen_particles(counts, columns, charge_of)


def stack_final(per_event: Sequence[Sequence[np.ndarray]], charge_of: ChargeTable) -> GenParticles:
    """Concatenate the final-state particles of many events into :class:`GenParticles`.

    Each entry (one or more) holds one event's arrays in :data:`FINAL_FIELDS`
    order: what :class:`~jetscale.generate.event_memory.EventReader` returns.
    """
    counts = np.array([len(columns[0]) for columns in per_event], dtype=np.int64)
    stacked = [
        np.concatenate([columns[k] for columns in per_event]).astype(
            np.int64 if k == 4 else np.float64, copy=False
        )
        for k in range(len(FINAL_FIELDS))
    ]
    return _gen_particles(counts, stacked, charge_of)


def _gen_particles(
    counts: np.ndarray, columns: Sequence[np.ndarray], charge_of: ChargeTable
) -> GenParticles:
    """:class:`GenParticles` of events with ``counts`` particles, from stacked :data:`FINAL_FIELDS` columns."""
    px, py, pz, energy, pdgid, vx, vy, vz = columns
    return GenParticles(
        event=np.repeat(np.arange(len(counts), dtype=np.int64), counts),
        px=px,
        py=py,
        pz=pz,
        energy=energy,
        pdgid=pdgid,
        charge=charge_of(pdgid),
        vx=vx,
        vy=vy,
        vz=vz,
    )
