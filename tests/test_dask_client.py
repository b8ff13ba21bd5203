"""jetscale's local dask clusters bind free ports only: another cluster on the machine changes nothing.

distributed's defaults put the scheduler on port 8786 and its HTTP server on 8787
(even without a dashboard); with 8787 taken it warns, and a cluster started where
warnings are errors (these tests) fails. Each test holds both ports first.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest

pytest.importorskip("distributed")

from jetscale.dask_client import dask_client, local_cluster

pytestmark = pytest.mark.dask


@contextmanager
def no_port_warnings() -> Iterator[None]:
    """Fail on distributed's "Port 8787 is already in use" warning, whatever the warning filters."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    said = [str(w.message) for w in caught if "already in use" in str(w.message)]
    assert not said, said


def test_local_cluster_listens_on_free_ports(dask_default_ports_taken: tuple[int, ...]) -> None:
    with no_port_warnings(), local_cluster(workers=1, threads=1) as cluster:
        ports = {urlsplit(cluster.scheduler_address).port, cluster.scheduler.http_server.port}
    assert ports.isdisjoint(dask_default_ports_taken)


def test_dask_client_runs_tasks_with_the_default_ports_taken(
    dask_default_ports_taken: tuple[int, ...],
) -> None:
    """The client of ``jetscale scan``, ``generate`` and ``transfer-study``."""
    with no_port_warnings(), dask_client(None, workers=1, threads=1) as client:
        assert client.submit(operator.add, 1, 2).result() == 3


def test_run_fileset_starts_its_dask_cluster_with_the_default_ports_taken(
    dask_default_ports_taken: tuple[int, ...],
) -> None:
    """The cluster of ``run_fileset(executor="dask")`` and ``jetscale tag --executor dask``."""
    from coffea.nanoevents import BaseSchema

    from jetscale.processors import JetClassFeatureProcessor
    from jetscale.runner import run_fileset

    with no_port_warnings():
        out = run_fileset(
            {"nothing": []},  # the cluster starts and closes; no chunk to send it
            JetClassFeatureProcessor(feature_set="kin"),
            treename="tree",
            schema=BaseSchema,
            executor="dask",
            workers=1,
        )
    assert out == {"skipped_files": {}}
