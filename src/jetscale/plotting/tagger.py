"""mplhep plots of tagger histograms for analysis notes: scores, ROC curves, mass sculpting.

Every function reads the histograms of
:func:`jetscale.histograms.tagger.tagger_histograms`, writes each figure
as PNG and PDF (atomically) and returns the paths written. Labelled samples
(JetClass) are split by true ``jet_class``; unlabelled ones (data, NanoAOD) are
compared dataset by dataset. Distributions are unit-normalized including flow
bins, so the y axis reads "fraction of jets".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hist
from matplotlib.axes import Axes

from jetscale.histograms.tagger import roc_curves
from jetscale.metrics import BACKGROUND, RocCurve, WorkingPoint, auc
from jetscale.plotting.layout import place_legend
from jetscale.plotting.sculpting import plot_mass_sculpting, plot_mass_sculpting_by_dataset
from jetscale.plotting.style import (
    COLORS,
    NO_EXPERIMENT,
    Datasets,
    Histograms,
    check_categories,
    dataset_names,
    dataset_title,
    draw_step,
    finish_distribution,
    jet_count,
    log,
    new_figure,
    percent,
    plain_log_labels,
    plot_style,
    save_figure,
    select,
    slug,
    total_weight,
)
from jetscale.plotting.working_points import (
    TARGETS,
    choose_working_points,
    common_cuts,
    cut_text,
    working_point_name,
)
from jetscale.schema import UNLABELLED


def plot_scores(
    histograms: Histograms,
    dataset: Datasets,
    out_dir: str | os.PathLike[str],
    outputs: Sequence[str] | None = None,
    *,
    log_y: bool = True,
    experiment: str = NO_EXPERIMENT,
    label: str = "",
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
        counts = [jet_count(sub) for _, _, sub in curves]
        title = dataset_title(dataset)
        if len(set(counts)) == 1:  # said once, not on every line
            title += f" ({counts[0]} per class)" if len(curves) > 1 else f" ({counts[0]})"
        with new_figure(style) as (fig, ax):
            for (index, cls, sub), count in zip(curves, counts, strict=True):
                text = cls if len(set(counts)) == 1 else f"{cls} ({count})"
                draw_step(ax, sub, text, index, "black" if cls == UNLABELLED else None)
            finish_distribution(ax, f"Tagger score $p_{{{output}}}$", title, log_y)
            written += save_figure(fig, ax, out_dir, f"score_{slug(output)}", style)
    return written


def plot_scores_by_dataset(
    histograms: Histograms,
    datasets: Sequence[str] | None,
    out_dir: str | os.PathLike[str],
    outputs: Sequence[str] | None = None,
    *,
    log_y: bool = True,
    experiment: str = NO_EXPERIMENT,
    label: str = "",
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
                draw_step(ax, sub, f"{ds} ({jet_count(sub)})", index)
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


#: Marker of each working point, in the order of the targets.
WP_MARKERS = ("o", "s", "D", "P")


def _draw_working_point(
    ax: Axes, wp: WorkingPoint, floor: float, marker: str, color: Any, label: str | None
) -> None:
    """The working point on the curve; one that no background jet passes, at the
    statistics limit as an upward triangle (its rejection is above the limit)."""
    reached = wp.background_efficiency > 0
    ax.plot(
        wp.signal_efficiency,
        1.0 / wp.background_efficiency if reached else floor,
        marker=marker if reached else "^",
        color=color,
        markersize=9,
        markerfacecolor=color if reached else "none",
        markeredgewidth=1.8,
        linestyle="none",
        label=label,
    )


def _working_point_text(signal: str, background: str, wp: WorkingPoint) -> str:
    efficiencies = rf"$\varepsilon_S$ = {percent(wp.signal_efficiency)}, "
    if wp.background_efficiency > 0:
        efficiencies += rf"$\varepsilon_B$ = {percent(wp.background_efficiency)}"
    else:
        efficiencies += f"no {background} jet passes"
    return f"{working_point_name(wp)}: {cut_text(signal, wp.threshold)}, {efficiencies}"


def _statistics_limit(h: hist.Hist) -> float:
    """The rejection of one background jet: ``1/eps_B`` at one (average) jet, the
    effective number of background jets ``(sum w)^2 / sum w^2``."""
    total = h.sum(flow=True)
    value = float(getattr(total, "value", total))
    variance = float(getattr(total, "variance", value))
    return value**2 / variance if variance > 0 else value


def _draw_statistics_limit(ax: Axes, limit: float, background_jets: str) -> None:
    ax.axhline(
        limit, color="gray", linestyle="--", linewidth=1.2,
        label=f"statistics limit: 1 of {background_jets}",
    )  # fmt: skip


def plot_roc(
    histograms: Histograms,
    dataset: Datasets,
    out_dir: str | os.PathLike[str],
    signals: Sequence[str] | None = None,
    background: str = BACKGROUND,
    working_points: Sequence[float] = TARGETS,
    *,
    experiment: str = NO_EXPERIMENT,
    label: str = "",
    com: float = 13,
) -> list[Path]:
    """Background rejection versus signal efficiency of each signal's one-vs-QCD discriminant.

    One ``roc_<signal>`` figure per signal class (default: all) with both signal
    and ``background`` jets in ``dataset``, plus a ``roc`` overlay of all of them
    when there are several. Each marks the working points (background
    efficiencies ``working_points``, chosen as in :mod:`.working_points`, the same
    cuts as the sculpting plots) and the statistics limit: the rejection of a
    single background jet, where a curve from few background jets flattens.
    Classes without jets are skipped; none at all writes nothing.
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
    if not curves:
        return []
    cuts = common_cuts(histograms)
    markers = {t: WP_MARKERS[i % len(WP_MARKERS)] for i, t in enumerate(working_points)}
    background_jets = select(
        h, dataset=dataset_names(dataset), jet_class=background, signal=next(iter(curves))
    )
    limit = _statistics_limit(background_jets)
    count = jet_count(background_jets, f"{background} jets")
    classes = list(h.axes["jet_class"])
    title = dataset_title(dataset)
    written: list[Path] = []
    for signal, curve in curves.items():
        color = COLORS[classes.index(signal) % len(COLORS)]
        with new_figure(style) as (fig, ax):
            _draw_roc(ax, curve, f"{signal} vs {background}, AUC = {auc(curve):.4f}", color)
            for wp in choose_working_points(curve, cuts, working_points):
                text = _working_point_text(signal, background, wp)
                _draw_working_point(ax, wp, limit, markers[wp.target], color, text)
            _draw_statistics_limit(ax, limit, count)
            _finish_roc(ax, background, f"{signal} jets", title, limit)
            written += save_figure(fig, ax, out_dir, f"roc_{slug(signal)}", style)

    if len(curves) > 1:
        unreached = False
        with new_figure(style) as (fig, ax):
            for signal, curve in curves.items():
                color = COLORS[classes.index(signal) % len(COLORS)]
                _draw_roc(ax, curve, f"{signal}, AUC = {auc(curve):.4f}", color)
                wps = choose_working_points(curve, cuts, working_points)
                for wp in wps:
                    _draw_working_point(ax, wp, limit, markers[wp.target], color, None)
                unreached |= any(wp.background_efficiency <= 0 for wp in wps)
            for target in working_points:
                ax.plot(
                    [], [], marker=markers[target], color="gray", linestyle="none",
                    label=rf"WP $\varepsilon_B \leq$ {percent(target)}",
                )  # fmt: skip
            if unreached:
                ax.plot(
                    [], [], marker="^", color="gray", markerfacecolor="none", linestyle="none",
                    label=f"WP that no {background} jet passes",
                )  # fmt: skip
            _draw_statistics_limit(ax, limit, count)
            _finish_roc(ax, background, "signal jets", title, limit)
            written += save_figure(fig, ax, out_dir, "roc", style)
    return written


def _finish_roc(ax: Axes, background: str, signal_label: str, title: str, limit: float) -> None:
    ax.set_yscale("log")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(1.0, max(limit, 10.0) * 1.5)
    ax.set_xlabel(rf"Signal efficiency $\varepsilon_S$ ({signal_label})")
    ax.set_ylabel(rf"{background} rejection $1/\varepsilon_B$")
    entries = len(ax.get_legend_handles_labels()[1])
    place_legend(
        ax, log_y=True, fontsize="small" if entries <= 5 else "x-small", title=title,
        title_fontsize="small", ncols=1 if entries <= 5 else 2,
    )  # fmt: skip
    plain_log_labels(ax)


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
    experiment: str = NO_EXPERIMENT,
    label: str = "",
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
