"""Generation driver: work units, seeds, worker processes, files and a summary.

The work for each class is split into fixed work units of :data:`UNIT_JETS` jets,
keyed by ``(class, unit index)``. Each unit runs its own Pythia instance and its
own numpy generator for the detector, both seeded from
``SeedSequence(seed, spawn_key=(class index, unit index))``, and processes events
in fixed batches. A unit's output therefore depends only on the user seed, the
class, the unit index and the detector card, never on the number of workers or
on which process ran it: the same seed gives identical files for any ``workers``.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from jetscale import schema
from jetscale.generate.cards import DetectorCard, load_card
from jetscale.generate.detector import apply_detector
from jetscale.generate.events import ChargeTable, final_particles, make_pythia, stack_events
from jetscale.generate.jets import build_jets
from jetscale.generate.processes import ProcessSpec, process_spec, pythia_settings
from jetscale.generate.truth import find_decays, match_jets
from jetscale.io.jetclass import write_jetclass
from jetscale.io.lock import DirectoryLock

log = logging.getLogger(__name__)

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
    detector: str
    seed: int  # the user seed


@dataclass(frozen=True)
class UnitResult:
    """The jets of one work unit and what it took to make them."""

    unit: WorkUnit
    jets: ak.Array
    n_events: int
    seconds: float  # wall time spent in the unit, Pythia initialisation included


@dataclass
class GenerationSummary:
    """What :func:`generate` did."""

    files: list[Path]
    jets_per_class: dict[str, int]
    events_per_class: dict[str, int]
    wall_time_s: float
    jets_per_second: float  # all classes, wall clock, all workers together
    #: jets per second of one worker, per class (unit time summed over workers)
    jets_per_second_per_worker: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [
            f"generated {sum(self.jets_per_class.values())} jets in {self.wall_time_s:.1f} s "
            f"({self.jets_per_second:.1f} jets/s)"
        ]
        for name, n in self.jets_per_class.items():
            rate = self.jets_per_second_per_worker.get(name, float("nan"))
            lines.append(
                f"  {name:5s} {n:8d} jets from {self.events_per_class[name]:8d} events, {rate:6.1f} jets/s/worker"
            )
        lines += [f"  wrote {path}" for path in self.files]
        return "\n".join(lines)


def sample_file_name(class_name: str, detector: str, seed: int) -> str:
    """``<class>_<detector>_s<seed>.root``: the file :func:`generate` writes for a class."""
    return f"{class_name}_{detector}_s{seed}.root"


def unit_seeds(seed: int, class_name: str, unit_index: int) -> tuple[int, np.random.SeedSequence]:
    """The Pythia seed (1..900000000) and the detector SeedSequence of one work unit."""
    root = np.random.SeedSequence(seed, spawn_key=(schema.class_index(class_name), unit_index))
    pythia_child, detector_child = root.spawn(2)
    pythia_seed = int(pythia_child.generate_state(1, dtype=np.uint64)[0] % _PYTHIA_SEED_MAX) + 1
    return pythia_seed, detector_child


def work_units(
    classes: list[str], jets_per_class: int, detector: str, seed: int, unit_jets: int = UNIT_JETS
) -> list[WorkUnit]:
    """Fixed work units: ``ceil(jets_per_class / unit_jets)`` per class, the last one partial."""
    units = []
    for name in classes:
        for index, start in enumerate(range(0, jets_per_class, unit_jets)):
            units.append(
                WorkUnit(name, index, min(unit_jets, jets_per_class - start), detector, seed)
            )
    return units


def run_unit(unit: WorkUnit, on_batch: Callable[[int], None] | None = None) -> UnitResult:
    """Generate one work unit: exactly ``unit.n_jets`` jets (the first ones accepted)."""
    start = time.perf_counter()
    spec = process_spec(unit.class_name)
    card = load_card(unit.detector)
    pythia_seed, detector_seed = unit_seeds(unit.seed, unit.class_name, unit.unit_index)
    pythia = make_pythia(pythia_settings(spec, pythia_seed, unit.unit_index))
    rng = np.random.default_rng(detector_seed)
    charge_of = ChargeTable(pythia.particleData)
    label = schema.class_index(unit.class_name)

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
        jets = _run_batch(pythia, spec, card, rng, charge_of, label)
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
    spec: ProcessSpec,
    card: DetectorCard,
    rng: np.random.Generator,
    charge_of: ChargeTable,
    label: int,
) -> ak.Array:
    per_event = []
    decays = []
    for _ in range(BATCH_EVENTS):
        while not pythia.next():  # type: ignore[attr-defined]
            pass  # a failed event is retried; Pythia's own error counters limit this
        event = pythia.event  # type: ignore[attr-defined]
        per_event.append(final_particles(event))
        if spec.resonance_id is not None:
            decays.append(find_decays(event, pythia.process.size(), spec))  # type: ignore[attr-defined]
    reco = apply_detector(stack_events(per_event, charge_of), card, rng)
    select = None if spec.resonance_id is None else (lambda jets: match_jets(jets, decays))
    return build_jets(reco, BATCH_EVENTS, label, select)


def generate_class(
    class_name: str, n_jets: int, detector: str = "cms", seed: int = 1, unit_jets: int = UNIT_JETS
) -> ak.Array:
    """``n_jets`` jets of one class in memory (one process), identical to :func:`generate`'s."""
    units = work_units([class_name], n_jets, detector, seed, unit_jets)
    return ak.concatenate([run_unit(u).jets for u in units])


