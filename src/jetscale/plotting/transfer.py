"""The plots of ``jetscale transfer-study``: each metric against the labelled jets, and ``D_T(D_F)``.

Each function draws one figure from numbers the study already computed (the
results rows, :class:`~jetscale.transfer.effective_data.TransferAnalysis`) and
writes ``<stem>.png`` and ``<stem>.pdf``; nothing here fits anything. Legends sit
to the right of the axes, never over the data.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from jetscale.plotting.layout import legend_beside
from jetscale.plotting.style import COLORS, NO_EXPERIMENT, new_figure, plot_style, save_figure
from jetscale.transfer.effective_data import TransferAnalysis

Style = dict[str, object]
SCRATCH = "scratch"


def transfer_style(experiment: str = NO_EXPERIMENT, label: str = "", com: float = 13.0) -> Style:
    """The figures' label settings (:func:`~jetscale.plotting.style.plot_style`); with an
    experiment, mplhep writes "Simulation" and ``label`` adds to it."""
    return plot_style(experiment, label, com)


def setting_label(backbone: str, policy: str) -> str:
    """How a (backbone, policy) is named in legends: ``scratch``, or ``backbone, policy``."""
    return SCRATCH if policy == SCRATCH else f"{backbone}, {policy}"


def _settings(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The (backbone, policy) pairs of the rows, scratch first."""
    found = {(str(r["backbone"]), str(r["policy"])) for r in rows}
    return sorted(found, key=lambda s: (s[1] != SCRATCH, s))


def _legend(ax: Axes, title: str, entries: Sequence[tuple[Any, str]] = ()) -> None:
    """The legend right of the axes (the figure grows to hold it): never over the data.

    ``entries`` (handle, label) in the order to show; default: every labelled artist.
    """
    handles, labels = ax.get_legend_handles_labels()
    if entries:
        handles, labels = [h for h, _ in entries], [label for _, label in entries]
    legend_beside(ax, handles, labels, fontsize="small", title=title, title_fontsize="small")


def _note(ax: Axes, text: str) -> None:
    """A message in place of data (an empty figure still says why it is empty)."""
    wrapped = "\n".join(textwrap.fill(line, 45) for line in text.splitlines())
    ax.text(0.5, 0.5, wrapped, transform=ax.transAxes, ha="center", va="center", fontsize="small")
    ax.set_xticks([])
    ax.set_yticks([])


