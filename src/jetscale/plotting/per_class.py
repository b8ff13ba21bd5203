"""mplhep plots for analysis notes: per-class overlays, normalized, PNG and PDF.

Jet observables are drawn as they are binned. The standardized constituent
features of :data:`jetscale.histograms.jets.FEATURE_RANGES` are drawn in their
physical quantity and unit (the tagger's own value is named in the legend);
flags (is it a photon?) as one bar per class: the percentage of its
constituents that have the flag.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import hist
import mplhep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import NullFormatter

from jetscale.histograms.jets import FEATURE_RANGES, raw_edges
from jetscale.plotting.style import (
    COLORS,
    NO_EXPERIMENT,
    finish_distribution,
    new_figure,
    plot_style,
    save_figure,
    total_weight,
)


def plot_per_class(
    h: hist.Hist,
    out_dir: str | os.PathLike[str],
    name: str,
    experiment: str = NO_EXPERIMENT,
    label: str = "",
    legend_title: str | None = None,
    com: float = 13,
    log: bool = False,
) -> list[Path]:
    """Overlay the unit-normalized distribution of every non-empty class; write PNG and PDF.

    ``h`` has a ``jet_class`` category axis first and one numeric axis; fractions
    include the flow bins. ``log`` asks for a log y axis (not for flags, which are
    bars). The experiment's style is applied to this figure only (global rcParams
    stay as they are).
    """
    style = plot_style(experiment, label, com)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    axis = h.axes[1]
    binning = FEATURE_RANGES.get(axis.name)
    classes = [
        (index, str(cls), sub)
        for index, cls in enumerate(h.axes["jet_class"])
        if total_weight(sub := cast(hist.Hist, h[{"jet_class": cls}])) > 0
    ]
    with new_figure(style) as (fig, ax):
        if binning is not None and binning.flag:
            _draw_flag(ax, classes, binning.quantity)
            return save_figure(fig, ax, out_dir, name, style)
        edges = np.asarray(axis.edges, dtype=np.float64)
        xlabel = axis.label
        notes = [legend_title] if legend_title else []
        if binning is not None:
            edges = raw_edges(axis.name, edges)
            xlabel = binning.quantity
            notes.append(f"tagger input: {axis.label}")
            notes += [binning.note] if binning.note else []
            if binning.scale == "log":
                ax.set_xscale("log")
            elif binning.scale == "symlog":
                _symlog_axis(ax, edges)
        outside = 0.0
        for index, cls, sub in classes:
            total = total_weight(sub)
            mplhep.histplot(
                sub.values() / total,
                bins=edges,
                ax=ax,
                label=cls,
                histtype="step",
                linewidth=1.8,
                color=COLORS[index % len(COLORS)],  # ten distinct colours, ten classes
                flow="none",
            )
            outside = max(outside, 1.0 - float(sub.values().sum()) / total)
        if outside > 0:
            notes.append(f"beyond the axis: up to {100 * outside:.2g}%")
        ylabel = "Fraction of constituents" if binning is not None else "Fraction of jets"
        finish_distribution(ax, xlabel, "\n".join(notes), log, "small", ylabel)
        return save_figure(fig, ax, out_dir, name, style)


def _draw_flag(ax: Axes, classes: list[tuple[int, str, hist.Hist]], quantity: str) -> None:
    """One bar per class: the percentage of its constituents with the flag set (bin 1)."""
    percentages = []
    for position, (index, _, sub) in enumerate(classes):
        value = 100 * float(sub.values(flow=True)[2]) / total_weight(sub)  # underflow, 0, 1
        percentages.append(value)
        ax.bar(position, value, width=0.7, color=COLORS[index % len(COLORS)])
        ax.annotate(
            f"{value:.2g}%", (position, value), xytext=(0, 3),
            textcoords="offset points", ha="center", va="bottom", fontsize="x-small",
        )  # fmt: skip
    ax.set_xticks(range(len(classes)), [cls for _, cls, _ in classes], fontsize="small")
    ax.set_xlim(-0.6, len(classes) - 0.4)
    ax.set_xlabel("Jet class (share of its constituents)")
    ax.set_ylabel(f"{quantity.capitalize()} share [%]")
    # Room above the highest bar for its percentage.
    ax.set_ylim(0.0, 1.2 * max(percentages, default=1.0) or 1.0)
    ax.tick_params(axis="x", which="minor", bottom=False, top=False)


def _symlog_axis(ax: Axes, edges: np.ndarray) -> None:
    """A symmetric log x axis (linear inside the smallest edge) with a labelled tick
    every other decade, so the labels never crowd."""
    positive = edges[edges > 0]
    small, large = float(positive.min()), float(positive.max())
    ax.set_xscale("symlog", linthresh=small, linscale=0.5)
    decades = 10.0 ** np.arange(np.ceil(np.log10(small)), np.floor(np.log10(large)) + 1)
    labelled = decades[::-1][::2][::-1]  # the largest decade always labelled
    ticks = np.concatenate([-labelled[::-1], [0.0], labelled])
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xticks(np.concatenate([-decades, decades]), minor=True)
    ax.xaxis.set_minor_formatter(NullFormatter())
