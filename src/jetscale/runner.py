"""Run a jetscale processor over files with coffea's Runner: iterative, futures or dask.

One entry point, :func:`run_fileset`, for the CLI, the main job and users'
scripts. A run over many files loses only what is broken, and says so: every
file it could not use completely is listed in the output's ``skipped_files``
(and the log) with the reason, on every executor:

* coffea's preprocessing (on the chosen executor, so in parallel) opens every
  file once; files it cannot open are re-opened one by one here to name the
  reason (:func:`diagnose`);
* during the run, any exception raised while a chunk is read or processed
  (decompression errors, awkward or uproot errors, a file that does not fit the
  schema) drops that chunk only; jetscale's content checks
  (:class:`~jetscale.io.errors.JetFileError`: mistyped branches, labels that are
  not one-hot) refuse it the same way. A dropped chunk contributes nothing, so
  the histograms of the other chunks are those of a run without it;
* after the run, a file whose processed entries fall short of its entry count
  is listed with the first failure's reason and the entries that were used.

If no chunk at all could be processed, :class:`NothingProcessedError` says why
instead of returning empty histograms.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from jetscale._optional import require

require("coffea", extra="coffea", purpose="jetscale.runner")

from coffea import processor  # noqa: E402

from jetscale.io.errors import JetFileError  # noqa: E402

log = logging.getLogger(__name__)

ExecutorName = Literal["iterative", "futures", "dask"]
EXECUTORS: tuple[str, ...] = ("iterative", "futures", "dask")


def diagnose(path: str, treename: str) -> str | None:
    """Why ``path`` cannot be read as ``treename`` (None: it can); opens only this file."""
    import uproot

    try:
        with uproot.open(path) as file:
            if treename not in file:
                return f"no tree {treename!r} (keys: {', '.join(file.keys()[:5])})"
            file[treename].num_entries  # noqa: B018 - reading the TTree header is the check
    except Exception as err:  # any unreadable file is skipped and reported, never fatal
        return f"unreadable: {type(err).__name__}: {err}"
    return None


def _entries_of(path: str, treename: str) -> int:
    """Entries of a file that preprocessing produced no chunk for (0 if it cannot tell)."""
    import uproot

    try:
        with uproot.open(path) as file:
            return int(file[treename].num_entries)
    except Exception:  # the caller reports the file either way
        return 0


PROCESSED_KEY = "processed_entries"
FAILED_KEY = "failed_chunks"


class NothingProcessedError(RuntimeError):
    """No chunk of any file could be processed; the message lists each file's reason."""


class EntryCounting(processor.ProcessorABC):
    """Wraps any processor and adds ``{file: entries}`` of every chunk it processed.

    After the run, a file whose count falls short of its entries lost chunks, so
    any processor, a user's own included, gets the incomplete-file report. A chunk
    whose reading or processing raises is left out with its reason (a
    :class:`~jetscale.io.errors.JetFileError` is a refusal of its content; any
    other exception a failure), so one bad file never aborts a run nor is tagged
    silently. ``KeyboardInterrupt`` and other non-``Exception`` signals still stop the run.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def process(self, events: Any) -> Any:
        metadata = events.metadata
        filename = str(metadata.get("filename", "<unknown>"))
        try:
            out = self.inner.process(events)
        except Exception as err:  # any per-chunk failure: dropped, listed with its reason
            # One line: uproot's and awkward's messages span several.
            said = " ".join(str(err).split())
            if isinstance(err, JetFileError):
                reason = f"refused: {said}"
            else:
                reason = f"failed: {type(err).__name__}: {said}"
            start, stop = int(metadata.get("entrystart", 0)), int(metadata.get("entrystop", 0))
            log.warning("dropping entries %d-%d of %s: %s", start, stop - 1, filename, reason)
            log.debug("the error of %s", filename, exc_info=True)
            # A set accumulates by union on every executor.
            return {FAILED_KEY: {(filename, start, stop, reason)}}
        return {"inner": out, PROCESSED_KEY: {filename: len(events)}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def _failure_reasons(failed: set[tuple[str, int, int, str]]) -> dict[str, str]:
    """``{file: reason}``: the first failed chunk's reason, and how many chunks failed."""
    by_file: dict[str, list[tuple[int, int, str]]] = {}
    for filename, start, stop, reason in sorted(failed):
        by_file.setdefault(filename, []).append((start, stop, reason))
    out = {}
    for filename, chunks in by_file.items():
        start, stop, reason = chunks[0]
        where = f"entries {start}-{stop - 1}"
        if len(chunks) > 1:
            where += f" and {len(chunks) - 1} more chunk(s)"
        out[filename] = f"{reason} ({where})"
    return out


@contextlib.contextmanager
def _executor(name: str, workers: int, scheduler: str | None, status: bool) -> Iterator[Any]:
    if name == "iterative":
        yield processor.IterativeExecutor(status=status)
    elif name == "futures":
        yield processor.FuturesExecutor(workers=workers, status=status)
    elif name == "dask":
        from distributed import Client

        from jetscale.dask_client import local_cluster

        if scheduler:
            with Client(scheduler) as client:
                yield processor.DaskExecutor(client=client, status=status)
        else:
            # Free ports only: a fixed one (the dashboard's 8787) clashes with other clusters.
            with local_cluster(workers, threads=1) as cluster, Client(cluster) as client:
                yield processor.DaskExecutor(client=client, status=status)
    else:
        msg = f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}"
        raise ValueError(msg)


