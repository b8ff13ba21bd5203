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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jetscale.histograms.writers import (
    collect_histograms,
    find_tagger_histograms,
    write_coffea,
    write_histograms_root,
    write_summary,
)
from jetscale.io import expand_paths
from jetscale.io.formats import detect_format
from jetscale.plotting.tagger import plot_tagger
from jetscale.provenance import provenance

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
    experiment: str = "none"  # or CMS, ATLAS, ...: mplhep style and label of the plots
    label: str = ""  # after "<experiment> Simulation" (e.g. Preliminary), or alone
    min_pt: float = 200.0
    max_abs_eta: float = 2.4
    jet_id: str = "tight"
    status: bool = True
    datasets: dict[str, list[str]] | None = None  # None: one dataset per file stem


def run_tag_job(config: TagConfig) -> dict[str, Any]:
    """Tag ``config.files``; write ``tagger.coffea``, ``histograms.root``, ``plots/``, ``summary.json``.

    Inputs and model are checked first, without writing anything (a refused input
    leaves no output directory). Then the output directory is held for the run (one
    writer per directory): a second ``jetscale tag`` on it is refused before it tags
    anything, instead of the two interleaving their outputs and ``INCOMPLETE`` markers.
    """
    from jetscale.io.lock import DirectoryLock
    from jetscale.runner import fileset_from_paths, run_fileset

    paths = [str(p) for p in expand_paths(config.files)]
    fileset = config.datasets or fileset_from_paths(paths)
    # One process tags everything with the iterative executor: give ONNX Runtime
    # every core. Futures and dask run one single-threaded worker per core.
    threads = (os.cpu_count() or 1) if config.executor == "iterative" else 1
    fmt, processor, schema, treename, model = _processor(config, paths, threads)
    with DirectoryLock(config.out, "jetscale tag"):
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
        out["job"]["provenance"] = provenance()  # no seeds: tagging draws no random numbers
        _report_phase_space(out, processor.tagger)
        written = write_outputs(out, config.out, experiment=config.experiment, label=config.label)
    return {"format": fmt, "model": model, "outputs": written, "accumulator": out}


def _processor(config: TagConfig, paths: list[str], threads: int) -> tuple[str, Any, Any, str, str]:
    from coffea.nanoevents import BaseSchema, NanoAODSchema

    if not paths:
        msg = "no input files"
        raise ValueError(msg)
    # One open per file gives both the format and, for NanoAOD, its flavour.
    detected = {f for f in (detect_format(p) for p in paths) if f}
    if not detected:
        msg = f"none of the {len(paths)} input files can be opened: {', '.join(paths)}"
        raise ValueError(msg)
    families = {"jetclass" if f == "jetclass" else "nanoaod" for f in detected}
    if config.fmt is not None and config.fmt not in FORMATS:
        msg = f"unknown format {config.fmt!r}; choose one of {', '.join(FORMATS)}"
        raise ValueError(msg)
    if len(families) != 1 or (config.fmt is not None and families != {config.fmt}):
        msg = f"input formats {sorted(detected)} (asked for {config.fmt or 'any one'}): tag JetClass and NanoAOD files in separate runs"
        raise ValueError(msg)
    if families == {"jetclass"}:
        from jetscale.processors import JetClassTaggerProcessor

        model = config.model or "full21"
        return (
            "jetclass",
            JetClassTaggerProcessor(model, threads=threads),
            BaseSchema,
            "tree",
            str(model),
        )

    from jetscale.io.nanoaod import FatJetSelection
    from jetscale.processors import NanoAODTaggerProcessor

    if len(detected) != 1:
        msg = f"mixed NanoAOD flavours {sorted(detected)} ({', '.join(paths)}): tag them in separate runs"
        raise ValueError(msg)
    (flavour,) = detected
    model = config.model or ("full21" if flavour == "pfnano" else "kinpid")
    selection = FatJetSelection(
        min_pt=config.min_pt, max_abs_eta=config.max_abs_eta, jet_id=config.jet_id
    )
    processor = NanoAODTaggerProcessor(model, fmt=flavour, selection=selection, threads=threads)
    return f"nanoaod ({flavour})", processor, NanoAODSchema, "Events", str(model)


