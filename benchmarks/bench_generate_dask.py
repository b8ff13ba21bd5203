"""Generation on dask: jets/s with one and two workers, a process pool of two, and dask's cost per unit.

Usage::

    python benchmarks/bench_generate_dask.py [--units 8] [--unit-jets 60] [--class QCD]

The same work units (one class, ``--units`` units of ``--unit-jets`` jets, one
seed) run three times through :func:`jetscale.generate.generate`, each into a
fresh directory: on a local dask cluster of one worker, on one of two workers,
and in a pool of two processes. The dask clusters are started and their workers
warmed (jetscale and Pythia imported) before the clock starts, as on a cluster
that serves a long run; the pool's start-up (spawn, imports) is included, as
``--workers 2`` pays it. Two workers should reach 1.8x one worker or more
(within 10% of 2x) on two otherwise idle cores; the load average is printed,
since a busy machine lowers the ratio.

Dask's cost per 500-jet unit: the median round trip of a trivial task, and of
fetching a 500-jet unit result from a worker (pickled there, sent, unpickled
here), against the compute time of a 500-jet unit at the measured one-worker rate.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import awkward as ak

from jetscale.generate import generate


def _warm() -> None:
    """Import what a unit needs, so the first timed unit does not pay it."""
    import pythia8mc  # noqa: F401

    import jetscale.generate.units  # noqa: F401


def _noop(index: int) -> int:
    return index


def _load(paths: list[str], n_jets: int) -> ak.Array:
    """A unit result of ``n_jets`` jets, built on the worker from the benchmark's unit files."""
    jets = ak.concatenate([ak.from_parquet(p) for p in paths])
    while len(jets) < n_jets:
        jets = ak.concatenate([jets, jets])
    return jets[:n_jets]


def _timed_run(out: Path, args: argparse.Namespace, **where: Any) -> float:
    """Seconds for generate() of the benchmark's units into ``out``."""
    start = time.perf_counter()
    generate(
        out,
        [args.class_name],
        args.units * args.unit_jets,
        seed=args.seed,
        unit_jets=args.unit_jets,
        progress=False,
        **where,
    )
    return time.perf_counter() - start


def _cluster(workers: int) -> tuple[Any, Any]:
    from dask.distributed import Client

    from jetscale.dask_client import local_cluster

    cluster = local_cluster(workers, threads=1)  # free ports, as every cluster of jetscale
    client = Client(cluster)
    client.run(_warm)
    return cluster, client


def _median_s(action: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=8, help="work units (default: 8)")
    parser.add_argument("--unit-jets", type=int, default=60, help="jets per unit (default: 60)")
    parser.add_argument("--class", dest="class_name", default="QCD", help="class (default: QCD)")
    parser.add_argument("--seed", type=int, default=3, help="generator seed (default: 3)")
    args = parser.parse_args()
    jets = args.units * args.unit_jets
    print(f"{args.units} units x {args.unit_jets} {args.class_name} jets, seed {args.seed}")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        cluster, client = _cluster(1)
        with cluster, client:
            one = _timed_run(base / "dask1", args, client=client)
        cluster, client = _cluster(2)
        with cluster, client:
            two = _timed_run(base / "dask2", args, client=client)
            round_trip = _median_s(lambda: client.submit(_noop, 0, pure=False).result(), 50)
            units = sorted(str(p) for p in (base / "dask2" / "units").rglob("*.parquet"))
            held = client.submit(_load, units, 500, pure=False)
            unit_jets = held.result()
            fetch = _median_s(held.result, 10)  # fetched from the worker each time
        pool = _timed_run(base / "pool2", args, workers=2)

    rate_one, rate_two, rate_pool = jets / one, jets / two, jets / pool
    print(f"{'dask, 1 worker':20s} {jets} jets in {one:6.1f} s {rate_one:7.2f} jets/s")
    print(f"{'dask, 2 workers':20s} {jets} jets in {two:6.1f} s {rate_two:7.2f} jets/s")
    print(f"{'pool, 2 processes':20s} {jets} jets in {pool:6.1f} s {rate_pool:7.2f} jets/s")
    print(
        f"2 dask workers / 1 worker: {rate_two / rate_one:.2f}x (target >= 1.80x); "
        f"2 dask workers / pool of 2: {rate_two / rate_pool:.2f}x"
    )
    payload = pickle.dumps(unit_jets, protocol=pickle.HIGHEST_PROTOCOL)
    local = _median_s(lambda: pickle.loads(pickle.dumps(unit_jets, protocol=5)), 10)
    compute = 500 / rate_one
    overhead = round_trip + fetch
    print(
        f"dask cost per 500-jet unit: task round trip {1e3 * round_trip:.1f} ms, result fetch "
        f"{1e3 * fetch:.1f} ms ({len(payload) / 1e6:.2f} MB pickled; pickle + unpickle here "
        f"{1e3 * local:.1f} ms); compute {compute:.1f} s at the 1-worker rate: "
        f"{100 * overhead / compute:.3f}% of a unit"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
