"""Run a jetscale processor over files with coffea's Runner: iterative, futures or dask.

One entry point, :func:`run_fileset`, for the CLI, the main job and users'
scripts. coffea's preprocessing (on the chosen executor, so in parallel) opens
every file once and, with ``skipbadfiles``, drops unreadable ones; those files
are re-opened one by one to name the reason, skipped and reported, not fatal.
During the run ``skipbadfiles`` skips chunks that fail to read (``OSError``);
after it, files whose processed entries fall short of their entry count are
reported too. Both land in the output (``skipped_files``) and in the log, so a
run never drops data silently.
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


PROCESSED_KEY = "processed_entries"
REFUSED_KEY = "refused_chunks"


class EntryCounting(processor.ProcessorABC):
    """Wraps any processor and adds ``{file: entries}`` of every chunk it processed.

    After the run, a file whose count falls short of its entries lost chunks to
    read errors (coffea's ``skipbadfiles`` swallows them), so any processor, a
    user's own included, gets the incomplete-file report. A chunk whose content
    jetscale refuses (a :class:`~jetscale.io.errors.JetFileError`: mistyped
    branches, labels that are not one-hot) is left out with its reason, so one bad
    file never aborts a run nor is tagged silently.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def process(self, events: Any) -> Any:
        filename = str(events.metadata.get("filename", "<unknown>"))
        try:
            out = self.inner.process(events)
        except JetFileError as err:
            log.warning("refusing a chunk of %s: %s", filename, err)
            # A set accumulates by union: the same reason from several chunks stays one entry.
            return {REFUSED_KEY: {(filename, str(err))}}
        return {"inner": out, PROCESSED_KEY: {filename: len(events)}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


@contextlib.contextmanager
def _executor(name: str, workers: int, scheduler: str | None, status: bool) -> Iterator[Any]:
    if name == "iterative":
        yield processor.IterativeExecutor(status=status)
    elif name == "futures":
        yield processor.FuturesExecutor(workers=workers, status=status)
    elif name == "dask":
        from distributed import Client, LocalCluster

        if scheduler:
            with Client(scheduler) as client:
                yield processor.DaskExecutor(client=client, status=status)
        else:
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                ) as cluster,
                Client(cluster) as client,
            ):
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
        # file (uproot raises ValueError for "not a ROOT file"): skip it, diagnose it
        # below. Processing skips only read errors (OSError); a bug still stops the run.
        opener = processor.Runner(
            executor=chosen,
            schema=schema,
            chunksize=chunksize,
            skipbadfiles=(OSError, ValueError, KeyError),
        )
        chunks = list(
            opener.preprocess(
                {k: {"files": dict.fromkeys(v, treename)} for k, v in files.items()},
                treename=treename,
            )
        )
        runner = processor.Runner(
            executor=chosen, schema=schema, chunksize=chunksize, skipbadfiles=True
        )
        entries: dict[str, int] = {}
        for chunk in chunks:
            entries[chunk.filename] = max(entries.get(chunk.filename, 0), chunk.entrystop)
        skipped: dict[str, str] = {}
        for path in (p for paths in files.values() for p in paths):
            if path not in entries and (reason := diagnose(path, treename)) is not None:
                log.warning("skipping %s: %s", path, reason)
                skipped[path] = reason
        out: dict[str, Any] = {}
        processed: dict[str, int] = {}
        refused: dict[str, str] = {}
        if chunks:
            # run() (unlike __call__) takes preprocessed chunks; it wraps the
            # accumulator under "out", which Runner.__call__ would unwrap.
            result = runner.run(chunks, EntryCounting(processor_instance), treename=treename)
            wrapped = result["out"]
            processed = wrapped.get(PROCESSED_KEY, {})
            refused = dict(sorted(wrapped.get(REFUSED_KEY, set())))
            out = dict(processor_instance.postprocess(wrapped.get("inner", {})) or {})
    for path, n in entries.items():
        done = int(processed.get(path, 0))
        if path in refused:
            kept = f"; {done} of its {n} entries were used" if done else ""
            skipped[path] = f"refused: {refused[path]}{kept}"
        elif done < n:
            reason = f"only {done} of {n} entries processed (read error during the run)"
            log.warning("incomplete %s: %s", path, reason)
            skipped[path] = reason
    out["skipped_files"] = skipped
    if skipped:
        log.warning(
            "%d file(s) skipped or incomplete: %s", len(skipped), ", ".join(sorted(skipped))
        )
    return out


def fileset_from_paths(paths: Sequence[str | os.PathLike[str]]) -> dict[str, list[str]]:
    """One dataset per file stem (``QCD_cms_s1.root`` -> ``QCD_cms_s1``): the CLI's default grouping."""
    out: dict[str, list[str]] = {}
    for path in paths:
        out.setdefault(Path(path).stem, []).append(str(path))
    return out
