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
import math
import operator
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import hist
import matplotlib.pyplot as plt
import mplhep
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch
from matplotlib.ticker import FuncFormatter, LogLocator

from jetscale.io.atomic import atomic_path
from jetscale.plotting.layout import place_legend

log = logging.getLogger(__name__)
#: Figures written, reported every few seconds (commands show it on stderr).
progress = logging.getLogger("jetscale.progress.plotting")
_PROGRESS_EVERY_S = 5.0
_progress_state = {"figures": 0, "last": time.monotonic()}

Histograms = Mapping[str, hist.Hist]
#: One dataset, or several summed (e.g. pT-binned QCD samples with normalized weights).
Datasets = str | Sequence[str]

#: The default: no experiment's name. jetscale's own plots show Pythia jets with a
#: parametric detector, not an experiment's simulation; those entitled to it ask for
#: an experiment's style and label (``experiment="CMS", label="Preliminary"``).
NO_EXPERIMENT = "none"
#: mplhep style and label module of each experiment (keys lower case); "none" has a
#: neutral HEP style and writes only ``label``, if any.
EXPERIMENTS: dict[str, tuple[Any, Any]] = {
    NO_EXPERIMENT: ({**mplhep.style.ROOT, "legend.frameon": False}, None),
    "cms": (mplhep.style.CMS, mplhep.cms),
    "atlas": (mplhep.style.ATLAS, mplhep.atlas),
    "lhcb": (mplhep.style.LHCb, mplhep.lhcb),
    "alice": (mplhep.style.ALICE, mplhep.alice),
    "dune": (mplhep.style.DUNE, mplhep.dune),
}
COLORS = [plt.get_cmap("tab10")(k) for k in range(10)]
LINESTYLES = ("-", "--", ":", "-.")


def plot_style(experiment: str = NO_EXPERIMENT, label: str = "", com: float = 13) -> dict[str, Any]:
    """The label settings every plot takes, checked once.

    ``experiment`` is ``"none"`` (no experiment's name; ``label``, if given, is
    written alone) or an experiment of :data:`EXPERIMENTS` (any case), whose
    label mplhep writes as "<experiment> Simulation <label> (<com> TeV)".
    """
    if experiment.lower() not in EXPERIMENTS:
        msg = f"unknown experiment {experiment!r}; choose one of {sorted(EXPERIMENTS)} (any case)"
        raise ValueError(msg)
    return {"experiment": experiment, "label": label, "com": com}


#: The gid of the label's texts, so that a figure's label can be drawn again.
LABEL_GID = "jetscale-label"


@contextlib.contextmanager
def new_figure(style: dict[str, Any]) -> Iterator[tuple[Figure, Axes]]:
    """A figure in the experiment's style (scoped, so global rcParams stay untouched).

    Constrained layout keeps every label, colour bar and outside legend on the canvas.
    The label is drawn now, so that legends are placed in the axes as they will be
    saved, and again by :func:`save_figure` to fit the final width.
    """
    with plt.style.context(EXPERIMENTS[style["experiment"].lower()][0]):
        fig, ax = plt.subplots(figsize=(9, 7), layout="constrained")
        try:
            draw_label(ax, style, fit=False)
            yield fig, ax
        finally:
            plt.close(fig)


def draw_label(ax: Axes, style: dict[str, Any], fit: bool = True) -> None:
    """The experiment label above the axes, or ``label`` alone with no experiment.

    A label drawn before is replaced. With ``fit``, on narrow axes (a colour bar)
    the experiment's label is drawn smaller until its parts do not overlap; at the
    smallest size without the centre-of-mass energy.
    """
    for old in [a for a in ax.get_children() if a.get_gid() == LABEL_GID]:
        old.remove()
    experiment = EXPERIMENTS[style["experiment"].lower()][1]
    if experiment is None:
        if style["label"]:
            text = ax.text(
                0.0, 1.015, style["label"], transform=ax.transAxes, ha="left", va="bottom",
                fontstyle="italic",
            )  # fmt: skip
            text.set_gid(LABEL_GID)
        return
    size = float(plt.rcParams["font.size"])
    tries: list[dict[str, Any]] = [{"fontsize": size * scale} for scale in (1.0, 0.85, 0.7)]
    for index, extra in enumerate([*tries, {**tries[-1], "rlabel": ""}]):
        drawn = experiment.label(style["label"], data=False, com=style["com"], ax=ax, **extra)
        texts = [t for t in drawn if t is not None and t.get_text().strip()]
        for text in texts:
            text.set_gid(LABEL_GID)
        if not fit or index == len(tries) or not _crowded(ax, texts):
            return
        for text in texts:
            text.remove()


