"""A dask client for jetscale's task-parallel commands, and their submission loop.

``jetscale scan`` and ``jetscale generate`` run independent, restartable tasks
(sweep points, work units) on ``dask.distributed``: on a scheduler the user
started (``--scheduler``; a dask-jobqueue cluster's ``scheduler_address``) or on
a local cluster of worker processes. :func:`dask_client` gives either.

The local cluster does not retry a task whose worker died
(``distributed.scheduler.allowed-failures = 0``): the task fails alone with
``KilledWorker``, the driver records it and goes on, and the next run does it
again (each task's output is written once it is complete). On a scheduler you
start yourself, set that option for the same behaviour; its default retries such
a task up to three times on other workers.

:func:`submit_bounded` hands out at most one task per worker thread at a time, so
nothing is queued on a worker when it dies, and re-reads the cluster's size while
it waits, so workers that join later (jobs of a dask-jobqueue cluster started
with ``scale``) get work. An adaptive cluster (``adapt``) sizes itself by the
tasks waiting, and with none waiting it does not grow: give it a fixed size.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from jetscale._optional import require

Item = TypeVar("Item")


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int, threads: int) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler``, or on a local cluster of ``workers`` processes.

    The local cluster has ``threads`` threads per worker, no dashboard and no
    retries of tasks whose worker died; it is closed on exit.
    """
    require("dask", "distributed", extra="dask", purpose="a dask cluster")
    import dask
    from dask.distributed import Client

    logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO lines drown ours
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    # No retries of a task whose worker died: that task fails alone and is re-run next time.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = local_cluster(workers, threads)
    with cluster, Client(cluster) as client:
        yield client


def local_cluster(workers: int, threads: int) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` processes that binds no fixed port.

    The scheduler and its HTTP server (health and metrics routes, which distributed
    starts even without a dashboard) listen on free ports: distributed's defaults
    would put the HTTP server on port 8787, and another cluster holding it turns the
    start into a warning, or a failure where warnings are errors. No dashboard is
    served. Close the cluster, or use it as a context manager.
    """
    require("dask", "distributed", extra="dask", purpose="a dask cluster")
    from dask.distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=threads,
        processes=True,
        scheduler_port=0,
        dashboard_address=":0",  # where the HTTP server listens; None would mean :8787
        scheduler_kwargs={"dashboard": False},
    )


def submit_bounded(
    client: Any,
    function: Callable[[Item], Any],
    items: Sequence[Item],
    key: Callable[[Item], str],
    poll_s: float = 1.0,
) -> Iterator[tuple[Item, Any]]:
    """Run ``function(item)`` for every item on ``client``; yield ``(item, future)`` as each finishes.

    At most one task per worker thread is in flight (one in all while the cluster
    has no workers yet). ``key(item)`` names each task on the scheduler and must be
    unique there. The caller reads ``future.result()`` (which raises the task's
    error, or ``KilledWorker``). Tasks still in flight when the caller stops are
    cancelled.
    """
    from dask.distributed import wait

    waiting = list(items)
    in_flight: dict[Any, Item] = {}
    try:
        while waiting or in_flight:
            slots = max(sum(client.nthreads().values()), 1)
            while waiting and len(in_flight) < slots:
                item = waiting.pop(0)
                future = client.submit(function, item, key=key(item), pure=False)
                in_flight[future] = item
            try:
                done = wait(list(in_flight), timeout=poll_s, return_when="FIRST_COMPLETED").done
            except TimeoutError:  # nothing finished: look again for new workers
                continue
            for future in done:
                yield in_flight.pop(future), future
    finally:
        if in_flight:
            client.cancel(list(in_flight))
