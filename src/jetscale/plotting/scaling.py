"""The plots of a scaling study: loss vs compute with the frontier, IsoFLOP profiles,
observed vs fitted, residuals, repetition gain and feature-set floors.

Each function draws one figure from numbers ``jetscale fit`` already computed
and writes ``<stem>.png`` and ``<stem>.pdf``; nothing here fits anything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from jetscale.plotting.layout import place_legend
from jetscale.plotting.style import (
    COLORS,
    NO_EXPERIMENT,
    new_figure,
    plain_log_labels,
    plot_style,
    save_figure,
)
from jetscale.scaling.compare import GroupFit
from jetscale.scaling.frontier import Envelope, IsoFLOPFit
from jetscale.scaling.laws import effective_data

Style = dict[str, object]


def scaling_style(experiment: str = NO_EXPERIMENT, label: str = "", com: float = 13.0) -> Style:
    """The figures' label settings (:func:`~jetscale.plotting.style.plot_style`); with an
    experiment, mplhep writes "Simulation" (data=False) and ``label`` adds to it."""
    return plot_style(experiment, label, com)


def _legend(ax: Axes) -> None:
    """The legend above the data; plain tick labels on a short log axis."""
    log_y = ax.get_yscale() == "log"
    place_legend(ax, log_y=log_y, fontsize="small")
    if log_y:
        plain_log_labels(ax)


def _scatter_by_size(fig: Figure, ax: Axes, x: np.ndarray, y: np.ndarray, n: np.ndarray) -> Any:
    """Runs as points coloured by N on a log scale, with the colour bar."""
    norm = mpl.colors.LogNorm(vmin=float(n.min()), vmax=float(max(n.max(), n.min() * 1.01)))
    points = ax.scatter(x, y, c=n, norm=norm, cmap="viridis", s=28, label="runs")
    fig.colorbar(points, ax=ax, label="non-embedding parameters N")
    return points


def plot_loss_vs_compute(
    C: ArrayLike,
    loss: ArrayLike,
    N: ArrayLike,
    envelope: Envelope | None,
    frontier: tuple[ArrayLike, ArrayLike] | None,
    out_dir: str | os.PathLike[str],
    style: Style,
) -> list[Path]:
    """Every run's final loss against its compute, coloured by N; the envelope and the fitted frontier."""
    c, losses, n = (np.asarray(v, dtype=np.float64) for v in (C, loss, N))
    with new_figure(style) as (fig, ax):
        _scatter_by_size(fig, ax, c, losses, n)
        if envelope is not None:
            ax.plot(
                envelope.C,
                envelope.loss,
                "k--",
                drawstyle="steps-post",
                label="loss envelope (approach 1)",
            )
        if frontier is not None:
            ax.plot(*frontier, color="tab:red", label="parametric law at N_opt(C), D_opt(C)")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="training compute C = 6 N D n_bar [FLOP]",
            ylabel="validation loss",
        )
        _legend(ax)
        return save_figure(fig, ax, out_dir, "loss_vs_compute", style)


def plot_isoflop(fit: IsoFLOPFit, out_dir: str | os.PathLike[str], style: Style) -> list[Path]:
    """Loss against N at each budget; the fitted parabolas and their minima where they have one."""
    fitted = {profile.budget: profile for profile in fit.profiles}
    with new_figure(style) as (fig, ax):
        for index, curve in enumerate(fit.curves):
            color = COLORS[index % len(COLORS)]
            n = np.asarray(curve["N"])
            ax.plot(n, curve["loss"], "o", color=color, label=f"C = {curve['budget']:.2g} FLOP")
            profile = fitted.get(curve["budget"])
            if profile is None:
                ax.plot(n, curve["loss"], ":", color=color)  # no parabola minimum: runs joined
                continue
            grid = np.geomspace(n.min() / 1.5, n.max() * 1.5, 100)
            ax.plot(grid, np.polyval(profile.parabola, np.log(grid)), color=color)
            ax.plot(profile.N_opt, profile.loss_opt, marker="*", color=color, ms=14, mec="k")
        ax.set(xscale="log", xlabel="non-embedding parameters N", ylabel="validation loss")
        title = None if fit.N_opt is None else f"N_opt ~ C^{fit.N_opt.exponent:.2f}"
        place_legend(ax, log_y=False, fontsize="small", title=title)
        return save_figure(fig, ax, out_dir, "isoflop", style)


