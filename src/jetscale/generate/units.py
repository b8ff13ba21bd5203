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

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

from jetscale.generate.cards import DetectorCard, parse_card, read_card_text
from jetscale.generate.detector import apply_detector
from jetscale.generate.event_memory import EventReader
from jetscale.generate.events import ChargeTable, make_pythia, stack_final
from jetscale.generate.jets import DEFAULT_PT_RANGE, build_jets, build_keyed_jets
from jetscale.generate.processes import (
    ProcessSpec,
    particle_settings,
    process_spec,
    pythia_settings,
)
from jetscale.generate.resimulate import (
    HARD_PROCESS_ONLY,
    ViewSpec,
    hard_process_feed,
    view_settings,
)
from jetscale.generate.signals import class_key, label_index
from jetscale.generate.truth import (
    Member,
    assign_jets,
    decays_by_resonance,
    find_decays,
    hard_partons,
    match_jets,
)

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
    #: Re-simulation: the views of every hard process (``n_jets`` then counts groups);
    #: empty for plain generation.
    views: tuple[ViewSpec, ...] = ()


@dataclass(frozen=True)
class UnitResult:
    """The jets of one work unit and what it took to make them."""

    unit: WorkUnit
    jets: ak.Array
    n_events: int  # events; hard processes for a re-simulated unit
    seconds: float  # wall time spent in the unit, Pythia initialisation included
    #: Re-simulation counts: groups, views kept and dropped, hard objects without a jet.
    counts: dict[str, int] = field(default_factory=dict)


def unit_seeds(seed: int, class_name: str, unit_index: int) -> tuple[int, np.random.SeedSequence]:
    """The Pythia seed (1..900000000) and the detector SeedSequence of one work unit."""
    return _seeds(np.random.SeedSequence(seed, spawn_key=(class_key(class_name), unit_index)))


#: Spawn-key entry that sets the views' streams apart from the units' own.
_VIEW_STREAM = 1


def view_seeds(
    seed: int, class_name: str, unit_index: int, view: int
) -> tuple[int, np.random.SeedSequence]:
    """The Pythia seed and detector SeedSequence of one view of a re-simulated unit."""
    key = (class_key(class_name), unit_index, _VIEW_STREAM, view)
    return _seeds(np.random.SeedSequence(seed, spawn_key=key))


