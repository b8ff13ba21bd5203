"""Generator throughput: jets/s of one worker for each JetClass class, per detector card.

Usage::

    python benchmarks/bench_generate.py [--jets 20] [--detector cms cms_parametric]
    python benchmarks/bench_generate.py --profile [--jets 500] [--classes QCD Tbqq]

Each class runs in this one process (one worker), Pythia initialisation
included, so the numbers are what one `--workers` process delivers. With several
cards, each class is generated with every card in turn (same seed, so the same
Pythia events) and the last columns give each card's time relative to the first:
side by side in one run, so a busy machine slows every card alike.

``--profile`` also says where a worker's time goes, per class and card and
overall: Pythia's initialisation, its event generation (``pythia.next()``, the
part that is not ours: the target is at least 80 % of the worker's time),
reading the final-state particles out of Pythia, the truth record (resonance
decays, jet matching), the detector, FastJet (clustering, soft drop,
N-subjettiness) and the rest (numpy and awkward bookkeeping). Every event is
also read the old way, through the bindings' accessors, timed apart and left out
of the shares and rates, so the two readouts are compared on the same events;
both must give the same particles. ``--jets 500`` is one full work unit, as a
worker runs it (Pythia's initialisation then weighs what it does in production).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import numpy as np

import jetscale.generate.jets as jets_module
import jetscale.generate.units as units_module
from jetscale.generate import generate_class
from jetscale.generate.event_memory import EventReader
from jetscale.generate.events import final_particles, make_pythia, stack_events, stack_final
from jetscale.generate.particles import GenParticles
from jetscale.schema import CLASS_NAMES

#: Stages of a worker's time, in the order printed; "rest" is what the others leave.
STAGES = ("init", "next", "readout", "truth", "detector", "fastjet", "rest")
#: Share of a worker's time that Pythia's event generation should reach.
TARGET_NEXT_SHARE = 0.80


class StageClock:
    """Seconds a worker spends per stage, from wrappers around the generator's steps."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.old_readout = 0.0  # the bindings' readout, timed apart, not part of the worker's time
        self.events = 0
        self.mismatches = 0  # batches where the two readouts disagree
        self._old_batch: list[tuple[list[Any], ...]] = []

    def timed(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        return wrapper

    def make_pythia(self, settings: Any) -> _TimedPythia:
        start = time.perf_counter()
        pythia = make_pythia(settings)
        self.seconds["init"] += time.perf_counter() - start
        return _TimedPythia(pythia, self)

    def event_reader(self) -> Callable[[Any], tuple[np.ndarray, ...]]:
        reader = EventReader()

        def read(event: Any) -> tuple[np.ndarray, ...]:
            start = time.perf_counter()
            final = reader(event)
            middle = time.perf_counter()
            self._old_batch.append(final_particles(event))
            self.seconds["readout"] += middle - start
            self.old_readout += time.perf_counter() - middle
            self.events += 1
            return final

        return read

    def stack_final(self, per_event: Any, charge_of: Any) -> GenParticles:
        start = time.perf_counter()
        gen = stack_final(per_event, charge_of)
        middle = time.perf_counter()
        old = stack_events(self._old_batch, charge_of)
        self.seconds["readout"] += middle - start
        self.old_readout += time.perf_counter() - middle
        self._old_batch = []
        if not all(
            np.array_equal(getattr(gen, f), getattr(old, f)) for f in gen.__dataclass_fields__
        ):
            self.mismatches += 1
        return gen

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """The wrappers in place of the generator's steps, for the duration of the block.

        The wrappers call the functions they replace, as the modules define them.
        """
        with contextlib.ExitStack() as stack:
            patches = [
                (units_module, "make_pythia", self.make_pythia),
                (units_module, "EventReader", self.event_reader),
                (units_module, "stack_final", self.stack_final),
                (units_module, "find_decays", self.timed("truth", units_module.find_decays)),
                (units_module, "match_jets", self.timed("truth", units_module.match_jets)),
                (
                    units_module,
                    "apply_detector",
                    self.timed("detector", units_module.apply_detector),
                ),
                (jets_module, "cluster_jets", self.timed("fastjet", jets_module.cluster_jets)),
                (
                    jets_module,
                    "jet_substructure",
                    self.timed("fastjet", jets_module.jet_substructure),
                ),
            ]
            for module, name, replacement in patches:
                stack.enter_context(mock.patch.object(module, name, replacement))
            yield


class _TimedPythia:
    """A ``pythia8mc.Pythia`` whose ``next()`` is timed; everything else passes through."""

    def __init__(self, pythia: Any, clock: StageClock) -> None:
        self._pythia = pythia
        self._clock = clock

    def next(self) -> bool:
        start = time.perf_counter()
        ok = bool(self._pythia.next())
        self._clock.seconds["next"] += time.perf_counter() - start
        return ok

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pythia, name)


