"""``hist`` histograms of jets, features and tagger outputs, and their writers.

No matplotlib here: coffea processors fill these histograms on workers that
never draw, and :mod:`jetscale.plotting` draws them.

* :mod:`.jets` -- jet observables and standardized features per JetClass class;
* :mod:`.tagger` -- the layout every tagging processor fills (scores, discriminants,
  pT, soft-drop mass versus discriminant);
* :mod:`.writers` -- ROOT files (uproot), ``.coffea`` accumulators, summary JSON.
"""

from __future__ import annotations

from jetscale.histograms.jets import feature_histograms, jet_histograms
from jetscale.histograms.tagger import fill_tagger_histograms, tagger_histograms
from jetscale.histograms.writers import write_coffea, write_histograms_root, write_summary

__all__ = [
    "feature_histograms",
    "fill_tagger_histograms",
    "jet_histograms",
    "tagger_histograms",
    "write_coffea",
    "write_histograms_root",
    "write_summary",
]
