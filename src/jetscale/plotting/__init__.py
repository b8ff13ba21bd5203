"""hist histograms of jets, features and tagger outputs, mplhep plots, ROC curves and ROOT output."""

from __future__ import annotations

from jetscale.plotting.histograms import feature_histograms, jet_histograms, write_histograms_root
from jetscale.plotting.outputs import write_outputs
from jetscale.plotting.plots import plot_per_class
from jetscale.plotting.roc import (
    RocCurve,
    WorkingPoint,
    auc,
    cut_efficiency,
    roc_curve,
    working_points,
)
from jetscale.plotting.tagger_histograms import fill_tagger_histograms, tagger_histograms
from jetscale.plotting.tagger_plots import (
    plot_mass_sculpting,
    plot_mass_sculpting_by_dataset,
    plot_roc,
    plot_scores,
    plot_scores_by_dataset,
    plot_tagger,
)

__all__ = [
    "RocCurve",
    "WorkingPoint",
    "auc",
    "cut_efficiency",
    "feature_histograms",
    "fill_tagger_histograms",
    "jet_histograms",
    "plot_mass_sculpting",
    "plot_mass_sculpting_by_dataset",
    "plot_per_class",
    "plot_roc",
    "plot_scores",
    "plot_scores_by_dataset",
    "plot_tagger",
    "roc_curve",
    "tagger_histograms",
    "working_points",
    "write_histograms_root",
    "write_outputs",
]