def _seeds(root: np.random.SeedSequence) -> tuple[int, np.random.SeedSequence]:
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
    views: tuple[ViewSpec, ...] = (),
) -> list[WorkUnit]:
    """Fixed work units: ``ceil(jets_per_class / unit_jets)`` per class, the last one partial.

    ``card_text`` is the card's TOML if the caller has read it already; ``pt_range``
    the jet pT window in GeV; ``views`` those of a re-simulation (then
    ``jets_per_class`` and ``unit_jets`` count groups).
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
                    views,
                )
            )
    return units


def run_unit(unit: WorkUnit, on_batch: Callable[[int], None] | None = None) -> UnitResult:
    """Generate one work unit: exactly ``unit.n_jets`` jets (the first ones accepted).

    A re-simulated unit (``unit.views``) gives exactly ``unit.n_jets`` groups.
    """
    if unit.views:
        return _run_resimulated_unit(unit, on_batch)
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


@dataclass
class _View:
    """One view of a re-simulated unit: its Pythia (fed the hard process), card and streams."""

    spec: ViewSpec
    pythia: Any
    feed: Any  # the HardProcessFeed: Pythia holds it, so it must outlive the Pythia
    card: DetectorCard
    rng: np.random.Generator
    read_final: EventReader
    charge_of: ChargeTable


def _run_resimulated_unit(
    unit: WorkUnit, on_batch: Callable[[int], None] | None = None
) -> UnitResult:
    """Generate one re-simulated unit: the first ``unit.n_jets`` groups, each of its views.

    The hard processes come from one Pythia instance (hard process only) seeded
    as a plain unit's Pythia; view ``k`` has its own Pythia and detector streams
    (:func:`view_seeds`). Groups are kept in the order of their hard process
    (then of the object's entry in it); within a group, views in order.
    """
    start = time.perf_counter()
    spec = process_spec(unit.class_name)
    card_text = unit.card_text or read_card_text(unit.detector)[0]
    hard_seed, _ = unit_seeds(unit.seed, unit.class_name, unit.unit_index)
    hard = make_pythia(
        [*pythia_settings(spec, hard_seed, unit.unit_index, unit.pt_range), *HARD_PROCESS_ONLY]
    )
    particles = particle_settings(spec, unit.unit_index)
    views = []
    for k, view in enumerate(unit.views):
        pythia_seed, detector_seed = view_seeds(unit.seed, unit.class_name, unit.unit_index, k)
        feed = hard_process_feed(hard)
        pythia = make_pythia(view_settings(particles, view, pythia_seed), feed)
        card = parse_card(view.card_text or card_text, view.name)
        views.append(
            _View(
                view,
                pythia,
                feed,
                card,
                np.random.default_rng(detector_seed),
                EventReader(),
                ChargeTable(pythia.particleData),
            )
        )
    label = label_index(unit.class_name)

    chunks: list[ak.Array] = []
    counts = {"groups": 0, "views_kept": 0, "views_dropped": 0, "objects_without_jets": 0}
    n_events = 0
    max_events = MAX_EVENTS_PER_JET * unit.n_jets + 10 * BATCH_EVENTS
    while counts["groups"] < unit.n_jets:
        if n_events >= max_events:
            msg = (
                f"{unit.class_name} unit {unit.unit_index}: only {counts['groups']} of "
                f"{unit.n_jets} groups after {n_events} hard processes; check the process settings"
            )
            raise RuntimeError(msg)
        jets, hard_objects = _resimulate_batch(hard, views, spec, label, unit, n_events)
        n_events += BATCH_EVENTS
        groups = np.unique(ak.to_numpy(jets.group))
        wanted = groups[: unit.n_jets - counts["groups"]]
        n_objects = len(hard_objects)
        if len(wanted) < len(groups):  # the unit's last groups: the rest of the batch goes
            n_objects = int(np.searchsorted(hard_objects, wanted[-1], side="right"))
            jets = jets[ak.to_numpy(jets.group) <= wanted[-1]]
        counts["groups"] += len(wanted)
        counts["views_kept"] += len(jets)
        counts["views_dropped"] += len(wanted) * len(views) - len(jets)
        counts["objects_without_jets"] += n_objects - len(wanted)
        if len(jets):
            chunks.append(jets)
            if on_batch is not None:
                on_batch(len(wanted))
    result = ak.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return UnitResult(unit, result, n_events, time.perf_counter() - start, counts)


#: A view that fails this many times in a row on one hard process stops its unit: a
#: retry draws new random numbers, so only a broken configuration fails them all
#: (plain generation moves on to a new event instead; a view cannot).
MAX_VIEW_ATTEMPTS = 10
#: ``group = unit << GROUP_UNIT_SHIFT | hard process << GROUP_EVENT_SHIFT | entry``:
#: the entry of the object in its hard-process record is below 256, a unit has
#: fewer than 2**24 hard processes.
GROUP_UNIT_SHIFT = 32
GROUP_EVENT_SHIFT = 8


def _resimulate_batch(
    hard: Any,
    views: list[_View],
    spec: ProcessSpec,
    label: int,
    unit: WorkUnit,
    first_event: int,
) -> tuple[ak.Array, np.ndarray]:
    """The views of ``BATCH_EVENTS`` hard processes, ordered by group then view.

    Also returns the group ids of every hard object of the batch that a view
    found (with a jet or not), sorted, for the counts.
    """
    per_view: list[list[Any]] = [[] for _ in views]
    objects: list[list[dict[int, list[Member]]]] = [[] for _ in views]
    kinematics: list[list[dict[int, tuple[float, float, float, float]]]] = [[] for _ in views]
    for _ in range(BATCH_EVENTS):
        while not hard.next():
            pass  # a failed event is retried; Pythia's own error counters limit this
        for k, view in enumerate(views):
            for _attempt in range(MAX_VIEW_ATTEMPTS):
                if view.pythia.next():  # a failure is retried on the same hard process
                    break
            else:
                msg = (
                    f"{unit.class_name} unit {unit.unit_index}: view {k} ({view.spec.name}) "
                    f"failed {MAX_VIEW_ATTEMPTS} times on hard process {first_event + len(per_view[k])}; "
                    "check the variation's settings"
                )
                raise RuntimeError(msg)
            event, process = view.pythia.event, view.pythia.process
            per_view[k].append(view.read_final(event))
            found = (
                hard_partons(process)
                if spec.resonance_id is None
                else decays_by_resonance(event, process.size(), spec)
            )
            objects[k].append(found)
            kinematics[k].append(
                {
                    i: (process[i].pT(), process[i].eta(), process[i].phi(), process[i].m())
                    for i in found
                }
            )
    if first_event + BATCH_EVENTS > 1 << (GROUP_UNIT_SHIFT - GROUP_EVENT_SHIFT):
        msg = f"{unit.class_name} unit {unit.unit_index}: too many hard processes for a group id"
        raise RuntimeError(msg)
    if any(key >= 1 << GROUP_EVENT_SHIFT for found in objects for keyed in found for key in keyed):
        msg = f"{unit.class_name} unit {unit.unit_index}: an object beyond entry 255 of its hard process"
        raise RuntimeError(msg)
    base = (unit.unit_index << GROUP_UNIT_SHIFT) | (first_event << GROUP_EVENT_SHIFT)
    all_objects = np.array(
        sorted(
            {
                base + (event << GROUP_EVENT_SHIFT) + key
                for found in objects
                for event, keyed in enumerate(found)
                for key in keyed
            }
        ),
        dtype=np.int64,
    )
    parts = []
    for k, view in enumerate(views):
        reco = apply_detector(stack_final(per_view[k], view.charge_of), view.card, view.rng)
        records, events, keys = build_keyed_jets(
            reco,
            BATCH_EVENTS,
            label,
            functools.partial(assign_jets, objects=objects[k]),
            unit.pt_range,
        )
        hard_kinematics = np.array(
            [kinematics[k][e][key] for e, key in zip(events, keys, strict=True)], dtype=np.float64
        ).reshape(-1, 4)
        fields = {
            "group": base + (events.astype(np.int64) << GROUP_EVENT_SHIFT) + keys,
            "view": np.full(len(keys), k, dtype=np.int32),
            "hard_pt": hard_kinematics[:, 0],
            "hard_eta": hard_kinematics[:, 1],
            "hard_phi": hard_kinematics[:, 2],
            "hard_mass": hard_kinematics[:, 3],
        }
        for name, values in fields.items():
            records = ak.with_field(records, values, name)
        parts.append(records)
    jets = ak.concatenate(parts)
    order = np.lexsort((ak.to_numpy(jets.view), ak.to_numpy(jets.group)))
    return jets[order], all_objects


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
