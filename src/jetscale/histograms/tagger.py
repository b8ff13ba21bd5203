"""The ``hist`` histograms a tagging processor fills: one layout for every input format.

Every histogram starts with a growing ``dataset`` category and a ``jet_class``
category (the true JetClass class, or ``"unlabelled"`` for data and NanoAOD),
so one accumulator holds every sample and the plots and ROOT writer can slice it
by name. Storage is ``Weight`` so MC event weights (NanoAOD ``genWeight``) and
their uncertainties carry through.

The discriminant for signal class X is :func:`jetscale.metrics.discriminant`,
``p_X / (p_X + p_QCD)``. Its fine binning
near 1 (where working points of 1% and 0.1% background efficiency sit) is what
lets ROC curves and working points be read from a histogram instead of per-jet
scores, so they reduce across chunks and workers like any other histogram.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import cast

import hist
import numpy as np

from jetscale.metrics import BACKGROUND, RocCurve, discriminants, roc_curve, signal_classes
from jetscale.schema import CLASS_NAMES, UNLABELLED

#: Coarser discriminant edges for the mass-versus-discriminant histogram (sculpting cuts).
SCULPTING_EDGES: tuple[float, ...] = (
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99,
    0.995, 0.998, 0.999, 0.9995, 0.9999, 1.0,
)  # fmt: skip


#: Discriminant bin edges: 0.01 steps, then finer towards 1 (log-spaced in 1 - d),
#: with every sculpting edge among them, so the working points the ROC and the
#: sculpting plots share (:mod:`jetscale.plotting.working_points`) are as fine as
#: the sculpting histogram allows.
def _discriminant_edges() -> np.ndarray:
    fine = np.concatenate([np.linspace(0.0, 0.99, 100), 1.0 - np.logspace(-2, -6, 161), [1.0]])
    for edge in SCULPTING_EDGES:  # one edge where rounding made two (0.7 and 0.7000000000000001)
        fine[np.abs(fine - edge) < 1e-12] = edge
    return np.unique(np.concatenate([fine, SCULPTING_EDGES]))


DISCRIMINANT_EDGES: np.ndarray = _discriminant_edges()


#: The names of the histograms :func:`tagger_histograms` makes.
TAGGER_KEYS = ("score", "discriminant", "jet_pt", "sdmass_vs_discriminant")


def tagger_histograms(class_names: Sequence[str]) -> dict[str, hist.Hist]:
    """Empty histograms for a tagger with output classes ``class_names``."""
    truth = [*dict.fromkeys([*CLASS_NAMES, *class_names]), UNLABELLED]
    signals = signal_classes(class_names)

    def head() -> list[hist.axis.StrCategory]:
        return [
            hist.axis.StrCategory([], name="dataset", label="Dataset", growth=True),
            # Grows: classes beyond the tagger's and JetClass's (a generated
            # Xbb_m60 scored by a ten-class model) get their own bin.
            hist.axis.StrCategory(truth, name="jet_class", label="True jet class", growth=True),
        ]

    discriminant_label = r"$p_{X}/(p_{X}+p_{QCD})$" if BACKGROUND in class_names else r"$p_{X}$"
    return {
        "score": hist.Hist(
            *head(),
            hist.axis.StrCategory(list(class_names), name="output", label="Tagger output"),
            hist.axis.Regular(50, 0.0, 1.0, name="score", label="Tagger score"),
            storage=hist.storage.Weight(),
        ),
        "discriminant": hist.Hist(
            *head(),
            hist.axis.StrCategory(signals, name="signal", label="Signal class X"),
            hist.axis.Variable(DISCRIMINANT_EDGES, name="discriminant", label=discriminant_label),
            storage=hist.storage.Weight(),
        ),
        "jet_pt": hist.Hist(
            *head(),
            hist.axis.Regular(70, 200.0, 1600.0, name="pt", label=r"Jet $p_T$ [GeV]"),
            storage=hist.storage.Weight(),
        ),
        "sdmass_vs_discriminant": hist.Hist(
            *head(),
            hist.axis.StrCategory(signals, name="signal", label="Signal class X"),
            hist.axis.Regular(
                50, 0.0, 250.0, name="sdmass", label=r"Soft-drop mass $m_{SD}$ [GeV]"
            ),
            hist.axis.Variable(SCULPTING_EDGES, name="discriminant", label=discriminant_label),
            storage=hist.storage.Weight(),
        ),
    }


def fill_tagger_histograms(
    histograms: dict[str, hist.Hist],
    dataset: str,
    jet_class: np.ndarray,
    prob: np.ndarray,
    class_names: Sequence[str],
    pt: np.ndarray,
    sdmass: np.ndarray,
    weight: np.ndarray | None = None,
) -> None:
    """Fill ``histograms`` (from :func:`tagger_histograms`) with one chunk of tagged jets.

    ``jet_class`` is a string array (true class or ``"unlabelled"``), ``prob`` the
    ``(N, n_classes)`` tagger output, ``pt``/``sdmass`` in GeV, ``weight`` per jet.
    """
    n = len(prob)
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    top = np.nextafter(1.0, 0.0)  # scores of exactly 1.0 belong in the last bin, not overflow
    for index, name in enumerate(class_names):
        histograms["score"].fill(
            dataset=dataset,
            jet_class=jet_class,
            output=name,
            score=np.minimum(prob[:, index].astype(np.float64), top),
            weight=w,
        )
    for signal, d in discriminants(prob, class_names).items():
        d = np.minimum(d, top)
        histograms["discriminant"].fill(
            dataset=dataset, jet_class=jet_class, signal=signal, discriminant=d, weight=w
        )
        histograms["sdmass_vs_discriminant"].fill(
            dataset=dataset,
            jet_class=jet_class,
            signal=signal,
            sdmass=sdmass,
            discriminant=d,
            weight=w,
        )
    histograms["jet_pt"].fill(dataset=dataset, jet_class=jet_class, pt=pt, weight=w)


def roc_curves(
    discriminant: hist.Hist,
    datasets: Sequence[str],
    background: str = BACKGROUND,
    signals: Sequence[str] | None = None,
) -> dict[str, RocCurve]:
    """The one-vs-``background`` ROC curve of each signal class, from the ``discriminant`` histogram.

    ``datasets`` are summed (e.g. pT-binned samples with normalized weights).
    A signal class gets a curve when both its own jets and ``background`` jets are
    there (true ``jet_class``); ``signals`` defaults to every signal class.
    """
    summed = cast(
        hist.Hist,
        functools.reduce(
            operator.add, (discriminant[{"dataset": hist.loc(name)}] for name in datasets)
        ),
    )
    curves = {}
    for signal in list(discriminant.axes["signal"]) if signals is None else signals:
        selected = [
            cast(hist.Hist, summed[{"jet_class": hist.loc(cls), "signal": hist.loc(signal)}])
            for cls in (signal, background)
        ]
        if all(float(np.sum(h.values(flow=True))) > 0 for h in selected):
            curves[signal] = roc_curve(*selected)
    return curves