def _log_axes(ax: Axes, x_values: Sequence[float], log_y: bool) -> None:
    """Log x with a tick at every value drawn (the study's n); log y in plain numbers if asked.

    Set after drawing: an empty log axis warns. Minor y labels (at 2 and 5) only
    within two decades, where a decade may otherwise have no label at all.
    """
    ax.set_xscale("log")
    ticks = sorted(set(x_values))
    ax.set_xticks(ticks, [f"{t:,.0f}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    if log_y:
        ax.set_yscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:,g}")
        ax.yaxis.set_major_formatter(plain)
        low, high = ax.get_ylim()
        if high / low < 100:  # few decades: label 2 and 5 too, else a decade may have no label
            ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            ax.yaxis.set_minor_formatter(plain)
        else:
            ax.yaxis.set_minor_formatter(NullFormatter())


def plot_metric_vs_labels(
    rows: Sequence[Mapping[str, Any]],
    column: str,
    ylabel: str,
    stem: str,
    out_dir: str | os.PathLike[str],
    style: Style,
    log_y: bool = False,
) -> list[Path]:
    """``column`` against the labelled jets n: per (backbone, policy) the mean over seeds, band min-max.

    Non-finite values (an infinite rejection: no QCD jet passes the cut) are left
    out, and the legend says how many.
    """
    hidden = 0
    with new_figure(style) as (fig, ax):
        for index, (backbone, policy) in enumerate(_settings(rows)):
            by_n: dict[int, list[float]] = {}
            for row in rows:
                if (row["backbone"], row["policy"]) != (backbone, policy):
                    continue
                value = float(row[column])
                if math.isfinite(value) and (value > 0 or not log_y):
                    by_n.setdefault(int(row["n"]), []).append(value)
                else:
                    hidden += 1
            if not by_n:
                continue
            n = np.asarray(sorted(by_n), dtype=np.float64)
            values = [np.asarray(by_n[int(k)]) for k in n]
            mean = np.asarray([v.mean() for v in values])
            color = COLORS[index % len(COLORS)]
            seeds = max(len(v) for v in values)
            ax.fill_between(
                n, [v.min() for v in values], [v.max() for v in values], color=color, alpha=0.2
            )
            ax.plot(
                n,
                mean,
                marker="o",
                color=color,
                ls="--" if policy == SCRATCH else "-",
                label=f"{setting_label(backbone, policy)} ({seeds} seed{'s' * (seeds > 1)})",
            )
        ax.set(xlabel="labelled training jets n", ylabel=ylabel)
        title = "mean over seeds\nband: min to max over seeds"
        if hidden:
            title += f"\n{hidden} run(s) without a finite value not shown"
        if ax.get_legend_handles_labels()[0]:
            _log_axes(ax, [float(r["n"]) for r in rows], log_y)
            _legend(ax, title)
        else:
            _note(ax, f"no finite {column} yet")
        return save_figure(fig, ax, out_dir, stem, style)


def plot_transferred_data(
    analysis: TransferAnalysis, out_dir: str | os.PathLike[str], style: Style
) -> list[Path]:
    """``D_T`` against ``D_F`` (log-log) per (backbone, policy), with 90% intervals and the fitted power law.

    Points whose ``D_T`` is undefined or not positive cannot be drawn in logs;
    the legend says how many (``transfer.json`` says why). An interval reaching
    ``D_T <= 0`` is drawn down to the bottom of the axes.
    """
    fits = {(f.backbone, f.policy): f for f in analysis.fits}
    shown = {
        s: [p for p in analysis.points if (p.backbone, p.policy) == s and (p.D_T or 0) > 0]
        for s in fits
    }
    drawn = [p for points in shown.values() for p in points]
    hidden = sum(1 for p in analysis.points if (p.D_T or 0) <= 0)
    with new_figure(style) as (fig, ax):
        if not drawn:
            reason = analysis.scratch.get("reason") or "no fine-tuned point has a defined D_T > 0"
            _note(ax, f"no D_T to show:\n{reason}")
        floor = min(float(p.D_T or 1) for p in drawn) / 5 if drawn else 1.0
        entries: list[tuple[Any, str]] = []
        clipped = False
        for index, setting in enumerate(sorted(fits)):
            color = COLORS[(index + 1) % len(COLORS)]  # COLORS[0] is scratch's elsewhere
            if not shown[setting]:
                continue
            d_f = np.asarray([p.D_F for p in shown[setting]], dtype=np.float64)
            d_t = np.asarray([p.D_T for p in shown[setting]], dtype=np.float64)
            bounds = np.asarray(
                [p.D_T_interval or (t, t) for p, t in zip(shown[setting], d_t, strict=True)]
            )
            clipped |= bool((bounds[:, 0] < floor).any())
            low = np.maximum(bounds[:, 0], floor)
            yerr = [np.maximum(d_t - low, 0), np.maximum(bounds[:, 1] - d_t, 0)]
            bars = ax.errorbar(d_f, d_t, yerr=yerr, fmt="o", color=color, capsize=3)
            entries.append((bars, setting_label(*setting)))
            fit = fits[setting]
            if fit.k is not None and fit.alpha is not None:
                grid = np.geomspace(d_f.min() / 1.5, d_f.max() * 1.5, 50)
                (line,) = ax.plot(grid, fit.k * grid**fit.alpha, color=color)
                interval = (
                    rf", $\alpha \in$ [{fit.alpha_interval[0]:.2f}, {fit.alpha_interval[1]:.2f}]"
                    if fit.alpha_interval
                    else ""
                )
                entries.append(
                    (line, rf"fit $D_T$ = {fit.k:.3g} $D_F^{{{fit.alpha:.2f}}}${interval}")
                )
        if drawn:
            x = [float(p.D_F) for p in drawn]
            grid = np.geomspace(min(x) / 1.5, max(x) * 1.5, 10)
            (diagonal,) = ax.plot(grid, grid, "k:")
            entries.append((diagonal, r"$D_T = D_F$"))
            _log_axes(ax, x, log_y=True)
            ax.set_ylim(bottom=floor)
            title = "bars: 90% bootstrap intervals"
            if clipped:
                title += "\n(a bar to the bottom reaches $D_T \\leq 0$)"
            if hidden:
                title += f"\n{hidden} point(s) with $D_T$ undefined or $\\leq 0$\nnot shown (see transfer.json)"
            _legend(ax, title, entries)
        ax.set(xlabel=r"fine-tuning jets $D_F$", ylabel=r"effective data transferred $D_T$ [jets]")
        return save_figure(fig, ax, out_dir, "transferred_data", style)