def _crowded(ax: Axes, texts: Sequence[Any]) -> bool:
    """Whether any two of ``texts`` overlap once drawn."""
    ax.get_figure(root=True).draw_without_rendering()  # type: ignore[union-attr]
    boxes = [t.get_window_extent() for t in texts]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def save_figure(
    fig: Figure, ax: Axes, out_dir: str | os.PathLike[str], stem: str, style: dict[str, Any]
) -> list[Path]:
    """Draw the label (:func:`draw_label`) and write ``<stem>.png`` and ``<stem>.pdf``."""
    draw_label(ax, style)
    written = []
    for suffix in ("png", "pdf"):
        final = Path(out_dir) / f"{stem}.{suffix}"
        with atomic_path(final) as tmp:
            fig.savefig(tmp, format=suffix, dpi=110)
        written.append(final)
    _progress_state["figures"] += 1
    if time.monotonic() - _progress_state["last"] >= _PROGRESS_EVERY_S:
        _progress_state["last"] = time.monotonic()
        progress.info(
            "plots: %d written so far (latest %s)",
            _progress_state["figures"],
            written[0],
        )
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


def jet_count(h: hist.Hist, unit: str = "jets") -> str:
    """``1,500 jets``: the entries of ``h`` (flow included); weighted, ``N_eff = 1,500 jets``.

    With weights (NanoAOD ``genWeight``) it is the effective number of jets
    ``(sum w)^2 / sum w^2``, written as a plain count when it is one (equal weights).
    """
    total = h.sum(flow=True)
    value = float(getattr(total, "value", total))
    variance = getattr(total, "variance", None)
    if variance is None or math.isclose(float(variance), value, rel_tol=1e-9):
        return f"{value:,.0f} {unit}"
    effective = value**2 / float(variance) if variance > 0 else 0.0
    if math.isclose(effective, round(effective), rel_tol=1e-9):  # equal weights
        return f"{effective:,.0f} {unit}"
    return rf"$N_\mathrm{{eff}}$ = {effective:,.0f} {unit}"


def finish_distribution(
    ax: Axes,
    xlabel: str,
    legend_title: str,
    log_y: bool,
    fontsize: str = "small",
    ylabel: str = "Fraction of jets",
) -> None:
    """Axis labels, x range of the bins, y range of the data and a legend above the curves."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    steps = [p.get_data() for p in ax.patches if isinstance(p, StepPatch)]
    heights = np.concatenate([np.asarray(values) for values, _, _ in steps] or [np.zeros(1)])
    if steps:
        edges = np.concatenate([np.asarray(edges) for _, edges, _ in steps])
        ax.set_xlim(float(edges.min()), float(edges.max()))
    positive = heights[np.isfinite(heights) & (heights > 0)]
    if log_y:
        ax.set_yscale("log")
        # Down to a third of the smallest filled bin (one jet), not decades below it.
        low = float(positive.min()) / 3 if len(positive) else 1e-3
        ax.set_ylim(low, float(positive.max()) * 2 if len(positive) else 1.0)
    else:
        ax.set_ylim(0.0, float(positive.max()) * 1.05 if len(positive) else 1.0)
    place_legend(
        ax, log_y=log_y, fontsize=fontsize, title=legend_title, title_fontsize=fontsize,
        ncols=legend_columns(ax),
    )  # fmt: skip
    if log_y:
        plain_log_labels(ax)


def plain_log_labels(ax: Axes) -> None:
    """On a log y axis spanning under two decades, tick labels as plain numbers at
    1, 2 and 5 (matplotlib's default labels there read 6x10^-1 or leave a decade blank)."""
    low, high = ax.get_ylim()
    if high / low < 100:
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)


def legend_columns(ax: Axes) -> int:
    """One column up to 5 entries, two up to 8, then three: legends stay short."""
    entries = len(ax.get_legend_handles_labels()[1])
    return 1 if entries <= 5 else 2 if entries <= 8 else 3