def generate(
    out_dir: str | Path,
    classes: list[str],
    jets_per_class: int,
    detector: str = "cms",
    seed: int = 1,
    workers: int = 1,
    progress: bool = True,
    unit_jets: int = UNIT_JETS,
) -> GenerationSummary:
    """Generate JetClass-format jets and write one file per class into ``out_dir``.

    Files are ``<Class>_<detector>_s<seed>.root`` (written atomically). The output
    for a given ``(seed, unit_jets)`` does not depend on ``workers``; ``unit_jets``
    (jets per work unit, the grain of parallelism) is best left at its default.
    Returns a summary with jets/s.
    """
    for name in classes:
        schema.class_index(name)
    if len(set(classes)) != len(classes):
        msg = f"classes must be unique, got {classes}"
        raise ValueError(msg)
    if jets_per_class <= 0:
        msg = f"jets_per_class must be positive, got {jets_per_class}"
        raise ValueError(msg)
    if unit_jets <= 0:
        msg = f"unit_jets must be positive, got {unit_jets}"
        raise ValueError(msg)
    if workers <= 0:
        msg = f"workers must be positive, got {workers}"
        raise ValueError(msg)
    load_card(detector)  # fail early on an unknown card
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    with DirectoryLock(out, "jetscale generate"):  # one writer per directory
        units = work_units(classes, jets_per_class, detector, seed, unit_jets)
        results: dict[tuple[str, int], UnitResult] = {}
        start = time.perf_counter()
        with tqdm(
            total=len(classes) * jets_per_class, unit="jet", disable=not progress, desc="generate"
        ) as bar:
            if workers == 1:
                for unit in units:
                    results[(unit.class_name, unit.unit_index)] = run_unit(unit, bar.update)
            else:
                context = multiprocessing.get_context("spawn")
                with context.Pool(min(workers, len(units))) as pool:
                    for result in pool.imap_unordered(run_unit, units):
                        results[(result.unit.class_name, result.unit.unit_index)] = result
                        bar.update(result.unit.n_jets)

        files, counts, events, rates = [], {}, {}, {}
        for name in classes:
            mine = sorted(
                (r for r in results.values() if r.unit.class_name == name),
                key=lambda r: r.unit.unit_index,
            )
            jets = ak.concatenate([r.jets for r in mine])
            files.append(write_jetclass(out / sample_file_name(name, detector, seed), jets))
            counts[name] = len(jets)
            events[name] = sum(r.n_events for r in mine)
            rates[name] = len(jets) / sum(r.seconds for r in mine)
        wall = time.perf_counter() - start
        summary = GenerationSummary(
            files=files,
            jets_per_class=counts,
            events_per_class=events,
            wall_time_s=wall,
            jets_per_second=sum(counts.values()) / wall,
            jets_per_second_per_worker=rates,
        )
        log.info("%s", summary)
        return summary
