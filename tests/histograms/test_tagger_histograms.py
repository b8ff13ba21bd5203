"""ROC curves read from the tagger's discriminant histogram, checked against per-jet scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from jetscale.histograms.tagger import roc_curves
from jetscale.metrics import auc, discriminants, roc_auc


def test_roc_curves_per_signal_match_the_per_jet_auc(filled: Any) -> None:
    sample = filled.samples["JetClass"]
    curves = roc_curves(filled.histograms["discriminant"], ["JetClass"])
    assert set(curves) == {"Hbb", "Tbqq"}
    for signal, curve in curves.items():
        d = discriminants(sample.prob, filled.classes)[signal]
        keep = np.isin(sample.truth, [signal, "QCD"])
        # Binned (fine bins near 1): equal to the per-jet AUC within the bin resolution.
        assert abs(auc(curve) - roc_auc(d[keep], sample.truth[keep] == signal)) < 2e-3


def test_datasets_are_summed_and_missing_classes_left_out(filled: Any) -> None:
    h = filled.histograms["discriminant"]
    # The NanoAOD-like datasets are unlabelled: no true Hbb or QCD jets, so no curve.
    assert roc_curves(h, ["QCD_HT1000"]) == {}
    one = roc_curves(h, ["JetClass"])
    summed = roc_curves(h, ["JetClass", "QCD_HT1000"])  # unlabelled jets add nothing
    for signal in one:
        np.testing.assert_array_equal(
            one[signal].signal_efficiency, summed[signal].signal_efficiency
        )