def run_fileset(
    fileset: Mapping[str, Sequence[str | os.PathLike[str]]],
    processor_instance: Any,
    *,
    treename: str,
    schema: Any,
    executor: str = "iterative",
    workers: int = 2,
    chunksize: int = 20_000,
    scheduler: str | None = None,
    status: bool = False,
) -> dict[str, Any]:
    """Run ``processor_instance`` over ``{dataset: [files]}``; return its accumulator.

    The accumulator gains ``skipped_files`` (``{file: reason}``). With
    ``executor="dask"`` a ``LocalCluster`` of ``workers`` single-threaded
    processes is started, or ``scheduler`` (an address such as
    ``tcp://host:8786``) names an existing cluster.
    """
    if executor not in EXECUTORS:
        msg = f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}"
        raise ValueError(msg)
    files = {dataset: [str(p) for p in paths] for dataset, paths in fileset.items()}
    with _executor(executor, workers, scheduler, status) as chosen:
        # Preprocessing only opens files, so any exception there means an unreadable
        # file (uproot raises ValueError for "not a ROOT file"): skip it, diagnose it below.
        opener = processor.Runner(
            executor=chosen, schema=schema, chunksize=chunksize, skipbadfiles=(Exception,)
        )
        chunks = list(
            opener.preprocess(
                {k: {"files": dict.fromkeys(v, treename)} for k, v in files.items()},
                treename=treename,
            )
        )
        entries: dict[str, int] = {}
        for chunk in chunks:
            entries[chunk.filename] = max(entries.get(chunk.filename, 0), chunk.entrystop)
        skipped: dict[str, str] = {}
        for path in (p for paths in files.values() for p in paths):
            if path in entries:
                continue
            reason = diagnose(path, treename)
            if reason is None and _entries_of(path, treename):
                reason = "preprocessing failed; the file opened when tried again (a transient read error?)"
            if reason is not None:
                log.warning("skipping %s: %s", path, reason)
                skipped[path] = reason
        out: dict[str, Any] = {}
        processed: dict[str, int] = {}
        failed: dict[str, str] = {}
        if chunks:
            # Chunks that raise inside the processor are dropped by EntryCounting with
            # their reason. What fails before it (opening the file for the chunk, building
            # its NanoEvents) coffea skips with skipbadfiles; the shortfall is reported below.
            runner = processor.Runner(
                executor=chosen, schema=schema, chunksize=chunksize, skipbadfiles=(Exception,)
            )
            # run() (unlike __call__) takes preprocessed chunks; it wraps the
            # accumulator under "out", which Runner.__call__ would unwrap.
            wrapped = _run_chunks(runner, chunks, processor_instance, treename)
            processed = wrapped.get(PROCESSED_KEY, {})
            failed = _failure_reasons(wrapped.get(FAILED_KEY, set()))
            if "inner" in wrapped:
                out = dict(processor_instance.postprocess(wrapped["inner"]) or {})
    for path, n in entries.items():
        done = int(processed.get(path, 0))
        if path in failed:
            skipped[path] = f"{failed[path]}; {done} of {n} entries processed"
        elif done < n:
            why = _reopen_reason(path, treename, schema)
            skipped[path] = f"only {done} of {n} entries processed: {why}"
        if path in skipped:
            log.warning("incomplete %s: %s", path, skipped[path])
    if not any(processed.values()) and skipped:
        listing = "; ".join(f"{path}: {reason}" for path, reason in sorted(skipped.items()))
        msg = f"no file could be processed ({len(skipped)} skipped): {listing}"
        raise NothingProcessedError(msg)
    out["skipped_files"] = skipped
    if skipped:
        log.warning(
            "%d file(s) skipped or incomplete: %s", len(skipped), ", ".join(sorted(skipped))
        )
    return out


def _run_chunks(runner: Any, chunks: list[Any], processor_instance: Any, treename: str) -> Any:
    """The wrapped accumulator of a run; empty when coffea skipped every chunk."""
    try:
        result = runner.run(chunks, EntryCounting(processor_instance), treename=treename)
    except ValueError as err:
        # coffea's "No chunks returned results": every chunk failed before the
        # processor ran (e.g. truncated files); each file is reported with its reason.
        if "No chunks returned results" not in str(err):
            raise
        return {}
    return result["out"]


def _reopen_reason(path: str, treename: str, schema: Any) -> str:
    """Why chunks of ``path`` failed before the processor ran, found by building its events again.

    coffea drops such chunks without passing the reason on from worker processes;
    opening the file and building its (lazy) events here reproduces any error of
    the file or its schema, without reading the data.
    """
    from coffea.nanoevents import NanoEventsFactory

    try:
        NanoEventsFactory.from_root({path: treename}, schemaclass=schema, mode="virtual").events()
    except Exception as err:  # the reason is the report
        return f"{type(err).__name__}: {' '.join(str(err).split())}"
    return "a read error during the run (the file opened when tried again)"


def fileset_from_paths(paths: Sequence[str | os.PathLike[str]]) -> dict[str, list[str]]:
    """One dataset per file stem (``QCD_cms_s1.root`` -> ``QCD_cms_s1``): the CLI's default grouping."""
    out: dict[str, list[str]] = {}
    for path in paths:
        out.setdefault(Path(path).stem, []).append(str(path))
    return out
