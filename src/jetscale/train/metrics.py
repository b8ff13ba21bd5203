"""Validation metrics: cross-entropy, accuracy, and one-vs-QCD ROC AUC per class."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from jetscale.schema import CLASS_NAMES

QCD = CLASS_NAMES.index("QCD")


def roc_auc(scores: np.ndarray, is_signal: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney rank statistic (ties count one half)."""
    n_signal = int(is_signal.sum())
    n_background = len(is_signal) - n_signal
    if n_signal == 0 or n_background == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float(
        (ranks[is_signal].sum() - n_signal * (n_signal + 1) / 2) / (n_signal * n_background)
    )


def one_vs_qcd_aucs(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """AUC of the discriminant p_k / (p_k + p_QCD) between class k and QCD jets, per class present."""
    out = {}
    for k, name in enumerate(CLASS_NAMES):
        if k == QCD or k >= probabilities.shape[1]:
            continue
        keep = (labels == k) | (labels == QCD)
        if not (labels == k).any() or not (labels == QCD).any():
            continue
        p_k, p_qcd = probabilities[keep, k], probabilities[keep, QCD]
        discriminant = p_k / np.maximum(p_k + p_qcd, 1e-30)
        out[name] = roc_auc(discriminant, labels[keep] == k)
    return out
