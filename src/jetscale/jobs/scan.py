"""``jetscale scan``: every point of a sweep as an independent task on ``dask.distributed``.

Each point is one run of the training module in ``OUT/runs/<name>``. A point
is finished when its ``result.json`` exists (written atomically after
training); a restarted sweep skips finished points and resumes unfinished ones
from their last checkpoint. A point whose task fails, or whose worker dies, is
listed in ``OUT/failed.json`` and loses nothing else: the other points go on,
and the next ``jetscale scan`` runs it again. The scheduler is told not to
retry a task whose worker died (``allowed-failures = 0`` on the local
cluster), so a point that kills workers (out of memory, say) cannot take down
the rest of the sweep (on a scheduler you start yourself, ``--scheduler``, set
``distributed.scheduler.allowed-failures: 0`` for the same behaviour; its
default retries such a point up to three times on other workers). The driver
hands out at most one point per worker thread at a time, so nothing is queued
on a worker when it dies.

Outputs: ``results.csv`` and ``results.parquet`` (one row per finished point,
rewritten atomically after every point), ``plan.json`` (every point and what
was left out) and ``failed.json``. ``plan.json`` and the parquet file's metadata
(key ``jetscale.provenance``) hold the :func:`~jetscale.provenance.provenance`
of the sweep. Progress lines (each point as it finishes, with an ETA) go to
the ``jetscale.progress.points`` logger at INFO.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from jetscale._optional import require
from jetscale.dask_client import dask_client as _client
from jetscale.dask_client import submit_bounded
from jetscale.io.atomic import atomic_path, write_json
from jetscale.io.identity import data_identity
from jetscale.io.lock import DirectoryLock
from jetscale.nn.counting import training_flops
from jetscale.provenance import provenance
from jetscale.scaling.sweep_config import SweepConfig, SweepConfigError, SweepPoint
from jetscale.scaling.sweep_data import (
    CONSTITUENT_COUNTS_NAME,
    count_jets,
    prepare_data,
    tokens_per_jet,
)
from jetscale.train.config import TrainConfig

log = logging.getLogger(__name__)
#: Progress lines of sweep and study points (``jetscale scan``, ``transfer-study``).
progress_log = logging.getLogger("jetscale.progress.points")
Item = TypeVar("Item")

RESULT_NAME = "result.json"
RUNNING_NAME = "running.json"
#: Columns of the results table, in order. C is the 6 N D n_bar convention the fits use.
COLUMNS = (
    "point",
    "study",
    "N",
    "N_total",
    "d_model",
    "n_layers",
    "architecture",
    "feature_set",
    "max_particles",
    "U",
    "epochs",
    "D",
    "tokens_per_jet",
    "C",
    "C_exact",
    "isoflop_budget",
    "loss",
    "best_loss",
    "val_accuracy",
    "wall_time_s",
    "run_dir",
)


@dataclasses.dataclass(frozen=True)
class ScanSummary:
    """What a scan did: points finished before and now, failures (name -> reason), the tables."""

    points: int
    already_done: int
    ran: int
    failed: dict[str, str]  # run name -> reason
    skipped: list[str]  # points the plan left out, with the reason
    table_csv: Path
    table_parquet: Path
    wall_time_s: float


def run_point(
    point: SweepPoint, train: Sequence[str], val: Sequence[str], run_dir: str, threads: int
) -> dict[str, Any]:
    """Train one point (resuming if it was interrupted) and write its ``result.json``.

    Runs on a dask worker; imports torch there, so the driver stays light.
    """
    import torch

    from jetscale.nn import count_parameters
    from jetscale.train import train as train_run

    torch.set_num_threads(threads)
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(
        out / RUNNING_NAME
    ) as tmp:  # who runs it: lets a user (or test) find the process
        tmp.write_text(
            json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()})
        )
    config = point.train_config(train, val, str(out))
    final = train_run(config, resume=True)
    counts = count_parameters(config.model)
    jets_seen = int(final["jets_seen"])
    row = {
        "point": point.point_id,
        "study": point.study,
        "N": counts.non_embedding,
        "N_total": counts.total,
        "d_model": config.model.d_model,
        "n_layers": config.model.n_layers,
        "architecture": config.model.architecture,
        "feature_set": config.model.feature_set,
        "max_particles": config.model.max_particles,
        "U": jets_seen // config.epochs,
        "epochs": config.epochs,
        "D": jets_seen,
        "tokens_per_jet": final["flops_6nd"] / training_flops(counts.non_embedding, jets_seen),
        "C": final["flops_6nd"],
        "C_exact": final["flops"],
        "isoflop_budget": point.isoflop_budget
        if point.isoflop_budget is not None
        else float("nan"),
        "loss": final["val_loss"],
        "best_loss": final["best_val_loss"],
        "val_accuracy": final["val_accuracy"],
        "wall_time_s": final["wall_time_s"],
        "run_dir": str(out),
    }
    return finish_point(out, row)


def finish_point(out: Path, row: dict[str, Any]) -> dict[str, Any]:
    """Write a point's ``result.json`` atomically (from then on it is finished) and return ``row``.

    ``json.dumps``, not ``write_json``: NaN (no IsoFLOP budget, no AUC) and inf must
    read back as such for the table.
    """
    with atomic_path(out / RESULT_NAME) as tmp:
        tmp.write_text(json.dumps(row, indent=2))
    (out / RUNNING_NAME).unlink(missing_ok=True)
    return row


def _run_sweep_point(
    point: SweepPoint,
    train: Sequence[str],
    val: Sequence[str],
    run_dirs: Mapping[str, Path],
    threads: int,
) -> dict[str, Any]:
    return run_point(point, train, val, str(run_dirs[point.point_id]), threads)


def run_tasks(
    items: Sequence[Item],
    function: Callable[[Item], dict[str, Any]],
    name: Callable[[Item], str],
    on_done: Callable[[Item, dict[str, Any]], None],
    scheduler: str | None,
    workers: int,
    threads_per_worker: int,
) -> dict[str, str]:
    """Run ``function(item)`` for every item as a dask task; the failures, ``{name(item): reason}``.

    The driver loop of :func:`scan` and ``jetscale transfer-study``: each item is
    one task named ``jetscale-point-<name(item)>`` on a local cluster or
    ``scheduler``; at most one task per worker thread is handed out at a time
    (:func:`~jetscale.dask_client.submit_bounded`), so a worker that dies takes
    only its running item with it. ``on_done(item, row)`` runs in the driver as
    each item finishes; a task that raises (or whose worker dies) is recorded and
    the others go on.
    """
    failed: dict[str, str] = {}
    started = time.perf_counter()
    where = f"the scheduler at {scheduler}" if scheduler else f"{workers} local worker(s)"
    progress_log.info("%d point(s) to run on %s", len(items), where)
    with _client(scheduler, workers, threads_per_worker) as client:
        tasks = submit_bounded(client, function, items, lambda item: f"jetscale-point-{name(item)}")
        for count, (item, future) in enumerate(tasks, 1):
            try:
                row = future.result()
            except Exception as err:  # one point's failure must not stop the others
                failed[name(item)] = f"{type(err).__name__}: {err}"
                log.warning("point %s failed: %s", name(item), failed[name(item)])
            else:
                on_done(item, row)
            elapsed = time.perf_counter() - started
            progress_log.info(
                "point %d/%d %s (%s): %.1f min elapsed, ETA %.1f min",
                count,
                len(items),
                "failed" if name(item) in failed else "done",
                name(item),
                elapsed / 60,
                elapsed / count * (len(items) - count) / 60,
            )
    return failed


def report_nothing_to_run(out_dir: Path, points: int, command: str) -> None:
    """A rerun of a finished sweep or study trains nothing: say so, and how to start over."""
    log.warning(
        "%s: all %d points are finished already; %s only rewrites its tables from their "
        "results (use another --out, or remove %s/runs, to train them again)",
        out_dir,
        points,
        command,
        out_dir,
    )


def scan(
    config: SweepConfig,
    out: str | os.PathLike[str],
    workers: int | None = None,
    threads_per_worker: int = 1,
    scheduler: str | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> ScanSummary:
    """Run every unfinished point of ``config``; write the results table after each point."""
    # Before any data is generated: a sweep without dask would fail only minutes later.
    require("dask", "distributed", extra="dask", purpose="jetscale scan")
    require("torch", extra="ml", purpose="jetscale scan (training)")
    config.check()  # every setting's type and value, before data are generated or read
    with DirectoryLock(out, "jetscale scan"):  # one driver per sweep directory
        return _scan(config, Path(out), workers, threads_per_worker, scheduler, on_result)


def _scan(
    config: SweepConfig,
    out_dir: Path,
    workers: int | None,
    threads_per_worker: int,
    scheduler: str | None,
    on_result: Callable[[dict[str, Any]], None] | None,
) -> ScanSummary:
    """The work of :func:`scan`, with the sweep directory held."""
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or max(os.cpu_count() or 1, 1)
    train, val = prepare_data(config.data, out_dir, workers)
    identity = check_same_data(out_dir, train, val)
    n_bar = (
        tokens_per_jet(
            train,
            [entry["xxh3_128"] for entry in identity["train"]],
            out_dir / CONSTITUENT_COUNTS_NAME,
        )
        if config.needs_tokens_per_jet()
        else None
    )
    # Without validation files each point holds out part of the training files.
    val_fraction = None if val else float(config.base.get("val_fraction", TrainConfig.val_fraction))
    points, skipped = config.points(n_bar, count_jets(train, val_fraction))
    run_dirs = {p.point_id: out_dir / "runs" / p.name for p in points}
    seeds = sorted({int(p.settings.get("seed", TrainConfig.seed)) for p in points})
    made_by = provenance(seeds={"train": seeds, "data": _data_seeds(config)})
    write_json(
        out_dir / "plan.json",
        {
            "sweep": config.name,
            "source": config.source,
            "provenance": made_by,
            "train": list(train),
            "val": list(val),
            "points": [
                {"run_dir": str(run_dirs[p.point_id]), "study": p.study, **p.settings}
                for p in points
            ],
            "skipped": skipped,
        },
    )
    rows = {p.point_id: finished_row(run_dirs[p.point_id]) for p in points}
    todo = [p for p in points if rows[p.point_id] is None]
    already = len(points) - len(todo)
    log.info("%d points: %d finished before, %d to run", len(points), already, len(todo))
    failed: dict[str, str] = {}
    csv_path, parquet_path = out_dir / "results.csv", out_dir / "results.parquet"
    write_table(rows, csv_path, parquet_path, made_by=made_by)
    if not todo and points:
        report_nothing_to_run(out_dir, len(points), "jetscale scan")
    if todo:

        def done(point: SweepPoint, row: dict[str, Any]) -> None:
            rows[point.point_id] = row
            write_table(rows, csv_path, parquet_path, made_by=made_by)
            if on_result is not None:
                on_result(row)

        job = functools.partial(
            _run_sweep_point, train=train, val=val, run_dirs=run_dirs, threads=threads_per_worker
        )
        failed = run_tasks(
            todo,
            job,
            lambda point: point.name,
            done,
            scheduler,
            workers,
            threads_per_worker,
        )
    write_json(out_dir / "failed.json", failed)
    return ScanSummary(
        points=len(points),
        already_done=already,
        ran=len(todo) - len(failed),
        failed=failed,
        skipped=skipped,
        table_csv=csv_path,
        table_parquet=parquet_path,
        wall_time_s=time.perf_counter() - started,
    )


def _data_seeds(config: SweepConfig) -> dict[str, int] | None:
    """The generator seeds of a sweep's generated data (training, validation); None for files."""
    if config.data.generate is None:
        return None
    seed = int(config.data.generate.get("seed", 1))  # as sweep_data generates them
    return {"train": seed, "val": seed + 1}


