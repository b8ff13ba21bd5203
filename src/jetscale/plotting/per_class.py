"""mplhep plots for analysis notes: per-class overlays, normalized, PNG and PDF."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import hist
import mplhep

from jetscale.plotting.style import COLORS, new_figure, plot_style, save_figure


def plot_per_class(
    h: hist.Hist,
    out_dir: str | os.PathLike[str],
    name: str,
    experiment: str = "CMS",
    label: str = "Preliminary",
    legend_title: str | None = None,
    com: float = 13,
    log: bool = False,
) -> list[Path]:
    """Overlay the unit-normalized distribution of every non-empty class; write PNG and PDF.

    ``h`` has a ``jet_class`` category axis first and one numeric axis. The
    experiment's style is applied to this figure only (global rcParams stay as they are).
    """
    style = plot_style(experiment, label, com)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with new_figure(style) as (fig, ax):
        for index, cls in enumerate(h.axes["jet_class"]):
            sub = cast(hist.Hist, h[{"jet_class": cls}])
            total = float(sub.sum())
            if total <= 0:
                continue
            mplhep.histplot(
                sub / total,
                ax=ax,
                label=str(cls),
                histtype="step",
                linewidth=1.8,
                color=COLORS[index % len(COLORS)],  # ten distinct colours, ten classes
            )
        ax.set_xlabel(h.axes[1].label)
        ax.set_ylabel("Fraction of entries")
        if log:
            ax.set_yscale("log")
        ax.legend(ncols=2, fontsize="small", title=legend_title, title_fontsize="small")
        # Headroom for the two-column legend above the curves (mplhep.yscale_legend
        # gives up on dense ten-class overlays).
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top * 300 if log else top * 1.6)
        return save_figure(fig, ax, out_dir, name, style)
