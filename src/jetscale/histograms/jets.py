"""Fill ``hist.Hist`` objects per JetClass class from jets and feature arrays.

Every histogram has a ``jet_class`` string category axis first, so one object holds
all classes, plots overlay them directly and the ROOT file gets one TH1 per class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

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


def _identity(values: np.ndarray) -> np.ndarray:
    """The values themselves: a feature that is its own physical quantity."""
    return np.asarray(values)


@dataclasses.dataclass(frozen=True)
class FeatureBinning:
    """How a standardized feature is histogrammed, and what it is in physical units.

    The histogram axis is the standardized value the tagger sees; its bin edges
    are ``raw_edges`` of the physical quantity (``quantity``, with its unit)
    mapped through ``from_raw`` (to the formula's value, e.g. ``tanh(d0)``) and the
    registry's standardization, so the plots can label the same bins in physical
    units. Without ``raw_edges``, ``regular`` gives 50 equal bins of the
    standardized value itself. A ``flag`` (0 or 1) gets two bins.
    """

    symbol: str  # mathtext of the formula's value, e.g. r"\tanh(d_0)"
    quantity: str  # the physical quantity with its unit, e.g. r"Track $d_0$ [mm]"
    raw_edges: tuple[float, ...] = ()
    to_raw: Callable[[np.ndarray], np.ndarray] = _identity  # formula value -> quantity
    from_raw: Callable[[np.ndarray], np.ndarray] = _identity  # quantity -> formula value
    scale: str = "linear"  # how to draw the quantity: "linear", "log" or "symlog"
    flag: bool = False
    note: str = ""  # what a reader of the plot must know, e.g. where neutral constituents sit
    regular: tuple[float, float] = (0.0, 1.0)  # standardized range of 50 bins, if no raw_edges


def _geometric(low: float, high: float, per_decade: int) -> tuple[float, ...]:
    decades = np.log10(high / low)
    return tuple(np.geomspace(low, high, round(decades * per_decade) + 1).tolist())


def _symmetric_log(small: float, large: float, per_decade: int) -> tuple[float, ...]:
    """Edges ``-large .. -small, small .. large`` log-spaced, with one bin ``[-small, small]``."""
    positive = np.asarray(_geometric(small, large, per_decade))
    return tuple(np.concatenate([-positive[::-1], positive]).tolist())


_NO_TRACK = "no track (neutral): 0"

#: The per-constituent features the main job histograms, by registry name.
FEATURE_RANGES: dict[str, FeatureBinning] = {
    "part_pt_log": FeatureBinning(
        r"\log p_T", r"Constituent $p_T$ [GeV]", _geometric(0.1, 1000.0, 10), np.exp, np.log,
        "log",
    ),
    "part_logptrel": FeatureBinning(
        r"\log p_T/p_T^{jet}", r"$p_T / p_T^{jet}$ of the constituent",
        _geometric(1e-4, 1.0, 10), np.exp, np.log, "log",
    ),
    # 50 bins of the standardized value: Delta R from -0.05 to 0.95 in steps of 0.02.
    "part_deltaR": FeatureBinning(
        r"\Delta R", r"$\Delta R$(constituent, jet axis)", regular=(-1.0, 3.0)
    ),
    # tanh(d0): d0 in mm. Up to 10 mm; tanh of float32 reaches 1 above about 9 mm,
    # so larger |d0| fill the flow bins (counted in the fractions).
    "part_d0": FeatureBinning(
        r"\tanh(d_0)", r"Track $d_0$ [mm]", _symmetric_log(1e-3, 10.0, 5), np.arctanh,
        np.tanh, "symlog", note=_NO_TRACK,
    ),
    "part_d0err": FeatureBinning(
        r"\sigma(d_0)", r"Track $\sigma(d_0)$ [mm]", tuple(np.linspace(0, 0.3, 61).tolist()),
        note=_NO_TRACK,
    ),
    **{
        f"part_{flag}": FeatureBinning(rf"\mathrm{{{flag}}}", text, flag=True)
        for flag, text in (
            ("isChargedHadron", "charged hadron"),
            ("isNeutralHadron", "neutral hadron"),
            ("isPhoton", "photon"),
            ("isElectron", "electron"),
            ("isMuon", "muon"),
        )
    },
}  # fmt: skip


def feature_label(name: str) -> str:
    """Axis label of a standardized feature: its symbol with the registry's center and scale."""
    symbol = FEATURE_RANGES[name].symbol
    spec = FEATURES[name]
    label = symbol
    if spec.center != 0:
        sign = "-" if spec.center > 0 else "+"
        label = f"({label} {sign} {abs(spec.center):g})"
    if spec.scale != 1:
        label = rf"{label} \times {spec.scale:g}"
    return f"${label}$"


def standardized_edges(name: str) -> np.ndarray:
    """The bin edges of feature ``name`` in the standardized value (increasing)."""
    binning, spec = FEATURE_RANGES[name], FEATURES[name]
    if binning.flag:
        return np.array([-0.5, 0.5, 1.5])
    if not binning.raw_edges:
        return np.linspace(*binning.regular, 51)
    formula = np.asarray(binning.from_raw(np.asarray(binning.raw_edges, dtype=np.float64)))
    return np.clip((formula - spec.center) * spec.scale, spec.lower, spec.upper)


def raw_edges(name: str, edges: np.ndarray) -> np.ndarray:
    """Standardized bin ``edges`` of feature ``name`` in its physical quantity (inverse of
    :func:`standardized_edges`; exact within the registry's clip bounds)."""
    binning, spec = FEATURE_RANGES[name], FEATURES[name]
    formula = np.asarray(edges, dtype=np.float64) / spec.scale + spec.center
    return np.asarray(binning.to_raw(formula), dtype=np.float64)


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


def feature_axis(name: str) -> hist.axis.Variable:
    """The axis of a standardized feature of :data:`FEATURE_RANGES` (:func:`standardized_edges`)."""
    return hist.axis.Variable(standardized_edges(name), name=name, label=feature_label(name))


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
