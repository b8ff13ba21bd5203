"""Where work units run: in this process, in a pool of processes, or on dask.

Each executor yields ``(unit, outcome)`` as units finish, in any order. The
outcome is the unit's result, or :class:`WorkerLost` when the process running
the unit died (killed, out of memory, a pre-empted batch job): the other units
go on. An exception raised by a unit's own code propagates out of the iterator,
since it would happen again on every try.

* ``in_processes``: a ``concurrent.futures.ProcessPoolExecutor`` (spawn), at most
  one unit per process at a time. A dead process breaks the whole pool
  (``BrokenProcessPool``) and the pool cannot tell which process died, so the
  units running at that moment are all lost; a fresh pool takes the rest.
* ``on_dask``: tasks on a dask cluster, at most one per worker thread
  (:func:`~jetscale.dask_client.submit_bounded`). A dead worker loses only its
  unit (``KilledWorker``; a scheduler you start yourself may first retry it on
  other workers, see :mod:`jetscale.dask_client`).
"""

from __future__ import annotations

import multiprocessing
import uuid
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from jetscale.dask_client import dask_client, submit_bounded
from jetscale.generate.units import UnitResult, WorkUnit

Task = Callable[[WorkUnit], UnitResult]


@dataclass(frozen=True)
class WorkerLost:
    """A unit that did not finish because the process running it died."""

    reason: str


Outcome = UnitResult | WorkerLost
#: What every executor returns: close it to stop (in-flight work is cancelled or awaited).
Outcomes = Generator[tuple[WorkUnit, Outcome], None, None]


def in_this_process(task: Task, units: Sequence[WorkUnit]) -> Outcomes:
    """Run the units one after another here."""
    for unit in units:
        yield unit, task(unit)


def in_processes(task: Task, units: Sequence[WorkUnit], workers: int) -> Outcomes:
    """Run the units in ``workers`` spawned processes, a fresh pool after a process dies."""
    waiting = list(units)
    context = multiprocessing.get_context("spawn")
    while waiting:
        pool = ProcessPoolExecutor(min(workers, len(waiting)), mp_context=context)
        running: dict[Future[UnitResult], WorkUnit] = {}
        broken = False
        try:
            while running or (waiting and not broken):
                while waiting and not broken and len(running) < workers:
                    unit = waiting.pop(0)
                    try:
                        running[pool.submit(task, unit)] = unit
                    except BrokenProcessPool:  # it broke before we saw a failed unit
                        waiting.insert(0, unit)
                        broken = True
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    unit = running.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool as err:
                        broken = True
                        reason = (
                            f"a worker process died while this unit ran ({type(err).__name__}); "
                            "the units running in the other processes at that moment are lost too"
                        )
                        yield unit, WorkerLost(reason)
                    else:
                        yield unit, result
        finally:
            # On an error of the caller's, in-flight units finish (at most one per process).
            pool.shutdown(wait=True, cancel_futures=True)


def on_dask(
    task: Task,
    units: Sequence[WorkUnit],
    workers: int,
    scheduler: str | None = None,
    client: Any = None,
) -> Outcomes:
    """Run the units on ``client``, on ``scheduler``, or on a local cluster of ``workers``."""
    if client is not None:
        yield from _on_client(client, task, units)
        return
    with dask_client(scheduler, workers, threads=1) as own:
        yield from _on_client(own, task, units)


def _on_client(client: Any, task: Task, units: Sequence[WorkUnit]) -> Outcomes:
    from distributed import KilledWorker

    run = uuid.uuid4().hex[:8]  # task keys stay unique on a shared, long-lived scheduler

    def key(unit: WorkUnit) -> str:
        return f"jetscale-generate-{unit.class_name}-{unit.unit_index}-{run}"

    for unit, future in submit_bounded(client, task, units, key):
        try:
            result = future.result()
        except KilledWorker as err:
            yield unit, WorkerLost(f"its dask worker died ({type(err).__name__}: {err})")
        else:
            yield unit, result
