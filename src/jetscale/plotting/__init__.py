"""mplhep figures for analysis notes: per-class overlays, tagger scores, ROC curves,
mass sculpting and scaling-law plots. Each figure is written as PNG and PDF.

matplotlib and mplhep are imported when a figure module is first used (the names
below load lazily), and nothing here selects a matplotlib backend: a notebook
keeps its inline backend, while the ``jetscale`` command picks a non-interactive
one for itself. Histograms come from :mod:`jetscale.histograms`.

* :mod:`.style` -- experiment styles and labels, figures, atomic saving, category selections;
* :mod:`.layout` -- legends placed clear of the data;
* :mod:`.per_class` -- unit-normalized overlays of every class, features in physical units;
* :mod:`.tagger` -- scores, ROC curves with working points, everything of a tagging job;
* :mod:`.working_points` -- the one working-point definition of the ROC and sculpting plots;
* :mod:`.sculpting` -- soft-drop mass after discriminant cuts;
* :mod:`.scaling` -- the plots of ``jetscale fit``.

No figure names an experiment unless asked to (``experiment="CMS", label="Preliminary"``):
jetscale's own samples are Pythia jets with a parametric detector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetscale._optional import lazy_attributes, require

# A lookup, not an import: importing this package stays cheap.
require("matplotlib", "mplhep", extra="plot", purpose="jetscale.plotting")

if TYPE_CHECKING:  # the lazy names, for type checkers
    from jetscale.plotting.per_class import plot_per_class
    from jetscale.plotting.sculpting import plot_mass_sculpting, plot_mass_sculpting_by_dataset
    from jetscale.plotting.tagger import plot_roc, plot_scores, plot_scores_by_dataset, plot_tagger

#: Public name -> the submodule that defines it.
_LAZY = {
    "plot_per_class": "per_class",
    "plot_mass_sculpting": "sculpting",
    "plot_mass_sculpting_by_dataset": "sculpting",
    "plot_roc": "tagger",
    "plot_scores": "tagger",
    "plot_scores_by_dataset": "tagger",
    "plot_tagger": "tagger",
}

__all__ = [
    "plot_mass_sculpting",
    "plot_mass_sculpting_by_dataset",
    "plot_per_class",
    "plot_roc",
    "plot_scores",
    "plot_scores_by_dataset",
    "plot_tagger",
]


__getattr__ = lazy_attributes(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