def plot_observed_vs_fitted(
    observed: ArrayLike,
    fitted: ArrayLike,
    N: ArrayLike,
    out_dir: str | os.PathLike[str],
    style: Style,
) -> list[Path]:
    """Observed against fitted loss per run, coloured by N, with the diagonal."""
    obs, fit, n = (np.asarray(v, dtype=np.float64) for v in (observed, fitted, N))
    with new_figure(style) as (fig, ax):
        _scatter_by_size(fig, ax, fit, obs, n)
        low, high = min(obs.min(), fit.min()), max(obs.max(), fit.max())
        ax.plot([low, high], [low, high], "k--", label="observed = fitted")
        ax.set(xlabel="fitted loss E + A/N^alpha + B/D^beta", ylabel="observed validation loss")
        _legend(ax)
        return save_figure(fig, ax, out_dir, "observed_vs_fitted", style)


def plot_residuals(
    N: ArrayLike,
    D: ArrayLike,
    log_residual: ArrayLike,
    out_dir: str | os.PathLike[str],
    style: Style,
) -> list[Path]:
    """ln(observed / fitted) against D, coloured by N: structure here means the law misses something."""
    n, d, r = (np.asarray(v, dtype=np.float64) for v in (N, D, log_residual))
    with new_figure(style) as (fig, ax):
        _scatter_by_size(fig, ax, d, r, n)
        ax.axhline(0.0, color="k", ls="--")
        ax.set(xscale="log", xlabel="training jets seen D", ylabel="ln(observed / fitted loss)")
        return save_figure(fig, ax, out_dir, "residuals", style)


def plot_repetition_gain(
    epochs: ArrayLike,
    observed_gain: ArrayLike,
    U: ArrayLike,
    R_star: float,
    out_dir: str | os.PathLike[str],
    style: Style,
) -> list[Path]:
    """Effective-data gain D'/U against epochs: Muennighoff et al.'s curve and each run's own gain."""
    ep, gain, u = (np.asarray(v, dtype=np.float64) for v in (epochs, observed_gain, U))
    with new_figure(style) as (fig, ax):
        grid = np.geomspace(1, max(ep.max(), 2) * 2, 100)
        ax.plot(
            grid,
            effective_data(1.0, grid - 1, R_star),
            color="tab:red",
            label=f"fit: R* = {R_star:.3g}",
        )
        ax.plot(grid, grid, "k:", label="repeated data as good as new")
        ax.axhline(
            1 + R_star, color="tab:red", ls="--", lw=1, label=f"limit 1 + R* = {1 + R_star:.3g}"
        )
        for index, value in enumerate(np.unique(u)):
            pick = u == value
            ax.scatter(
                ep[pick],
                gain[pick],
                color=COLORS[index % len(COLORS)],
                s=28,
                label=f"runs, U = {value:g}",
            )
        ax.set(
            xscale="log", yscale="log", xlabel="epochs (R + 1)", ylabel="effective-data gain D'/U"
        )
        _legend(ax)
        return save_figure(fig, ax, out_dir, "repetition_gain", style)


def plot_floors(
    rows: Sequence[GroupFit], out_dir: str | os.PathLike[str], style: Style
) -> list[Path]:
    """The irreducible loss of each feature set / max-particles group with its interval."""
    usable = [r for r in rows if np.isfinite(r.floor)]
    with new_figure(style) as (fig, ax):
        x = np.arange(len(usable))
        for index, row in enumerate(usable):
            low, high = row.floor_interval
            err = (
                [[max(row.floor - low, 0.0)], [max(high - row.floor, 0.0)]]
                if np.isfinite(low)
                else None
            )
            marker = "o" if row.kind == "parametric" else "s"
            ax.errorbar(
                [index],
                [row.floor],
                yerr=err,
                fmt=marker,
                color=COLORS[index % len(COLORS)],
                capsize=4,
            )
            ax.plot(
                [index], [row.lowest_loss], marker="x", color=COLORS[index % len(COLORS)], ms=10
            )
        ax.set_xticks(x, ["\n".join(f"{v}" for v in r.group.values()) or "all" for r in usable])
        ax.set(
            ylabel="loss",
            xlabel=" / ".join(usable[0].group) if usable else "",
        )
        marks = [
            Line2D(
                [], [], color="gray", marker="o", ls="", label="irreducible loss E (parametric fit)"
            ),
            Line2D([], [], color="gray", marker="s", ls="", label="L_inf of L(D), largest model"),
            Line2D([], [], color="gray", marker="x", ls="", label="lowest observed loss"),
        ]
        place_legend(ax, log_y=False, handles=marks, fontsize="small")
        return save_figure(fig, ax, out_dir, "floors", style)
