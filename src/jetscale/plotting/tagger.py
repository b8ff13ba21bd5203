"""mplhep plots of tagger histograms for analysis notes: scores, ROC curves, mass sculpting.

Every function reads the histograms of
:func:`jetscale.histograms.tagger.tagger_histograms`, writes each figure
as PNG and PDF (atomically) and returns the paths written. Labelled samples
(JetClass) are split by true ``jet_class``; unlabelled ones (data, NanoAOD) are
compared dataset by dataset. Distributions are unit-normalized including flow
bins, so the y axis reads "fraction of jets".
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes

from jetscale.histograms.tagger import roc_curves
from jetscale.metrics import BACKGROUND, RocCurve, WorkingPoint, auc
from jetscale.metrics import working_points as find_working_points
from jetscale.plotting.sculpting import plot_mass_sculpting, plot_mass_sculpting_by_dataset
from jetscale.plotting.style import (
    COLORS,
    Datasets,
    Histograms,
    check_categories,
    dataset_names,
    dataset_title,
    discriminant_symbol,
    draw_step,
    finish_distribution,
    log,
    new_figure,
    percent,
    plot_style,
    save_figure,
    select,
    slug,
    total_weight,
)
from jetscale.schema import UNLABELLED


def plot_scores(
    histograms: Histograms,
    dataset: Datasets,
    out_dir: str | os.PathLike[str],
    outputs: Sequence[str] | None = None,
    *,
    log_y: bool = True,
    experiment: str = "CMS",
    label: str = "Preliminary",
    com: float = 13,
) -> list[Path]:
    """Per tagger output (all, or ``outputs``): its score per true jet class in ``dataset``.

    Writes ``score_<output>.png/.pdf``; outputs without jets are skipped.
    """
    style = plot_style(experiment, label, com)
    h = histograms["score"]
    check_categories(h, "dataset", dataset_names(dataset))
    outputs = list(h.axes["output"]) if outputs is None else list(outputs)
    check_categories(h, "output", outputs)
    written: list[Path] = []
    for output in outputs:
        curves = [
            (index, cls, sub)
            for index, cls in enumerate(h.axes["jet_class"])
            if total_weight(
                sub := select(h, dataset=dataset_names(dataset), jet_class=cls, output=output)
            )
            > 0
        ]
        if not curves:
            continue
        with new_figure(style) as (fig, ax):
            for index, cls, sub in curves:
                draw_step(ax, sub, cls, index, "black" if cls == UNLABELLED else None)
            finish_distribution(ax, f"Tagger score $p_{{{output}}}$", dataset_title(dataset), log_y)
            written += save_figure(fig, ax, out_dir, f"score_{slug(output)}", style)
    return written


def plot_scores_by_dataset(
    histograms: Histograms,
    datasets: Sequence[str] | None,
    out_dir: str | os.PathLike[str],
    outputs: Sequence[str] | None = None,
    *,
    log_y: bool = True,
    experiment: str = "CMS",
    label: str = "Preliminary",
    com: float = 13,
) -> list[Path]:
    """Per tagger output: its score in each dataset (all jet classes together).

    For unlabelled samples. ``datasets=None`` takes every dataset. Writes
    ``score_<output>_by_dataset.png/.pdf``.
    """
    style = plot_style(experiment, label, com)
    h = histograms["score"]
    datasets = list(h.axes["dataset"]) if datasets is None else list(datasets)
    check_categories(h, "dataset", datasets)
    outputs = list(h.axes["output"]) if outputs is None else list(outputs)
    check_categories(h, "output", outputs)
    written: list[Path] = []
    for output in outputs:
        curves = [
            (index, ds, sub)
            for index, ds in enumerate(datasets)
            if total_weight(sub := select(h, dataset=ds, jet_class=sum, output=output)) > 0
        ]
        if not curves:
            continue
        with new_figure(style) as (fig, ax):
            for index, ds, sub in curves:
                draw_step(ax, sub, ds, index)
            finish_distribution(ax, f"Tagger score $p_{{{output}}}$", "Dataset", log_y)
            written += save_figure(fig, ax, out_dir, f"score_{slug(output)}_by_dataset", style)
    return written


def _draw_roc(ax: Axes, curve: RocCurve, label: str, color: Any) -> None:
    keep = curve.background_efficiency > 0  # rejection is infinite beyond the last background jet
    ax.plot(
        curve.signal_efficiency[keep],
        1.0 / curve.background_efficiency[keep],
        label=label,
        color=color,
        linewidth=1.8,
    )


def plot_roc(
    histograms: Histograms,
    dataset: Datasets,
    out_dir: str | os.PathLike[str],
    signals: Sequence[str] | None = None,
    background: str = BACKGROUND,
    working_points: Sequence[float] = (0.1, 0.01),
    *,
    experiment: str = "CMS",
    label: str = "Preliminary",
    com: float = 13,
) -> list[Path]:
    """Background rejection versus signal efficiency of each signal's one-vs-QCD discriminant.

    One ``roc_<signal>`` figure per signal class (default: all) with both signal
    and ``background`` jets in ``dataset``, working points (background
    efficiencies) marked and annotated with their cut, plus a ``roc`` overlay of
    all of them when there are several. Classes without jets are skipped; none
    at all writes nothing.
    """
    style = plot_style(experiment, label, com)
    h = histograms["discriminant"]
    check_categories(h, "dataset", dataset_names(dataset))
    signals = list(h.axes["signal"]) if signals is None else list(signals)
    check_categories(h, "signal", signals)
    check_categories(h, "jet_class", [background])
    curves = roc_curves(h, dataset_names(dataset), background, signals)
    for signal in signals:
        if signal not in curves:
            log.info(
                "no ROC for %s in %s: no %s or no %s jets", signal, dataset, signal, background
            )
    classes = list(h.axes["jet_class"])
    written: list[Path] = []
    for signal, curve in curves.items():
        color = COLORS[classes.index(signal) % len(COLORS)]
        with new_figure(style) as (fig, ax):
            _draw_roc(ax, curve, f"{signal} vs {background} (AUC = {auc(curve):.4f})", color)
            for wp in _reachable(curve, working_points):
                x, y = wp.signal_efficiency, 1.0 / wp.background_efficiency
                ax.plot(x, y, marker="o", color=color, markersize=8, linestyle="none")
                text = (
                    f"{discriminant_symbol(signal)} $\\geq$ {wp.threshold:.6g}\n"
                    rf"$\varepsilon_S$ = {percent(wp.signal_efficiency)}, "
                    rf"$\varepsilon_B$ = {percent(wp.background_efficiency)}"
                )
                left = x > 0.5  # keep the text inside the axes
                ax.annotate(
                    text, (x, y), xytext=(-10 if left else 10, 6), textcoords="offset points",
                    ha="right" if left else "left", va="bottom", fontsize="x-small",
                )  # fmt: skip
            _finish_roc(ax, background, f"{signal} jets", dataset_title(dataset))
            written += save_figure(fig, ax, out_dir, f"roc_{slug(signal)}", style)

    if len(curves) > 1:
        with new_figure(style) as (fig, ax):
            for signal, curve in curves.items():
                color = COLORS[classes.index(signal) % len(COLORS)]
                _draw_roc(ax, curve, f"{signal} (AUC = {auc(curve):.4f})", color)
                for wp in _reachable(curve, working_points):
                    x, y = wp.signal_efficiency, 1.0 / wp.background_efficiency
                    ax.plot(x, y, marker="o", color=color, markersize=6, linestyle="none")
            for target in working_points:
                ax.axhline(1.0 / target, color="gray", linestyle=":", linewidth=1)
                ax.annotate(
                    rf"$\varepsilon_B$ = {percent(target)}", (0.01, 1.0 / target),
                    xytext=(0, 3), textcoords="offset points", fontsize="x-small", color="gray",
                )  # fmt: skip
            _finish_roc(ax, background, "signal jets", dataset_title(dataset))
            written += save_figure(fig, ax, out_dir, "roc", style)
    return written


def _finish_roc(ax: Axes, background: str, signal_label: str, title: str) -> None:
    ax.set_yscale("log")
    ax.set_xlim(0.0, 1.0)
    _, top = ax.get_ylim()
    entries = len(ax.get_legend_handles_labels()[1])
    ncols = 1 if entries <= 4 else 2
    rows = -(-entries // ncols) + 1  # + the title
    # Headroom above the curves for the legend: each row takes ~1/12 of the axes height.
    decades = math.log10(max(top, 10.0))
    ax.set_ylim(1.0, 10 ** (decades / max(1.0 - rows / 12.0, 0.3)))
    ax.set_xlabel(rf"Signal efficiency $\varepsilon_S$ ({signal_label})")
    ax.set_ylabel(rf"Background rejection $1/\varepsilon_B$ ({background} jets)")
    ax.legend(
        fontsize="small" if ncols == 1 else "x-small",
        title=title,
        title_fontsize="small",
        loc="upper right",
        ncols=ncols,
    )


def _reachable(curve: RocCurve, targets: Sequence[float]) -> list[WorkingPoint]:
    """Working points at ``targets`` that some background jet passes (finite rejection)."""
    points = []
    for target in targets:
        try:
            (wp,) = find_working_points(curve, (target,))
        except ValueError as err:
            log.warning("working point %s skipped: %s", target, err)
            continue
        if wp.background_efficiency > 0:
            points.append(wp)
        else:
            log.info("working point %s: no background jet passes the cut", target)
    return points


def _classes_present(histograms: Histograms, dataset: Datasets) -> list[str]:
    h = next(histograms[k] for k in ("jet_pt", "score", "discriminant") if k in histograms)
    names = dataset_names(dataset)
    return [
        cls
        for cls in h.axes["jet_class"]
        if total_weight(select(h, dataset=names, jet_class=cls)) > 0
    ]


#: Directory of the labelled views summed over every labelled dataset.
ALL_LABELLED = "all_labelled"


def plot_tagger(
    histograms: Histograms,
    out_dir: str | os.PathLike[str],
    experiment: str = "CMS",
    label: str = "Preliminary",
    *,
    com: float = 13,
    background: str = BACKGROUND,
    background_dataset: Datasets | None = None,
) -> list[Path]:
    """Every tagger plot of every dataset in ``histograms``; returns the files written.

    Datasets with true jet classes (JetClass) get ``<out_dir>/<dataset>/``:
    scores per class, ROC curves against ``background`` jets and the mass
    sculpting of ``background`` jets for each signal discriminant, whichever
    have jets. With several labelled datasets (often one per process) the same
    views of their sum go to ``<out_dir>/all_labelled/``.

    Unlabelled datasets (NanoAOD, data) are compared in
    ``<out_dir>/score_<output>_by_dataset`` and each gets
    ``<out_dir>/<dataset>/sdmass_<signal>`` with cuts chosen on
    ``background_dataset``: by default every unlabelled dataset whose name
    contains ``background`` (case-insensitive), summed with their weights.
    Histograms missing from ``histograms`` are skipped.
    """
    style = plot_style(experiment, label, com)
    out = Path(out_dir)
    present = [k for k in ("score", "discriminant", "jet_pt") if k in histograms]
    if not present:
        return []
    labelled, unlabelled = [], []
    for dataset in histograms[present[0]].axes["dataset"]:
        classes = _classes_present(histograms, [dataset])
        if set(classes) - {UNLABELLED}:
            labelled.append(dataset)
        elif classes:
            unlabelled.append(dataset)
    if background_dataset is None:
        background_dataset = [d for d in unlabelled if background.lower() in d.lower()] or None
    elif not_unlabelled := [d for d in dataset_names(background_dataset) if d not in unlabelled]:
        msg = f"background_dataset {not_unlabelled} not among the unlabelled datasets {unlabelled}"
        raise ValueError(msg)
    has_roc = "discriminant" in histograms
    has_sculpting = has_roc and "sdmass_vs_discriminant" in histograms
    signals = list(histograms["discriminant"].axes["signal"]) if has_roc else []

    views = [(d, out / slug(d)) for d in labelled]
    if len(labelled) > 1:
        views.append((labelled, out / ALL_LABELLED))
    written: list[Path] = []
    for dataset, directory in views:
        if "score" in histograms:
            written += plot_scores(histograms, dataset, directory, **style)
        if has_roc:
            written += plot_roc(histograms, dataset, directory, background=background, **style)
        if has_sculpting and background in _classes_present(histograms, dataset):
            for signal in signals:
                written += plot_mass_sculpting(
                    histograms, dataset, directory, signal, background, background=background,
                    **style,
                )  # fmt: skip
    if unlabelled and "score" in histograms:
        written += plot_scores_by_dataset(histograms, unlabelled, out, **style)
    if has_sculpting and background_dataset is not None:
        for dataset in unlabelled:
            for signal in signals:
                written += plot_mass_sculpting_by_dataset(
                    histograms, dataset, out / slug(dataset), signal, background_dataset,
                    **style,
                )  # fmt: skip
    return written
