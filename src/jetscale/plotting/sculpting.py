"""Mass sculpting: the soft-drop mass of jets after cuts on a tagger discriminant.

A cut chosen for a fixed QCD efficiency on the fine ``discriminant`` histogram is
applied on the coarse ``sdmass_vs_discriminant`` axis at the nearest edge, and the
legend says which cut was applied and what fraction of jets it kept.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import hist
import numpy as np

from jetscale.metrics import BACKGROUND, cut_efficiency, roc_curve
from jetscale.metrics import working_points as find_working_points
from jetscale.plotting.style import (
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


def _plot_sculpting(
    jets: hist.Hist,
    background_fine: hist.Hist,
    background_coarse: hist.Hist,
    signal: str,
    background_efficiencies: Sequence[float],
    same_jets: bool,
    title: str,
    out_dir: str | os.PathLike[str],
    stem: str,
    style: dict[str, Any],
) -> list[Path]:
    """Soft-drop mass of ``jets`` (sdmass x discriminant) after cuts chosen on the background.

    Each cut is the working point of ``background_fine`` (1-D, fine discriminant)
    moved to the nearest edge of the coarse discriminant axis; the legend gives
    that edge and, unless ``same_jets`` (the plotted jets are the background),
    the background efficiency it has on ``background_coarse``.
    """
    # Only the background efficiencies of this "ROC curve" are used.
    wps = find_working_points(roc_curve(background_fine, background_fine), background_efficiencies)
    edges = np.asarray(jets.axes["discriminant"].edges)
    summed: dict[int | str, Any] = {"sdmass": sum}
    _, coarse_efficiency = cut_efficiency(cast(hist.Hist, background_coarse[summed]), "background")
    all_jets = total_weight(jets)
    drawn = 0
    with new_figure(style) as (fig, ax):
        for index, wp in enumerate(wps):
            # A cut at the last edge keeps nothing: scores are clamped below 1.
            k = int(np.argmin(np.abs(edges[:-1] - wp.threshold)))
            sub = cast(hist.Hist, jets[{"discriminant": slice(k, None, sum)}])
            kept = total_weight(sub)
            if k == 0:
                applied = "no cut"
            else:
                applied = f"{discriminant_symbol(signal)} $\\geq$ {edges[k]:.6g}"
                if not same_jets:
                    applied += rf", $\varepsilon_B$ = {percent(coarse_efficiency[k])}"
            if kept <= 0:
                log.info("sculpting plot %s: no jets pass %s", stem, applied)
                continue
            target = rf"$\varepsilon_B$ = {percent(wp.target)}"
            draw_step(ax, sub, f"{target}: {applied} ({percent(kept / all_jets)} kept)", index)
            drawn += 1
        if not drawn:
            return []
        finish_distribution(ax, jets.axes["sdmass"].label, title, False, "x-small")
        return save_figure(fig, ax, out_dir, stem, style)


def plot_mass_sculpting(
    histograms: Histograms,
    dataset: Datasets,
    out_dir: str | os.PathLike[str],
    signal: str,
    jet_class: str = BACKGROUND,
    background_efficiencies: Sequence[float] = (1.0, 0.1, 0.01),
    background: str = BACKGROUND,
    *,
    experiment: str = "CMS",
    label: str = "Preliminary",
    com: float = 13,
) -> list[Path]:
    """Soft-drop mass of ``jet_class`` jets after cuts on the ``signal`` discriminant.

    The cuts give ``background_efficiencies`` for ``background`` jets on the fine
    ``discriminant`` histogram, then move to the nearest edge of the coarse
    ``sdmass_vs_discriminant`` axis (the legend says which). Writes
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
        select(coarse, jet_class=background, **where),
        signal,
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
    background_efficiencies: Sequence[float] = (1.0, 0.1, 0.01),
    *,
    experiment: str = "CMS",
    label: str = "Preliminary",
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
        select(coarse, dataset=background_in, jet_class=sum, signal=signal),
        signal,
        background_efficiencies,
        same_jets=sorted(jets_in) == sorted(background_in),
        title=f"{dataset_title(dataset)}\ncuts on {discriminant_symbol(signal)} from {dataset_title(background_dataset)}",
        out_dir=out_dir,
        stem=f"sdmass_{slug(signal)}",
        style=style,
    )
