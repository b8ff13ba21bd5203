"""hist histograms of jets and features, mplhep plots, and ROOT output for fits."""

from __future__ import annotations

from jetscale.plotting.histograms import feature_histograms, jet_histograms, write_histograms_root
from jetscale.plotting.plots import plot_per_class

__all__ = ["feature_histograms", "jet_histograms", "plot_per_class", "write_histograms_root"]