def check_same_data(
    out_dir: Path, train: Sequence[str], val: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Refuse to mix runs on different data in one sweep directory (finished points would be reused).

    Returns the data identity (``{"train": [...], "val": [...]}``, one entry per
    file, as :func:`~jetscale.io.identity.data_identity`), also written to the
    directory.

    The data are compared by content (ordered file hashes), so moved or renamed
    files are the same data, and a file rewritten with the same name and size is not.
    """
    path = out_dir / "data_identity.json"
    before = json.loads(path.read_text()) if path.exists() else None
    known = [*before.get("train", []), *before.get("val", [])] if before else []
    known = [k for k in known if isinstance(k, dict)]
    identity = {"train": data_identity(train, known), "val": data_identity(val, known)}
    if before is not None and "files" in before and (out_dir / "runs").exists():
        msg = (
            f"{out_dir}: its runs were made by an older jetscale, which merged and shuffled "
            "the sweep's data into one file; training now reads the files side by side in "
            "another order, so its finished points cannot be reused. Use a new --out"
        )
        raise SweepConfigError(msg)
    if before is not None and (out_dir / "runs").exists():
        digests = lambda ident: {  # noqa: E731
            split: [f.get("xxh3_128") for f in ident.get(split, [])] for split in ("train", "val")
        }
        if digests(before) != digests(identity):
            changed = _first_change(before, identity)
            msg = (
                f"{out_dir}: its runs were trained on other data ({changed}); "
                "finished points would be reused. Use a new --out for new data"
            )
            raise SweepConfigError(msg)
    write_json(path, identity)
    return identity


def _first_change(before: dict[str, Any], now: dict[str, Any]) -> str:
    """The first difference between two data identities, in words."""
    for split in ("train", "val"):
        old, new = before.get(split, []), now.get(split, [])
        if len(old) != len(new):
            return f"{len(old)} {split} file(s) then, {len(new)} now"
        for was, is_ in zip(old, new, strict=True):
            if was.get("xxh3_128") != is_["xxh3_128"]:
                return f"{split} file {is_['file']} differs from {was.get('file')} used then"
    return "another data identity format"


def finished_row(run_dir: Path) -> dict[str, Any] | None:
    """The ``result.json`` of a finished point (``run_dir`` updated: the sweep may have moved); None if unfinished."""
    path = run_dir / RESULT_NAME
    if not path.exists():
        return None
    row: dict[str, Any] = json.loads(path.read_text())
    row["run_dir"] = str(run_dir)  # the sweep directory may have moved
    return row


def write_table(
    rows: Mapping[str, dict[str, Any] | None],
    csv_path: Path,
    parquet_path: Path,
    columns: Sequence[str] = COLUMNS,
    made_by: Mapping[str, Any] | None = None,
) -> None:
    """The finished rows (``None``: unfinished) as CSV and parquet, each written atomically.

    ``made_by`` (a :func:`~jetscale.provenance.provenance`) goes into the parquet
    schema's metadata, key ``jetscale.provenance``.
    """
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    done = [r for r in rows.values() if r is not None]
    with atomic_path(csv_path) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(done)
    table = pa.table({name: [r.get(name) for r in done] for name in columns})
    if made_by is not None:
        table = table.replace_schema_metadata({"jetscale.provenance": json.dumps(made_by)})
    with atomic_path(parquet_path) as tmp:
        pq.write_table(table, tmp)
