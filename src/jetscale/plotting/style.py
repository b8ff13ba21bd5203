"""What every figure of :mod:`jetscale.plotting` shares: experiment styles, figures
scoped to their style, atomic PNG/PDF saving with the experiment label, and the
category selections and step drawing of distributions.

The figure modules (per-class, tagger, sculpting, scaling) import from here so that
each stays about one kind of plot.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import operator
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import hist
import matplotlib.pyplot as plt
import mplhep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from jetscale.io.atomic import atomic_path

log = logging.getLogger(__name__)

Histograms = Mapping[str, hist.Hist]
#: One dataset, or several summed (e.g. pT-binned QCD samples with normalized weights).
Datasets = str | Sequence[str]

#: mplhep style and label module of each experiment (keys lower case).
EXPERIMENTS: dict[str, tuple[Any, Any]] = {
    "cms": (mplhep.style.CMS, mplhep.cms),
    "atlas": (mplhep.style.ATLAS, mplhep.atlas),
    "lhcb": (mplhep.style.LHCb, mplhep.lhcb),
    "alice": (mplhep.style.ALICE, mplhep.alice),
    "dune": (mplhep.style.DUNE, mplhep.dune),
}
COLORS = [plt.get_cmap("tab10")(k) for k in range(10)]
LINESTYLES = ("-", "--", ":", "-.")


def plot_style(experiment: str, label: str, com: float) -> dict[str, Any]:
    """The label settings every plot takes, checked once."""
    if experiment.lower() not in EXPERIMENTS:
        msg = f"unknown experiment {experiment!r}; choose one of {sorted(EXPERIMENTS)} (any case)"
        raise ValueError(msg)
    return {"experiment": experiment, "label": label, "com": com}


@contextlib.contextmanager
def new_figure(style: dict[str, Any]) -> Iterator[tuple[Figure, Axes]]:
    """A figure in the experiment's style (scoped, so global rcParams stay untouched)."""
    with plt.style.context(EXPERIMENTS[style["experiment"].lower()][0]):
        fig, ax = plt.subplots(figsize=(9, 7))
        try:
            yield fig, ax
        finally:
            plt.close(fig)


def save_figure(
    fig: Figure, ax: Axes, out_dir: str | os.PathLike[str], stem: str, style: dict[str, Any]
) -> list[Path]:
    """Draw the experiment label and write ``<stem>.png`` and ``<stem>.pdf``."""
    experiment = EXPERIMENTS[style["experiment"].lower()][1]
    experiment.label(style["label"], data=False, com=style["com"], ax=ax)
    written = []
    for suffix in ("png", "pdf"):
        final = Path(out_dir) / f"{stem}.{suffix}"
        with atomic_path(final) as tmp:
            fig.savefig(tmp, format=suffix, bbox_inches="tight", dpi=110)
        written.append(final)
    return written


def slug(name: str) -> str:
    """A file-name-safe version of a dataset or class name."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_") or "unnamed"


def percent(fraction: float) -> str:
    """A fraction as a percentage with three significant digits (0.0123 -> '1.23%')."""
    return f"{100 * fraction:.3g}%"


def discriminant_symbol(signal: str) -> str:
    """Mathtext symbol of the one-vs-QCD discriminant of ``signal``."""
    name = signal.replace("_", r"\_")
    return rf"$D_{{\mathrm{{{name}}}}}$"


def total_weight(h: hist.Hist) -> float:
    """Sum of weights including flow bins (any storage)."""
    total = h.sum(flow=True)
    return float(getattr(total, "value", total))


def dataset_names(dataset: Datasets) -> list[str]:
    """One dataset name or several as a list; refuses an empty selection."""
    names = [dataset] if isinstance(dataset, str) else list(dataset)
    if not names:
        msg = "no dataset given"
        raise ValueError(msg)
    return names


def dataset_title(dataset: Datasets) -> str:
    """A short title for one or several datasets."""
    names = dataset_names(dataset)
    return " + ".join(names) if len(names) <= 2 else f"{names[0]} + {len(names) - 1} more"


def select(h: hist.Hist, **where: Any) -> hist.Hist:
    """Slice ``h`` at category values; a list sums those values, ``sum`` the whole axis."""
    for key, value in where.items():
        if isinstance(value, list):
            parts = (select(h, **{**where, key: v}) for v in value)
            return functools.reduce(operator.add, parts)
    selection: dict[int | str, Any] = {k: v if v is sum else hist.loc(v) for k, v in where.items()}
    return cast(hist.Hist, h[selection])


def check_categories(h: hist.Hist, axis: str, values: Sequence[str]) -> None:
    """Refuse category values the histogram does not have, naming those it has."""
    known = list(h.axes[axis])
    missing = [v for v in values if v not in known]
    if missing:
        msg = f"{axis} {missing} not in the histograms; available: {known}"
        raise ValueError(msg)


def draw_step(ax: Axes, h: hist.Hist, label: str, index: int, color: Any = None) -> None:
    """Draw the 1-D ``h`` unit-normalized (flow included) with its statistical errors."""
    total = total_weight(h)
    variances = h.variances()
    mplhep.histplot(
        h.values() / total,
        bins=h.axes[0].edges,
        yerr=np.sqrt(variances) / total if variances is not None else False,
        ax=ax,
        label=label,
        histtype="step",
        linewidth=1.8,
        color=COLORS[index % len(COLORS)] if color is None else color,
        linestyle=LINESTYLES[index // len(COLORS) % len(LINESTYLES)],
        flow="none",
    )


def finish_distribution(
    ax: Axes, xlabel: str, legend_title: str, log_y: bool, fontsize: str = "small"
) -> None:
    """Axis labels, log scale and a legend with headroom above the curves."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Fraction of jets")
    if log_y:
        ax.set_yscale("log")
    legend = ax.legend(fontsize=fontsize, title=legend_title, title_fontsize=fontsize)
    # Headroom above the curves for the legend: a line takes about 8% of the axes.
    lines = len(legend.get_texts()) + legend_title.count("\n") + 1
    room = 1.0 - min(0.08 * lines + 0.05, 0.7)
    bottom, top = ax.get_ylim()
    if log_y:
        ax.set_ylim(bottom, bottom * (top / bottom) ** (1 / room))
    else:
        ax.set_ylim(bottom, bottom + (top - bottom) / room)
