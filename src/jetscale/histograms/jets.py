"""Fill ``hist.Hist`` objects per JetClass class from jets and feature arrays.

Every histogram has a ``jet_class`` string category axis first, so one object holds
all classes, plots overlay them directly and the ROOT file gets one TH1 per class.
"""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import hist
import numpy as np

from jetscale.features.registry import FEATURE_SETS, FEATURES
from jetscale.schema import CLASS_NAMES, class_names_of

#: (axis label, bins, low, high) of the jet-level observables.
JET_OBSERVABLES: dict[str, tuple[str, int, float, float]] = {
    "sdmass": (r"Soft-drop mass $m_{SD}$ [GeV]", 50, 0.0, 250.0),
    "pt": (r"Jet $p_T$ [GeV]", 50, 500.0, 1000.0),
    "nparticles": ("Number of constituents", 50, 0.0, 150.0),
    "tau21": (r"$\tau_{21} = \tau_2/\tau_1$", 50, 0.0, 1.0),
    "tau32": (r"$\tau_{32} = \tau_3/\tau_2$", 50, 0.0, 1.0),
}

#: Standardized features worth looking at: (symbol of the raw value, plotting range).
#: The axis label adds the registry's standardization (see :func:`feature_label`).
FEATURE_RANGES: dict[str, tuple[str, float, float]] = {
    "part_pt_log": (r"\log p_T", -3.0, 5.0),
    "part_logptrel": (r"\log p_T/p_T^{jet}", -3.0, 4.0),
    "part_deltaR": (r"\Delta R", -1.0, 3.0),
    "part_d0": (r"\tanh(d_0)", -0.2, 0.2),
    "part_d0err": (r"\sigma(d_0)\ [\mathrm{mm}]", 0.0, 0.1),
    "part_isPhoton": (r"\mathrm{is\ photon}", -0.5, 1.5),
}


def feature_label(name: str) -> str:
    """Axis label of a standardized feature: its symbol with the registry's center and scale."""
    symbol = FEATURE_RANGES[name][0]
    spec = FEATURES[name]
    label = symbol
    if spec.center != 0:
        sign = "-" if spec.center > 0 else "+"
        label = f"({label} {sign} {abs(spec.center):g})"
    if spec.scale != 1:
        label = rf"{label} \times {spec.scale:g}"
    return f"${label}$"


def class_axis(classes: Sequence[str]) -> hist.axis.StrCategory:
    """The ``jet_class`` category axis, one bin per class name.

    It grows: a class the files name beyond ``classes`` (a generated ``Xbb_m60``)
    gets its own bin instead of vanishing into an overflow bin.
    """
    return hist.axis.StrCategory(list(classes), name="jet_class", label="Jet class", growth=True)


def observable_axis(name: str) -> hist.axis.Regular:
    """The axis of a jet observable of :data:`JET_OBSERVABLES` (``sdmass``, ``pt``, ...)."""
    label, bins, low, high = JET_OBSERVABLES[name]
    return hist.axis.Regular(bins, low, high, name=name, label=label)


def feature_axis(name: str) -> hist.axis.Regular:
    """The axis of a standardized feature of :data:`FEATURE_RANGES` (50 bins)."""
    _, low, high = FEATURE_RANGES[name]
    return hist.axis.Regular(50, low, high, name=name, label=feature_label(name))


def jet_histograms(jets: ak.Array, classes: Sequence[str] = CLASS_NAMES) -> dict[str, hist.Hist]:
    """Histograms of jet-level observables, one ``jet_class`` bin per JetClass class."""
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
    for name in JET_OBSERVABLES:
        h: hist.Hist = hist.Hist(class_axis(classes), observable_axis(name))
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
    for name in FEATURE_RANGES:
        if name not in names:
            continue
        h: hist.Hist = hist.Hist(class_axis(classes), feature_axis(name))
        h.fill(jet_class=class_of, **{name: x[..., names.index(name)][mask]})
        out[f"feature_{name}"] = h
    return out