def profile_row(label: str, clocks: list[StageClock], walls: list[float], n_jets: int) -> str:
    """One line of the profile table: jets/s, shares of the worker's time, readouts per event."""
    # the worker's time, without the old readout timed next to the new one
    wall = sum(walls) - sum(c.old_readout for c in clocks)
    seconds = {s: sum(c.seconds[s] for c in clocks) for s in STAGES}
    seconds["rest"] = wall - sum(seconds.values())
    events = sum(c.events for c in clocks)
    shares = " ".join(f"{100 * seconds[s] / wall:8.1f}" for s in STAGES)
    loop = seconds["next"] / (wall - seconds["init"])
    old_ms = 1e3 * sum(c.old_readout for c in clocks) / events
    new_ms = 1e3 * seconds["readout"] / events
    same = "yes" if not any(c.mismatches for c in clocks) else "NO"
    return (
        f"{label:22s} {n_jets / wall:7.1f} {shares} {100 * loop:9.1f} "
        f"{old_ms:9.3f} {new_ms:9.3f} {same:>5s}"
    )


def run_profile(classes: list[str], cards: list[str], n_jets: int, seed: int) -> None:
    header = f"{'class card':22s} {'jets/s':>7s} " + " ".join(f"{s + ' %':>8s}" for s in STAGES)
    header += f" {'next/loop%':>9s} {'old ms/ev':>9s} {'new ms/ev':>9s} {'same':>5s}"
    print(header)
    all_clocks: list[StageClock] = []
    all_walls: list[float] = []
    for card in cards:
        for name in classes:
            clock = StageClock()
            with clock.installed():
                start = time.perf_counter()
                jets = generate_class(name, n_jets, detector=card, seed=seed)
                wall = time.perf_counter() - start
            all_clocks.append(clock)
            all_walls.append(wall)
            print(profile_row(f"{name} {card}", [clock], [wall], len(jets)), flush=True)
    total_jets = n_jets * len(all_clocks)
    print(profile_row("all", all_clocks, all_walls, total_jets))
    wall = sum(all_walls) - sum(c.old_readout for c in all_clocks)
    next_s = sum(c.seconds["next"] for c in all_clocks)
    init_s = sum(c.seconds["init"] for c in all_clocks)
    print(
        f"Pythia next(): {100 * next_s / wall:.1f} % of the worker's time, "
        f"{100 * next_s / (wall - init_s):.1f} % of its event loop (initialisation left out); "
        f"target {100 * TARGET_NEXT_SHARE:.0f} %"
    )
    print(
        "old ms/ev: the bindings' readout (final_particles + stack_events), timed apart and "
        "left out of the rest; new ms/ev: what generation uses; same: identical particles"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jets", type=int, default=20, help="jets per class and card")
    parser.add_argument(
        "--detector",
        nargs="+",
        default=["cms"],
        help="detector card(s); with several, every class is generated with each in turn",
    )
    parser.add_argument("--seed", type=int, default=3, help="generator seed (same for every card)")
    parser.add_argument(
        "--classes", nargs="+", default=list(CLASS_NAMES), help="classes (default: all ten)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="shares of the worker's time per stage, against the 80 %% target for Pythia",
    )
    args = parser.parse_args()
    cards = args.detector
    if args.profile:
        run_profile(args.classes, cards, args.jets, args.seed)
        return
    header = f"{'class':6s} " + " ".join(f"{c + ' jets/s':>22s}" for c in cards)
    header += "".join(f" {c + '/' + cards[0] + ' time':>30s}" for c in cards[1:])
    print(header)
    totals = {card: [0, 0.0] for card in cards}
    for name in args.classes:
        seconds: dict[str, float] = {}
        for card in cards:
            start = time.perf_counter()
            jets = generate_class(name, args.jets, detector=card, seed=args.seed)
            seconds[card] = time.perf_counter() - start
            totals[card][0] += len(jets)
            totals[card][1] += seconds[card]
        rates = " ".join(f"{args.jets / seconds[c]:22.1f}" for c in cards)
        ratios = "".join(f" {seconds[c] / seconds[cards[0]]:30.2f}" for c in cards[1:])
        print(f"{name:6s} {rates}{ratios}")
    rates = " ".join(f"{totals[c][0] / totals[c][1]:22.1f}" for c in cards)
    ratios = "".join(f" {totals[c][1] / totals[cards[0]][1]:30.2f}" for c in cards[1:])
    print(f"{'all':6s} {rates}{ratios}")


if __name__ == "__main__":
    main()
