"""Bulk readout of Pythia's event record against the bindings, and its fallback."""

from __future__ import annotations

import logging
import sys

import awkward as ak
import numpy as np
import pytest

from jetscale.generate import event_memory, generate_class
from jetscale.generate.event_memory import EventReader, from_bindings
from jetscale.generate.events import (
    FINAL_FIELDS,
    ChargeTable,
    final_particles,
    make_pythia,
    stack_events,
    stack_final,
)
from jetscale.generate.processes import process_spec, pythia_settings

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="bulk readout needs /proc/self/mem")


def _events(name: str, n: int, seed: int = 4):
    """``pythia.event`` after each of ``n`` events of class ``name``."""
    pythia = make_pythia(pythia_settings(process_spec(name), seed=seed))
    for _ in range(n):
        assert pythia.next()
        yield pythia.event


def _assert_same_particles(columns, event) -> None:
    assert len(columns) == len(FINAL_FIELDS)
    for name, got, want in zip(FINAL_FIELDS, columns, final_particles(event), strict=True):
        assert np.array_equal(got, np.asarray(want)), name


@linux_only
@pytest.mark.parametrize("name", ["QCD", "Hbb"])  # Hbb: displaced B-hadron daughters
def test_bulk_readout_equals_bindings(name):
    reader = EventReader()
    assert reader.bulk is None
    for event in _events(name, 4):
        columns = reader(event)
        assert reader.bulk is True
        assert len(columns[0]) == event.nFinal()
        _assert_same_particles(columns, event)


def test_bindings_path_and_stacking():
    pythia = make_pythia(pythia_settings(process_spec("QCD"), seed=4))
    reader, per_event, lists = EventReader(), [], []
    for i in range(3):
        assert pythia.next()
        columns = reader(pythia.event)
        _assert_same_particles(from_bindings(pythia.event), pythia.event)
        # either path's columns stack alike (ids int32 from memory, int64 from the bindings)
        per_event.append(columns if i != 1 else from_bindings(pythia.event))
        lists.append(final_particles(pythia.event))
    charge_of = ChargeTable(pythia.particleData)
    stacked, reference = stack_final(per_event, charge_of), stack_events(lists, charge_of)
    for field in reference.__dataclass_fields__:
        got, want = getattr(stacked, field), getattr(reference, field)
        assert got.dtype == want.dtype and np.array_equal(got, want), field


@linux_only
@pytest.mark.parametrize(
    ("attribute", "wrong"),
    [
        ("_ENTRY_OFFSET", 16),  # the vector is not where assumed: lengths disagree
        (  # px and py swapped: the record is read, its values disagree
            "PARTICLE_LAYOUT",
            np.dtype(
                {
                    "names": [*FINAL_FIELDS, "status"],
                    "formats": ["<f8"] * 4 + ["<i4"] + ["<f8"] * 3 + ["<i4"],
                    "offsets": [48, 40, 56, 64, 8, 104, 112, 120, 12],
                    "itemsize": 168,
                }
            ),
        ),
    ],
)
def test_wrong_layout_falls_back_to_bindings(monkeypatch, caplog, attribute, wrong):
    monkeypatch.setattr(event_memory, attribute, wrong)
    monkeypatch.setattr(event_memory, "_warned", False)
    reader = EventReader()
    with caplog.at_level(logging.WARNING, logger=event_memory.__name__):
        for event in _events("QCD", 2):
            _assert_same_particles(reader(event), event)
    assert reader.bulk is False
    assert len(caplog.records) == 1  # one warning, however many events
    assert "bindings" in caplog.records[0].getMessage()


@linux_only
def test_another_event_record_is_refused():
    """A reader follows one Pythia: another's record falls back to the bindings."""
    reader = EventReader()
    first, second = _events("QCD", 1, seed=4), _events("QCD", 1, seed=5)  # both alive
    reader(next(first))
    other = next(second)
    _assert_same_particles(reader(other), other)
    assert reader.bulk is False


@linux_only
def test_jets_do_not_depend_on_the_readout(monkeypatch):
    bulk = generate_class("Hbb", 15, detector="cms_parametric", seed=6)
    monkeypatch.setattr(event_memory, "_ENTRY_OFFSET", 16)  # every unit falls back
    monkeypatch.setattr(event_memory, "_warned", True)
    bindings = generate_class("Hbb", 15, detector="cms_parametric", seed=6)
    assert ak.array_equal(bulk, bindings, equal_nan=True, dtype_exact=True)
