"""The heatmap of ``jetscale cka``: CKA between every layer of two models."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
from numpy.typing import ArrayLike

from jetscale.plotting.style import NO_EXPERIMENT, new_figure, plot_style, save_figure

#: Matrices with at most this many cells get their values written in the cells.
ANNOTATE_CELLS = 200


def plot_cka(
    matrix: ArrayLike,
    layers_a: Sequence[str],
    layers_b: Sequence[str],
    name_a: str,
    name_b: str,
    out_dir: str | os.PathLike[str],
    stem: str = "cka",
    colorbar_label: str = "CKA",
    experiment: str = NO_EXPERIMENT,
    label: str = "",
    com: float = 13.0,
) -> list[Path]:
    """Heatmap of ``matrix`` (row i: ``layers_a[i]`` of ``name_a``; column j: ``layers_b[j]``).

    The first layers sit at the lower left, so a layer-by-layer match runs along
    the diagonal. The colour scale is fixed to [0, 1]; values outside it (the
    unbiased estimator can dip below 0) take the end colours and are written in
    the cells of small matrices, NaN cells are grey. With an experiment, ``label``
    adds to mplhep's "Simulation". Writes ``<stem>.png`` and ``<stem>.pdf``.
    """
    values = np.asarray(matrix, dtype=np.float64)
    if values.shape != (len(layers_a), len(layers_b)):
        msg = f"matrix of shape {values.shape} for {len(layers_a)} x {len(layers_b)} layers"
        raise ValueError(msg)
    style = plot_style(experiment, label, com)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    cmap = copy.copy(mpl.colormaps["viridis"])
    cmap.set_bad("lightgrey")
    with new_figure(style) as (fig, ax):
        image = ax.imshow(
            np.ma.masked_invalid(values),
            origin="lower",
            vmin=0.0,
            vmax=1.0,
            cmap=cmap,
            aspect="auto",
            interpolation="nearest",
        )
        fig.colorbar(image, ax=ax, label=colorbar_label)
        small = len(layers_a) <= 12 and len(layers_b) <= 12
        ax.set_xticks(range(len(layers_b)), list(layers_b), rotation=45, ha="right")
        ax.set_yticks(range(len(layers_a)), list(layers_a))
        ax.tick_params(which="both", direction="out", top=False, right=False)
        ax.tick_params(which="minor", bottom=False, left=False)
        ax.tick_params(labelsize="small" if small else "x-small")
        ax.set_xlabel(f"layer of {name_b}")
        ax.set_ylabel(f"layer of {name_a}")
        if values.size <= ANNOTATE_CELLS:
            _annotate(ax, values, "x-small" if small else 6)
        return save_figure(fig, ax, out_dir, stem, style)


def _annotate(ax: mpl.axes.Axes, values: np.ndarray, size: str | float) -> None:
    """Each cell's value: white on the dark (low) end of viridis, black on the bright end and on grey."""
    for (row, column), value in np.ndenumerate(values):
        text = "n/a" if not np.isfinite(value) else f"{value:.2f}"
        color = "white" if np.isfinite(value) and value <= 0.6 else "black"
        ax.text(column, row, text, ha="center", va="center", color=color, fontsize=size)
