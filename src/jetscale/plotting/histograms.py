"""Fill ``hist.Hist`` objects per JetClass class from jets and feature arrays.

Every histogram has a ``jet_class`` string category axis first, so one object holds
all classes, plots overlay them directly and the ROOT file gets one TH1 per class.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import awkward as ak
import hist
import numpy as np
import uproot

from jetscale.features.registry import FEATURE_SETS
from jetscale.io.atomic import atomic_path
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


#: Axis types uproot cannot write; each of their bins becomes its own ROOT histogram.
CATEGORY_AXES = (hist.axis.StrCategory, hist.axis.IntCategory, hist.axis.Boolean)


def _root_name(value: object) -> str:
    # "/" would open a ROOT directory and ";" a cycle number (NanoAOD dataset
    # names are "/Primary/Processed/TIER").
    return str(value).replace("/", "_").replace(";", "_") or "_"


def _category_slices(name: str, h: hist.Hist) -> Iterator[tuple[str, hist.Hist]]:
    """``(<name>/<cat1>/<cat2>/..., slice)`` for every combination of category bins."""
    categories = [axis for axis in h.axes if isinstance(axis, CATEGORY_AXES)]
    numeric = len(h.axes) - len(categories)
    if not 1 <= numeric <= 3:
        msg = (
            f"histogram {name!r} has {numeric} numeric axes "
            f"({[a.name for a in h.axes]}); ROOT histograms need 1 to 3"
        )
        raise ValueError(msg)
    values: list[list[Any]] = [
        [bool(v) for v in axis] if isinstance(axis, hist.axis.Boolean) else list(axis)
        for axis in categories
    ]
    for combination in itertools.product(*values):
        key = "/".join([name, *(_root_name(v) for v in combination)])
        selection: dict[int | str, Any] = {
            axis.name: hist.loc(v) for axis, v in zip(categories, combination, strict=True)
        }
        yield key, cast(hist.Hist, h[selection])


def write_histograms_root(
    path: str | os.PathLike[str], histograms: Mapping[str, hist.Hist]
) -> Path:
    """Write every histogram to ROOT, one TH1/TH2/TH3 per combination of category bins.

    uproot cannot write category axes, so each combination of the StrCategory,
    IntCategory and Boolean bins (in axis order) becomes a histogram of the
    remaining 1 to 3 numeric axes named ``<histogram>/<cat1>/<cat2>/...``
    (``/`` and ``;`` in category names become ``_``). Flow bins of the numeric
    axes are kept, entries in category overflow bins are not; ``Weight``
    storage keeps its sum of squared weights (``fSumw2``). A histogram with an
    empty growing category axis writes nothing. Written atomically.
    """
    final = Path(path)
    # Check (and name) everything before writing, so a bad histogram fails cleanly.
    slices: dict[str, hist.Hist] = {}
    for name, h in histograms.items():
        for key, sub in _category_slices(name, h):
            if key in slices:
                msg = f"two ROOT histograms would both be named {key!r}"
                raise ValueError(msg)
            slices[key] = sub
    with atomic_path(final) as tmp, uproot.recreate(tmp) as file:
        for key, sub in slices.items():
            file[key] = sub
    return final
