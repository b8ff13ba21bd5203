"""Fill ``hist.Hist`` objects per JetClass class from jets and feature arrays.

Every histogram has a ``jet_class`` string category axis first, so one object holds
all classes, plots overlay them directly and the ROOT file gets one TH1 per class.
"""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import hist
import numpy as np

from jetscale.features.registry import FEATURE_SETS
from jetscale.schema import CLASS_NAMES, class_names_of

#: (axis label, bins, low, high) of the jet-level observables.
JET_OBSERVABLES: dict[str, tuple[str, int, float, float]] = {
    "sdmass": (r"Soft-drop mass $m_{SD}$ [GeV]", 50, 0.0, 250.0),
    "pt": (r"Jet $p_T$ [GeV]", 50, 500.0, 1000.0),
    "nparticles": ("Number of constituents", 50, 0.0, 150.0),
    "tau21": (r"$\tau_{21} = \tau_2/\tau_1$", 50, 0.0, 1.0),
    "tau32": (r"$\tau_{32} = \tau_3/\tau_2$", 50, 0.0, 1.0),
}

#: Standardized features worth looking at, with their plotting ranges.
FEATURE_RANGES: dict[str, tuple[str, float, float]] = {
    "part_pt_log": (r"$(\log p_T - 1.7) \times 0.7$", -3.0, 5.0),
    "part_logptrel": (r"$(\log p_T/p_T^{jet} + 4.7) \times 0.7$", -3.0, 4.0),
    "part_deltaR": (r"$(\Delta R - 0.2) \times 4$", -1.0, 3.0),
    "part_d0": (r"$\tanh(d_0)$", -0.2, 0.2),
    "part_d0err": (r"$\sigma(d_0)$ [mm]", 0.0, 0.1),
    "part_isPhoton": ("is photon", -0.5, 1.5),
}


def _class_axis(classes: Sequence[str]) -> hist.axis.StrCategory:
    return hist.axis.StrCategory(list(classes), name="jet_class", label="Jet class")


def jet_histograms(jets: ak.Array, classes: Sequence[str] = CLASS_NAMES) -> dict[str, hist.Hist]:
    """Histograms of jet-level observables, one ``class`` bin per JetClass class."""
    labels = ak.to_numpy(jets["label"])
    class_of = class_names_of(labels)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "sdmass": ak.to_numpy(jets["sdmass"]),
            "pt": ak.to_numpy(jets["pt"]),
            "nparticles": ak.to_numpy(ak.num(jets["constituents"], axis=1)),
            "tau21": ak.to_numpy(jets["tau2"]) / ak.to_numpy(jets["tau1"]),
            "tau32": ak.to_numpy(jets["tau3"]) / ak.to_numpy(jets["tau2"]),
        }
    out = {}
    for name, (label, bins, low, high) in JET_OBSERVABLES.items():
        h: hist.Hist = hist.Hist(
            _class_axis(classes), hist.axis.Regular(bins, low, high, name=name, label=label)
        )
        h.fill(jet_class=class_of, **{name: values[name]})
        out[f"jet_{name}"] = h
    return out


def feature_histograms(
    x: np.ndarray,
    mask: np.ndarray,
    labels: np.ndarray,
    feature_set: str,
    classes: Sequence[str] = CLASS_NAMES,
) -> dict[str, hist.Hist]:
    """Histograms of real (unpadded) constituents' standardized features per class."""
    names = FEATURE_SETS[feature_set]
    owner = np.broadcast_to(labels[:, None], mask.shape)[mask]
    class_of = np.asarray(CLASS_NAMES, dtype=object)[owner]
    out = {}
    for name, (label, low, high) in FEATURE_RANGES.items():
        if name not in names:
            continue
        h: hist.Hist = hist.Hist(
            _class_axis(classes), hist.axis.Regular(50, low, high, name=name, label=label)
        )
        h.fill(jet_class=class_of, **{name: x[..., names.index(name)][mask]})
        out[f"feature_{name}"] = h
    return out
