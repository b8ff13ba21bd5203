"""The job behind ``jetscale tag``: tag files in coffea, write the accumulator, ROOT and plots.

It picks the input format from the files (JetClass ``tree`` or NanoAOD
``Events``), the default model from what the files provide (``full21`` where
track impact parameters exist, ``kinpid`` for NanoAOD v15 PF candidates),
refuses a model the files cannot feed before anything runs, and hands the
processor to :func:`jetscale.runner.run_fileset`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from jetscale.io import expand_paths
from jetscale.io.errors import JetFileError

log = logging.getLogger(__name__)

FORMATS = ("jetclass", "nanoaod")


@dataclasses.dataclass
class TagConfig:
    """Options of a tagging run (the CLI's flags)."""

    files: list[str]
    out: Path = Path("jetscale-tag")
    fmt: str | None = None  # "jetclass" | "nanoaod"; None: detect from the first file
    model: str | None = None  # shipped name or model.onnx path; None: the shipped one that fits
    executor: str = "iterative"
    workers: int = 2
    chunksize: int = 20_000
    scheduler: str | None = None
    experiment: str = "CMS"
    label: str = "Preliminary"  # mplhep adds "Simulation" for simulated samples
    min_pt: float = 200.0
    max_abs_eta: float = 2.4
    jet_id: str = "tight"
    status: bool = True
    datasets: dict[str, list[str]] | None = None  # None: one dataset per file stem


def detect_format(path: str | os.PathLike[str]) -> str | None:
    """``"jetclass"`` (a ``tree`` with ``part_px``), ``"nanoaod"`` (``Events``), None if unreadable.

    Unreadable files are not an error here: the runner skips and reports them.
    """
    import uproot

    try:
        with uproot.open(path) as file:
            if "tree" in file and "part_px" in file["tree"]:
                return "jetclass"
            if "Events" in file:
                return "nanoaod"
            keys = ", ".join(file.keys()[:8])
    except Exception:  # any unreadable file: skipped and reported by the runner
        return None
    raise JetFileError(
        path, f"neither a JetClass 'tree' nor a NanoAOD 'Events' tree (keys: {keys})"
    )


def run_tag_job(config: TagConfig) -> dict[str, Any]:
    """Tag ``config.files``; write ``tagger.coffea``, ``histograms.root``, ``plots/``, ``summary.json``."""
    from jetscale.plotting.outputs import write_outputs
    from jetscale.runner import fileset_from_paths, run_fileset

    paths = [str(p) for p in expand_paths(config.files)]
    fileset = config.datasets or fileset_from_paths(paths)
    # One process tags everything with the iterative executor: give ONNX Runtime
    # every core. Futures and dask run one single-threaded worker per core.
    threads = (os.cpu_count() or 1) if config.executor == "iterative" else 1
    fmt, processor, schema, treename, model = _processor(config, paths, threads)
    out = run_fileset(
        fileset,
        processor,
        treename=treename,
        schema=schema,
        executor=config.executor,
        workers=config.workers,
        chunksize=config.chunksize,
        scheduler=config.scheduler,
        status=config.status,
    )
    out["job"] = {"format": fmt, "model": model, "executor": config.executor, "files": paths}
    written = write_outputs(out, config.out, experiment=config.experiment, label=config.label)
    return {"format": fmt, "model": model, "outputs": written, "accumulator": out}


def _processor(config: TagConfig, paths: list[str], threads: int) -> tuple[str, Any, Any, str, str]:
    from coffea.nanoevents import BaseSchema, NanoAODSchema

    if not paths:
        msg = "no input files"
        raise ValueError(msg)
    detected = {p: detect_format(p) for p in paths} if config.fmt is None else {}
    formats = {f for f in detected.values() if f} if config.fmt is None else {config.fmt}
    if not formats:
        msg = f"none of the {len(paths)} input files can be opened: {', '.join(paths)}"
        raise ValueError(msg)
    if len(formats) != 1:
        msg = f"mixed input formats {sorted(formats)}: tag JetClass and NanoAOD files in separate runs"
        raise ValueError(msg)
    (fmt,) = formats
    if fmt not in FORMATS:
        msg = f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}"
        raise ValueError(msg)
    if fmt == "jetclass":
        from jetscale.processors import JetClassTaggerProcessor

        model = config.model or "full21"
        return fmt, JetClassTaggerProcessor(model, threads=threads), BaseSchema, "tree", str(model)

    from jetscale.io.nanoaod import FatJetSelection, nanoaod_format_of_file
    from jetscale.processors import NanoAODTaggerProcessor

    readable = [p for p in paths if (detected[p] if p in detected else detect_format(p))]
    flavours = {nanoaod_format_of_file(p) for p in readable}
    if len(flavours) != 1:
        msg = f"mixed NanoAOD flavours {sorted(flavours)} ({', '.join(paths)}): tag them in separate runs"
        raise ValueError(msg)
    (flavour,) = flavours
    model = config.model or ("full21" if flavour == "pfnano" else "kinpid")
    selection = FatJetSelection(
        min_pt=config.min_pt, max_abs_eta=config.max_abs_eta, jet_id=config.jet_id
    )
    processor = NanoAODTaggerProcessor(model, fmt=flavour, selection=selection, threads=threads)
    return f"nanoaod ({flavour})", processor, NanoAODSchema, "Events", str(model)