def write_outputs(
    accumulator: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    experiment: str = "none",
    label: str = "",
    *,
    com: float = 13,
    background_dataset: str | None = None,
    command: str = "jetscale tag",
) -> dict[str, Path | list[Path]]:
    """Write a tagging job's accumulator in every form an analysis uses.

    In ``out_dir``: ``tagger.coffea`` (the whole accumulator, ``coffea.util.save``),
    ``histograms.root`` (every ``hist.Hist``, nested mappings as ``outer/inner``,
    see :func:`~jetscale.histograms.writers.write_histograms_root`), ``summary.json``
    (every other entry: counts, skipped files) and ``plots/``
    (:func:`~jetscale.plotting.tagger.plot_tagger`). Returns those paths under the keys
    ``coffea``, ``root``, ``summary`` and ``plots`` (a list). Every file is written
    atomically; the ``.coffea`` file first, so the accumulator survives a failure further on.
    The four are written as a set (:func:`~jetscale.io.atomic.output_set`): until the
    last is written an ``INCOMPLETE`` marker (naming ``command``) says what is missing
    and which files are left from an earlier run.
    """
    # Imported here so that this function's change stays within it (tag.py is shared).
    from jetscale.histograms.writers import coffea_save
    from jetscale.io.atomic import output_set

    out = Path(out_dir)
    coffea_save()  # a missing coffea fails before anything, the marker included, is written
    names = ("tagger.coffea", "histograms.root", "summary.json", "plots/")
    with output_set(out, names, command):
        coffea_file = write_coffea(accumulator, out / "tagger.coffea")
        root_file = write_histograms_root(
            out / "histograms.root", dict(collect_histograms(accumulator))
        )
        summary_file = write_summary(
            {**accumulator, **tagging_summary(accumulator)}, out / "summary.json"
        )
        plots = plot_tagger(
            find_tagger_histograms(accumulator),
            out / "plots",
            experiment,
            label,
            com=com,
            background_dataset=background_dataset,
        )
    return {"coffea": coffea_file, "root": root_file, "summary": summary_file, "plots": plots}


def tagging_summary(accumulator: Mapping[str, Any]) -> dict[str, Any]:
    """``auc_vs_qcd`` per dataset, for each signal class with both its own and QCD jets.

    From the ``discriminant`` histogram (:func:`~jetscale.histograms.tagger.roc_curves`,
    weighted as filled); the number of jets per true class is ``jets_per_class``.
    """
    from jetscale.histograms.tagger import roc_curves
    from jetscale.metrics import auc

    discriminant = find_tagger_histograms(accumulator).get("discriminant")
    if discriminant is None:
        return {}
    aucs = {}
    for dataset in discriminant.axes["dataset"]:
        curves = roc_curves(discriminant, [dataset])
        aucs[dataset] = {signal: round(auc(curve), 4) for signal, curve in curves.items()}
    return {"auc_vs_qcd": aucs}


def _report_phase_space(accumulator: Mapping[str, Any], tagger: Any) -> None:
    """Say how many jets lie outside the model's training phase space (or that it is unknown)."""
    from jetscale.processors.tagging import NOT_STATED

    for dataset, regions in accumulator.get("outside_training_phase_space", {}).items():
        jets = accumulator.get("jets", {}).get(dataset, 0)
        if regions.get(NOT_STATED):
            log.warning(
                "%s: the model card of %s states no training phase space (an older export, "
                "or not jetscale's): jets outside it cannot be counted",
                dataset,
                tagger.model_path,
            )
        elif outside := sum(regions.values()):
            counts = ", ".join(f"{n} {region}" for region, n in regions.items() if n)
            log.warning(
                "%s: %d of %d jets (%.0f%%) lie outside the phase space %s was trained on "
                "(%s): %s; their scores are extrapolations",
                dataset,
                outside,
                jets,
                100 * outside / max(jets, 1),
                tagger.model_path,
                tagger.phase_space.describe(),
                counts,
            )
