"""Pythia's event record read from memory in bulk, with the bindings as the fallback.

pythia8mc's bindings return one attribute of one particle per call (0.2-0.5 us
each), so reading the columns jetscale needs through them
(:func:`~jetscale.generate.events.final_particles`) costs 1.5-3 ms an event,
15-20 % of a worker's time next to Pythia's 8-10 ms, and the bindings have no
bulk accessor. The record is one ``std::vector<Pythia8::Particle>`` inside
Pythia, so :class:`EventReader` views it through numpy with a structured dtype
that mirrors the C++ class and copies the final-state columns out: about 0.1 ms
an event. The values are the very doubles and ints the accessors return, so the
jets do not change by a bit.

This leans on what the bindings do not promise: pybind11 keeps the C++ pointer
right after the Python object header, ``Pythia8::Event`` starts its particle
vector at byte 8, and ``Pythia8::Particle`` has the layout of :data:`PARTICLE_LAYOUT`
(pythia8mc 8.317, 64-bit Linux). So nothing is taken on trust:

* the first :data:`FULL_CHECKS` events a reader sees are read through
  ``/proc/self/mem``, where a wrong address is an ``OSError`` and never a
  crash, and compared with the accessors field by field for every particle of
  the record;
* only then, and only at the address so checked, is memory read directly; every
  event checks the vector's length against ``Event.size()``, the number of
  final-state particles against ``Event.nFinal()`` and the last of them against
  its accessors.

Any failure (another platform or Python, another Pythia) switches the reader to
the bindings for good, after one warning; the output is the same either way.
"""

from __future__ import annotations

import ctypes
import logging
import os
import struct
import sys
from typing import Any

import numpy as np

from jetscale._optional import import_optional
from jetscale.generate.events import FINAL_FIELDS, final_particles

log = logging.getLogger(__name__)

#: The fields of ``Pythia8::Particle`` that jetscale reads, at their byte offsets
#: (pythia8mc 8.317, x86-64): ``idSave``, ``statusSave``, ``pSave`` (px, py, pz, e,
#: GeV) and ``vProdSave`` (x, y, z, mm); 168 bytes a particle, a vtable pointer first.
PARTICLE_LAYOUT = np.dtype(
    {
        "names": [*FINAL_FIELDS, "status"],
        "formats": ["<f8", "<f8", "<f8", "<f8", "<i4", "<f8", "<f8", "<f8", "<i4"],
        "offsets": [40, 48, 56, 64, 8, 104, 112, 120, 12],
        "itemsize": 168,
    }
)
#: Byte offset of ``std::vector<Particle> entry`` (begin, end pointers) in ``Pythia8::Event``.
_ENTRY_OFFSET = 8
#: pybind11 keeps the C++ pointer right after the Python object header.
_VALUE_OFFSET = object.__basicsize__
_BEGIN_END = struct.Struct("<QQ")
_POINTER_PAIR = ctypes.c_uint64 * 2


#: Events of each reader compared with the bindings field by field before memory is trusted.
FULL_CHECKS = 3

_warned = False


def _warn_once(err: Exception) -> None:
    """One warning per process that generation reads the slow way, and why."""
    global _warned
    if not _warned:
        log.warning("reading Pythia's event record through its bindings (slower): %s", err)
        _warned = True


class LayoutMismatch(RuntimeError):
    """The event record in memory is not laid out as :data:`PARTICLE_LAYOUT` says."""


#: One event's final-state particles: one array per :data:`FINAL_FIELDS` entry, in that order.
Columns = tuple[np.ndarray, ...]


def from_bindings(event: Any) -> Columns:
    """Final-state particles of a ``pythia8mc.Event`` through the accessors (float64, ids int64)."""
    return tuple(np.asarray(column) for column in final_particles(event))


class _Memory:
    """Bytes at an address, as numpy sees them (``__array_interface__``): no copy, no ctypes type."""

    def __init__(self, address: int, size: int) -> None:
        self.__array_interface__ = {
            "data": (address, True),
            "shape": (size,),
            "typestr": "|u1",
            "version": 3,
        }


