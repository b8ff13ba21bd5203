"""Mass sculpting: the soft-drop mass of jets after cuts on a tagger discriminant.

The cuts are the working points of :mod:`.working_points`, the same as in the ROC
plots: chosen on the fine ``discriminant`` histogram among the edges that the
coarse ``sdmass_vs_discriminant`` axis shares, so they apply exactly. The legend
says which cut was applied and what fraction of jets it kept.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import hist
import numpy as np

from jetscale.metrics import BACKGROUND, roc_curve
from jetscale.plotting.style import (
    NO_EXPERIMENT,
    Datasets,
    Histograms,
    check_categories,
    dataset_names,
    dataset_title,
    discriminant_symbol,
    draw_step,
    finish_distribution,
    jet_count,
    new_figure,
    percent,
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
    edge_index,
    working_point_name,
)


def _plot_sculpting(
    jets: hist.Hist,
    background_fine: hist.Hist,
    signal: str,
    cuts: np.ndarray,
    background_efficiencies: Sequence[float],
    same_jets: bool,
    title: str,
    out_dir: str | os.PathLike[str],
    stem: str,
    style: dict[str, Any],
) -> list[Path]:
    """Soft-drop mass of ``jets`` (sdmass x discriminant): all of them, then after each working point.

    The working points are chosen on ``background_fine`` (1-D, fine discriminant)
    among ``cuts`` (:func:`.working_points.choose_working_points`); the legend
    gives each cut and, unless ``same_jets`` (the plotted jets are the
    background), its background efficiency.
    """
    # Only the background efficiencies of this "ROC curve" are used.
    curve = roc_curve(background_fine, background_fine)
    wps = choose_working_points(curve, cuts, background_efficiencies)
    edges = np.asarray(jets.axes["discriminant"].edges)
    all_jets = total_weight(jets)
    empty = []
    with new_figure(style) as (fig, ax):
        summed: dict[int | str, Any] = {"discriminant": sum}
        everything = cast(hist.Hist, jets[summed])
        draw_step(ax, everything, f"no cut ({jet_count(everything)})", 0)
        for index, wp in enumerate(wps, start=1):
            k = edge_index(edges, wp.threshold)
            sub = cast(hist.Hist, jets[{"discriminant": slice(k, None, sum)}])
            kept = total_weight(sub)
            applied = cut_text(signal, wp.threshold)
            if not same_jets:
                applied += rf", $\varepsilon_B$ = {percent(wp.background_efficiency)}"
            if kept <= 0:  # said in the legend, not left out silently
                empty.append(f"{working_point_name(wp)}: {applied}: no jet passes")
                continue
            text = f"{working_point_name(wp)}: {applied} ({percent(kept / all_jets)} kept)"
            draw_step(ax, sub, text, index)
        legend_title = "\n".join([title, *empty])
        finish_distribution(ax, jets.axes["sdmass"].label, legend_title, False, "x-small")
        return save_figure(fig, ax, out_dir, stem, style)


def plot_mass_sculpting(
    histograms: Histograms,
    dataset: Datasets,
    out_dir: str | os.PathLike[str],
    signal: str,
    jet_class: str = BACKGROUND,
    background_efficiencies: Sequence[float] = TARGETS,
    background: str = BACKGROUND,
    *,
    experiment: str = NO_EXPERIMENT,
    label: str = "",
    com: float = 13,
) -> list[Path]:
    """Soft-drop mass of ``jet_class`` jets after cuts on the ``signal`` discriminant.

    The cuts are the working points for ``background_efficiencies`` of
    ``background`` jets (:mod:`.working_points`: the same cuts as the ROC plots),
    drawn with the distribution before any cut. Writes
    ``sdmass_<signal>_<jet_class>``. Raises ValueError if either class has no jets.
    """
    style = plot_style(experiment, label, com)
    fine, coarse = histograms["discriminant"], histograms["sdmass_vs_discriminant"]
    check_categories(fine, "dataset", dataset_names(dataset))
    check_categories(fine, "signal", [signal])
    check_categories(fine, "jet_class", [jet_class, background])
    where = {"dataset": dataset_names(dataset), "signal": signal}
    background_fine = select(fine, jet_class=background, **where)
    jets = select(coarse, jet_class=jet_class, **where)
    for name, h in ((background, background_fine), (jet_class, jets)):
        if total_weight(h) <= 0:
            msg = (
                f"no {name} jets in dataset {dataset_title(dataset)!r} "
                f"for the {signal} mass-sculpting plot"
            )
            raise ValueError(msg)
    return _plot_sculpting(
        jets,
        background_fine,
        signal,
        common_cuts(histograms),
        background_efficiencies,
        same_jets=jet_class == background,
        title=f"{dataset_title(dataset)}\n{jet_class} jets, cuts on {discriminant_symbol(signal)} from {background} jets",
        out_dir=out_dir,
        stem=f"sdmass_{slug(signal)}_{slug(jet_class)}",
        style=style,
    )


def plot_mass_sculpting_by_dataset(
    histograms: Histograms,
    dataset: Datasets,
    out_dir: str | os.PathLike[str],
    signal: str,
    background_dataset: Datasets,
    background_efficiencies: Sequence[float] = TARGETS,
    *,
    experiment: str = NO_EXPERIMENT,
    label: str = "",
    com: float = 13,
) -> list[Path]:
    """As :func:`plot_mass_sculpting` for unlabelled samples: all jets of ``dataset``,
    cuts chosen to give ``background_efficiencies`` on all jets of ``background_dataset``.

    Either may be a list of datasets, summed with their weights. Writes
    ``sdmass_<signal>``. Raises ValueError if either has no jets.
    """
    style = plot_style(experiment, label, com)
    fine, coarse = histograms["discriminant"], histograms["sdmass_vs_discriminant"]
    jets_in, background_in = dataset_names(dataset), dataset_names(background_dataset)
    check_categories(fine, "dataset", jets_in + background_in)
    check_categories(fine, "signal", [signal])
    background_fine = select(fine, dataset=background_in, jet_class=sum, signal=signal)
    jets = select(coarse, dataset=jets_in, jet_class=sum, signal=signal)
    for name, h in ((background_dataset, background_fine), (dataset, jets)):
        if total_weight(h) <= 0:
            msg = f"no jets in dataset {dataset_title(name)!r} for the {signal} mass-sculpting plot"
            raise ValueError(msg)
    return _plot_sculpting(
        jets,
        background_fine,
        signal,
        common_cuts(histograms),
        background_efficiencies,
        same_jets=sorted(jets_in) == sorted(background_in),
        title=f"{dataset_title(dataset)}\ncuts on {discriminant_symbol(signal)} from {dataset_title(background_dataset)}",
        out_dir=out_dir,
        stem=f"sdmass_{slug(signal)}",
        style=style,
    )
