"""Work units: the fixed shares of a class that generation is split into, and how one runs.

The work for each class is split into fixed work units of :data:`UNIT_JETS` jets,
keyed by ``(class, unit index)``. Each unit runs its own Pythia instance and its
own numpy generator for the detector, both seeded from
``SeedSequence(seed, spawn_key=(class key, unit index))`` (the class key is the
JetClass index, or a key derived from the name for a new signal X, see
:func:`~jetscale.generate.signals.class_key`), and processes events in fixed
batches. A unit's output therefore depends only on the user seed, the class, the
unit index, its number of jets, the jet pT window and the detector card, never on
the number of workers or on which process or machine ran it.

:func:`unit_task` is what worker processes run. For the tests of failure
handling it honours one environment variable, :data:`KILL_UNIT_ENV`: set to
``"<Class>:<unit index>"`` (``"QCD:1"``), the process that starts that unit exits
at once with status 70, as a worker killed by the system (out of memory, a
pre-empted batch job) would. Nothing else reads it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import awkward as ak
import numpy as np

from jetscale.generate.cards import DetectorCard, parse_card, read_card_text
from jetscale.generate.detector import apply_detector
from jetscale.generate.event_memory import EventReader
from jetscale.generate.events import ChargeTable, make_pythia, stack_final
from jetscale.generate.jets import DEFAULT_PT_RANGE, build_jets
from jetscale.generate.processes import ProcessSpec, process_spec, pythia_settings
from jetscale.generate.signals import class_key, label_index
from jetscale.generate.truth import find_decays, match_jets

#: Jets per work unit: large enough to amortise Pythia's initialisation (~1 s).
UNIT_JETS = 500
#: Events generated, smeared and clustered together (fixed: part of the random stream).
BATCH_EVENTS = 50
#: A unit gives up after this many events per requested jet (a broken configuration).
MAX_EVENTS_PER_JET = 50
_PYTHIA_SEED_MAX = 900_000_000


@dataclass(frozen=True)
class WorkUnit:
    """One worker's share of a class: a number of jets from its own seed."""

    class_name: str
    unit_index: int
    n_jets: int
    detector: str  # the card's name or file, as the user gave it
    seed: int  # the user seed
    #: The card's TOML, read once by the driver: every unit uses the same card.
    card_text: str = field(default="", repr=False)
    #: Jet pT window (min, max), GeV; Pythia's pT-hat window follows it.
    pt_range: tuple[float, float] = DEFAULT_PT_RANGE


@dataclass(frozen=True)
class UnitResult:
    """The jets of one work unit and what it took to make them."""

    unit: WorkUnit
    jets: ak.Array
    n_events: int
    seconds: float  # wall time spent in the unit, Pythia initialisation included


def unit_seeds(seed: int, class_name: str, unit_index: int) -> tuple[int, np.random.SeedSequence]:
    """The Pythia seed (1..900000000) and the detector SeedSequence of one work unit."""
    root = np.random.SeedSequence(seed, spawn_key=(class_key(class_name), unit_index))
    pythia_child, detector_child = root.spawn(2)
    pythia_seed = int(pythia_child.generate_state(1, dtype=np.uint64)[0] % _PYTHIA_SEED_MAX) + 1
    return pythia_seed, detector_child


def work_units(
    classes: list[str],
    jets_per_class: int,
    detector: str,
    seed: int,
    unit_jets: int = UNIT_JETS,
    card_text: str | None = None,
    pt_range: tuple[float, float] = DEFAULT_PT_RANGE,
) -> list[WorkUnit]:
    """Fixed work units: ``ceil(jets_per_class / unit_jets)`` per class, the last one partial.

    ``card_text`` is the card's TOML if the caller has read it already; ``pt_range``
    the jet pT window in GeV.
    """
    if card_text is None:
        card_text, _ = read_card_text(detector)
    units = []
    for name in classes:
        for index, start in enumerate(range(0, jets_per_class, unit_jets)):
            units.append(
                WorkUnit(
                    name,
                    index,
                    min(unit_jets, jets_per_class - start),
                    detector,
                    seed,
                    card_text,
                    pt_range,
                )
            )
    return units


def run_unit(unit: WorkUnit, on_batch: Callable[[int], None] | None = None) -> UnitResult:
    """Generate one work unit: exactly ``unit.n_jets`` jets (the first ones accepted)."""
    start = time.perf_counter()
    spec = process_spec(unit.class_name)
    card = parse_card(unit.card_text or read_card_text(unit.detector)[0], unit.detector)
    pythia_seed, detector_seed = unit_seeds(unit.seed, unit.class_name, unit.unit_index)
    pythia = make_pythia(pythia_settings(spec, pythia_seed, unit.unit_index, unit.pt_range))
    rng = np.random.default_rng(detector_seed)
    charge_of = ChargeTable(pythia.particleData)
    read_final = EventReader()
    label = label_index(unit.class_name)

    chunks: list[ak.Array] = []
    n_jets = n_events = 0
    max_events = MAX_EVENTS_PER_JET * unit.n_jets + 10 * BATCH_EVENTS
    while n_jets < unit.n_jets:
        if n_events >= max_events:
            msg = (
                f"{unit.class_name} unit {unit.unit_index}: only {n_jets} of {unit.n_jets} jets "
                f"after {n_events} events; check the process settings"
            )
            raise RuntimeError(msg)
        jets = _run_batch(pythia, read_final, spec, card, rng, charge_of, label, unit.pt_range)
        n_events += BATCH_EVENTS
        if len(jets):
            chunks.append(jets)
            n_jets += len(jets)
            if on_batch is not None:
                on_batch(min(len(jets), unit.n_jets - (n_jets - len(jets))))
    result = ak.concatenate(chunks)[: unit.n_jets] if len(chunks) > 1 else chunks[0][: unit.n_jets]
    return UnitResult(unit, result, n_events, time.perf_counter() - start)


def _run_batch(
    pythia: object,
    read_final: EventReader,
    spec: ProcessSpec,
    card: DetectorCard,
    rng: np.random.Generator,
    charge_of: ChargeTable,
    label: int,
    pt_range: tuple[float, float],
) -> ak.Array:
    per_event = []
    decays = []
    for _ in range(BATCH_EVENTS):
        while not pythia.next():  # type: ignore[attr-defined]
            pass  # a failed event is retried; Pythia's own error counters limit this
        event = pythia.event  # type: ignore[attr-defined]
        per_event.append(read_final(event))
        if spec.resonance_id is not None:
            decays.append(find_decays(event, pythia.process.size(), spec))  # type: ignore[attr-defined]
    reco = apply_detector(stack_final(per_event, charge_of), card, rng)
    select = None if spec.resonance_id is None else (lambda jets: match_jets(jets, decays))
    return build_jets(reco, BATCH_EVENTS, label, select, pt_range)


#: Test hook of :func:`unit_task`: ``"<Class>:<unit index>"`` makes the process running that unit exit.
KILL_UNIT_ENV = "JETSCALE_TEST_KILL_UNIT"


def unit_task(unit: WorkUnit) -> UnitResult:
    """:func:`run_unit` as a worker process (dask or a process pool) runs it.

    Honours :data:`KILL_UNIT_ENV` (tests only): the process exits before the unit
    starts, without cleaning up, as a killed worker would.
    """
    if os.environ.get(KILL_UNIT_ENV) == f"{unit.class_name}:{unit.unit_index}":
        os._exit(70)
    return run_unit(unit)