class EventReader:
    """Final-state particles of each new event of one ``pythia8mc.Pythia``, as :data:`Columns`.

    Call it with ``pythia.event`` after every ``pythia.next()``. ``bulk`` says
    which path it takes: ``None`` before the first event, ``True`` for the
    memory copy, ``False`` for the bindings. The ids are int32 from memory and
    int64 from the bindings, with the same values.
    """

    def __init__(self) -> None:
        self.bulk: bool | None = None if sys.platform == "linux" else False
        self._event_address = 0  # the C++ Event checked on the first event
        # Field-by-field checks on the first events, not one: a field that happens to be
        # zero in every particle of one event (production vertices) would pass it.
        self._full_checks_left = FULL_CHECKS

    def __call__(self, event: Any) -> Columns:
        if self.bulk is not False:
            try:
                return self._read(event)
            except (LayoutMismatch, OSError) as err:
                self.bulk = False
                _warn_once(err)
        return from_bindings(event)

    def _read(self, event: Any) -> Columns:
        address = ctypes.c_void_p.from_address(id(event) + _VALUE_OFFSET).value or 0
        if self.bulk is None or self._full_checks_left > 0:
            if self.bulk and address != self._event_address:
                msg = f"the event record moved from {self._event_address:#x} to {address:#x}"
                raise LayoutMismatch(msg)
            record = _checked_record(event, address)
            self._event_address, self.bulk = address, True
            self._full_checks_left -= 1
        elif address != self._event_address:
            msg = f"the event record moved from {self._event_address:#x} to {address:#x}"
            raise LayoutMismatch(msg)
        else:
            begin, end = _POINTER_PAIR.from_address(address + _ENTRY_OFFSET)
            _check_length(event, begin, end)
            # A view of Pythia's memory: only the copies below leave this function.
            record = np.asarray(_Memory(begin, end - begin)).view(PARTICLE_LAYOUT)
        is_final = record["status"] > 0  # Particle.isFinal()
        columns = tuple(record[name][is_final] for name in FINAL_FIELDS)
        _spot_check(event, is_final, columns)
        return columns


def _check_length(event: Any, begin: int, end: int) -> None:
    size = event.size()
    if begin == 0 or end - begin != size * PARTICLE_LAYOUT.itemsize:
        msg = f"particle vector of {end - begin} bytes for {size} particles"
        raise LayoutMismatch(msg)


def _checked_record(event: Any, address: int) -> np.ndarray:
    """The record read through ``/proc/self/mem``, compared with the accessors for every particle."""
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        begin, end = _BEGIN_END.unpack(os.pread(fd, _BEGIN_END.size, address + _ENTRY_OFFSET))
        _check_length(event, begin, end)
        record = np.frombuffer(os.pread(fd, end - begin, begin), dtype=PARTICLE_LAYOUT)
    finally:
        os.close(fd)
    particle = import_optional("pythia8mc", extra="gen", purpose="jetscale.generate").Particle
    particles = [event[i] for i in range(event.size())]
    for name in (*FINAL_FIELDS, "status"):
        expected = np.array(list(map(getattr(particle, name), particles)))
        if not np.array_equal(record[name], expected):
            msg = f"Particle.{name} differs from the memory layout"
            raise LayoutMismatch(msg)
    return record


def _spot_check(event: Any, is_final: np.ndarray, columns: Columns) -> None:
    """Cheap checks on every event: the number of final-state particles and the last one."""
    n_final = len(columns[0])
    if n_final != event.nFinal():
        msg = f"{n_final} final-state particles in memory, Event.nFinal() = {event.nFinal()}"
        raise LayoutMismatch(msg)
    if n_final == 0:
        return
    last = event[len(is_final) - 1 - int(np.argmax(is_final[::-1]))]
    for name, column in zip(FINAL_FIELDS, columns, strict=True):
        if getattr(last, name)() != column[-1]:
            msg = f"Particle.{name} of the last final-state particle differs from memory"
            raise LayoutMismatch(msg)
