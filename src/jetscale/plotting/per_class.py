"""mplhep plots for analysis notes: per-class overlays, normalized, PNG and PDF."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast

import hist
import matplotlib.pyplot as plt
import mplhep

from jetscale.io.atomic import atomic_path


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
    """Overlay the unit-normalized distribution of every non-empty class; write PNG and PDF."""
    plt.style.use(getattr(mplhep.style, experiment, mplhep.style.CMS))
    fig, ax = plt.subplots(figsize=(9, 7))
    colors = [plt.get_cmap("tab10")(k) for k in range(10)]  # ten distinct colours, ten classes
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
            color=colors[index % len(colors)],
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
    exp_label = getattr(mplhep, experiment.lower(), mplhep.cms).label
    exp_label(label, data=False, com=com, ax=ax)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in ("png", "pdf"):
        final = out / f"{name}.{suffix}"
        with atomic_path(final) as tmp:
            fig.savefig(tmp, format=suffix, bbox_inches="tight", dpi=110)
        written.append(final)
    plt.close(fig)
    return written
