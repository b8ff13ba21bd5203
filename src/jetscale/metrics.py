"""The tagging maths, one function each: discriminant, ROC curves, AUC, working points.

Training, the coffea processors, the plots and the scaling code all call these, so
a number means the same thing everywhere.

**Discriminant.** For signal class X the one-vs-QCD discriminant is
``p_X / (p_X + p_QCD)``, the convention of the Particle Transformer paper's
ROC curves. When both probabilities are 0 (possible in a float32 softmax) it is
0.5, "no preference"; a model without a QCD output uses ``p_X`` itself.

**ROC curves from histograms.** The cut at every bin edge ``e`` keeps the jets with
``discriminant >= e``: exactly the bins from ``e`` upwards plus the overflow bin, so
a histogram gives the same efficiencies as the per-jet scores whenever the cuts
sit on bin edges. Totals include both flow bins, so jets below the first edge
never pass a cut (and NaN scores, which boost-histogram fills into the overflow
bin, pass every cut).

**ROC curves from scores.** The cuts sit at every distinct score, so the area under
the curve equals the Mann-Whitney statistic with ties counted one half
(:func:`roc_auc`).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import hist
import numpy as np

from jetscale.schema import CLASS_NAMES

#: The background class of every one-vs-background discriminant.
BACKGROUND = "QCD"


def signal_classes(class_names: Sequence[str]) -> list[str]:
    """Classes that get a one-vs-QCD discriminant: all but QCD (all, if the model has no QCD)."""
    return [c for c in class_names if c != BACKGROUND]


def discriminant(p_signal: Any, p_background: Any) -> Any:
    """``p_signal / (p_signal + p_background)`` in float64; 0.5 where both are 0.

    Written with ufuncs only, so it takes NumPy, awkward (any nesting) and
    dask-awkward arrays alike and returns the same kind.
    """
    if not type(p_signal).__module__.startswith(("awkward", "dask_awkward")):
        p_signal = np.asarray(p_signal, dtype=np.float64)
    p = p_signal * np.float64(1.0)  # float64 for float32 inputs too (a NumPy scalar promotes)
    total = p + p_background
    undefined = total == 0  # probabilities are >= 0: both are 0
    # total + undefined is total where it is > 0 and 1 where it is 0: no division by zero.
    return (p + 0.5 * undefined) / (total + undefined)


def discriminants(prob: np.ndarray, class_names: Sequence[str]) -> dict[str, np.ndarray]:
    """One-vs-QCD discriminant of every signal class from probabilities ``(N, n_classes)``."""
    names = list(class_names)
    out = {}
    for signal in signal_classes(names):
        p = prob[:, names.index(signal)]
        if BACKGROUND in names:
            out[signal] = discriminant(p, prob[:, names.index(BACKGROUND)])
        else:
            out[signal] = np.asarray(p, dtype=np.float64)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class RocCurve:
    """Efficiencies of the cuts ``discriminant >= thresholds[i]``; arrays of length n_bins + 1.

    Thresholds increase, so both efficiencies decrease (for non-negative weights)
    from the fraction above the first edge to the overflow fraction.
    """

    signal_efficiency: np.ndarray
    background_efficiency: np.ndarray
    thresholds: np.ndarray


@dataclasses.dataclass(frozen=True)
class WorkingPoint:
    """The cut ``discriminant >= threshold`` chosen for a target background efficiency."""

    target: float  # the requested background efficiency
    threshold: float
    signal_efficiency: float
    background_efficiency: float  # achieved, <= target


def _edges_of(h: hist.Hist, role: str) -> np.ndarray:
    if h.ndim != 1:
        msg = f"{role} histogram must be 1-D, got axes {[a.name for a in h.axes]}"
        raise ValueError(msg)
    axis = h.axes[0]
    if isinstance(axis, hist.axis.StrCategory | hist.axis.IntCategory | hist.axis.Boolean):
        msg = f"{role} histogram axis {axis.name!r} is a category axis, not a discriminant"
        raise ValueError(msg)
    if h.storage_type in (hist.storage.Mean, hist.storage.WeightedMean):
        msg = f"{role} histogram has {h.storage_type.__name__} storage; counts are needed"
        raise ValueError(msg)
    return np.asarray(axis.edges, dtype=np.float64)


def cut_efficiency(h: hist.Hist, role: str = "input") -> tuple[np.ndarray, np.ndarray]:
    """Bin edges and the (weighted) fraction of entries with ``x >= edge``, both length n + 1.

    Raises ValueError if the histogram is not 1-D or its total weight (flow bins
    included) is not positive.
    """
    edges = _edges_of(h, role)
    axis = h.axes[0]
    values = np.asarray(h.values(flow=True), dtype=np.float64)
    start = 1 if axis.traits.underflow else 0
    inside = values[start : start + len(axis)]
    overflow = values[start + len(axis)] if axis.traits.overflow else 0.0
    total = float(values.sum())
    if not total > 0:
        msg = f"{role} histogram {h.name or axis.name!r} is empty (total weight {total})"
        raise ValueError(msg)
    passing = np.append(np.cumsum(inside[::-1])[::-1], 0.0) + overflow
    return edges, passing / total


def roc_curve(signal: hist.Hist, background: hist.Hist) -> RocCurve:
    """ROC curve of two 1-D discriminant histograms with identical binning."""
    signal_edges = _edges_of(signal, "signal")
    background_edges = _edges_of(background, "background")
    if signal_edges.shape != background_edges.shape or not np.array_equal(
        signal_edges, background_edges
    ):
        msg = (
            f"signal and background histograms have different binning: "
            f"{len(signal_edges) - 1} bins in [{signal_edges[0]}, {signal_edges[-1]}] versus "
            f"{len(background_edges) - 1} bins in [{background_edges[0]}, {background_edges[-1]}]"
        )
        raise ValueError(msg)
    thresholds, signal_efficiency = cut_efficiency(signal, "signal")
    _, background_efficiency = cut_efficiency(background, "background")
    for array in (signal_efficiency, background_efficiency, thresholds):
        array.setflags(write=False)
    return RocCurve(signal_efficiency, background_efficiency, thresholds)


def auc(curve: RocCurve) -> float:
    """Area under the curve of signal versus background efficiency.

    The curve is closed with (0, 0) and (1, 1) (cuts above and below every bin) and
    integrated with the trapezoid rule, which for binned scores equals the
    Mann-Whitney AUC with jets in the same bin counted as ties (one half).
    """
    x = np.concatenate([[0.0], curve.background_efficiency[::-1], [1.0]])
    y = np.concatenate([[0.0], curve.signal_efficiency[::-1], [1.0]])
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))


def working_points(
    curve: RocCurve, background_efficiencies: Sequence[float] = (0.1, 0.01, 0.001)
) -> list[WorkingPoint]:
    """For each target, the loosest cut (lowest edge) whose background efficiency is <= target.

    That is the cut with the highest signal efficiency that meets the target.
    With too few background jets the achieved efficiency may be far below the
    target (often 0); compare ``background_efficiency`` with ``target``.
    Raises ValueError for a target outside (0, 1] or one no cut reaches.
    """
    out = []
    for target in background_efficiencies:
        if not 0 < target <= 1:
            msg = f"background efficiency target must be in (0, 1], got {target}"
            raise ValueError(msg)
        # A relative tolerance so a target equal to an achieved efficiency is met
        # despite rounding in the cumulative sums.
        meets = np.flatnonzero(curve.background_efficiency <= target * (1 + 1e-9))
        if len(meets) == 0:
            msg = (
                f"no cut reaches background efficiency {target}: the lowest is "
                f"{curve.background_efficiency.min():.3g} (entries in the overflow bin)"
            )
            raise ValueError(msg)
        i = int(meets[0])
        out.append(
            WorkingPoint(
                target=float(target),
                threshold=float(curve.thresholds[i]),
                signal_efficiency=float(curve.signal_efficiency[i]),
                background_efficiency=float(curve.background_efficiency[i]),
            )
        )
    return out


def roc_curve_from_scores(
    signal_scores: np.ndarray,
    background_scores: np.ndarray,
    signal_weights: np.ndarray | None = None,
    background_weights: np.ndarray | None = None,
) -> RocCurve:
    """ROC curve of per-jet scores: the cuts ``score >= t`` at every distinct score ``t``.

    Raises ValueError if either sample is empty or has no positive total weight.
    """
    signal = np.asarray(signal_scores, dtype=np.float64)
    background = np.asarray(background_scores, dtype=np.float64)
    thresholds = np.unique(np.concatenate([signal, background]))
    efficiencies = []
    for role, scores, weights in (
        ("signal", signal, signal_weights),
        ("background", background, background_weights),
    ):
        w = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
        total = float(w.sum())
        if len(scores) == 0 or not total > 0:
            msg = f"{role} scores are empty (total weight {total})"
            raise ValueError(msg)
        # Weight at or above each threshold: a reversed cumulative sum over sorted scores.
        order = np.argsort(scores, kind="stable")
        above = np.cumsum(w[order][::-1])[::-1]
        index = np.searchsorted(scores[order], thresholds, side="left")
        efficiency = np.append(above, 0.0)[index] / total
        efficiency.setflags(write=False)
        efficiencies.append(efficiency)
    thresholds.setflags(write=False)
    return RocCurve(efficiencies[0], efficiencies[1], thresholds)


def roc_auc(scores: np.ndarray, is_signal: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney rank statistic (ties count one half).

    NaN if either class is absent.
    """
    # Imported here: scipy.stats costs ~0.8 s, which every coffea worker would pay.
    from scipy.stats import rankdata

    n_signal = int(is_signal.sum())
    n_background = len(is_signal) - n_signal
    if n_signal == 0 or n_background == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float(
        (ranks[is_signal].sum() - n_signal * (n_signal + 1) / 2) / (n_signal * n_background)
    )


def background_rejection(curve: RocCurve, signal_efficiency: float) -> float:
    """1 / background efficiency of the tightest cut keeping at least ``signal_efficiency``.

    The Particle Transformer paper quotes it at 50% (30%, 99%) signal efficiency.
    ``inf`` when that cut rejects every background jet: too few background jets to
    measure it. Raises ValueError for a target outside (0, 1] or one no cut reaches.
    """
    if not 0 < signal_efficiency <= 1:
        msg = f"signal efficiency must be in (0, 1], got {signal_efficiency}"
        raise ValueError(msg)
    keeps = np.flatnonzero(curve.signal_efficiency >= signal_efficiency * (1 - 1e-9))
    if len(keeps) == 0:
        msg = f"no cut keeps signal efficiency {signal_efficiency}: the highest is {curve.signal_efficiency.max():.3g}"
        raise ValueError(msg)
    efficiency = float(curve.background_efficiency[keeps[-1]])
    return 1.0 / efficiency if efficiency > 0 else float("inf")


def one_vs_qcd_aucs(
    probabilities: np.ndarray, labels: np.ndarray, class_names: Sequence[str] = CLASS_NAMES
) -> dict[str, float]:
    """AUC of each class's one-vs-QCD :func:`discriminant` between its jets and QCD jets.

    ``labels`` are indices into ``class_names``; classes without jets (or a model
    with fewer outputs) are left out.
    """
    return {
        name: roc_auc(
            np.concatenate([signal, background]),
            np.arange(len(signal) + len(background)) < len(signal),
        )
        for name, signal, background in _one_vs_qcd(probabilities, labels, class_names)
    }


def one_vs_qcd_rejections(
    probabilities: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    signal_efficiency: float = 0.5,
) -> dict[str, float]:
    """Background (QCD) rejection 1/eps_B of each class's one-vs-QCD discriminant at ``signal_efficiency``.

    Classes as in :func:`one_vs_qcd_aucs`. A rejection limited by the number of QCD
    jets (no QCD jet passes) is ``inf``.
    """
    return {
        name: background_rejection(roc_curve_from_scores(signal, background), signal_efficiency)
        for name, signal, background in _one_vs_qcd(probabilities, labels, class_names)
    }


def _one_vs_qcd(
    probabilities: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(class, its jets' discriminant, QCD jets' discriminant)`` for each class with jets."""
    names = list(class_names)[: probabilities.shape[1]]
    if BACKGROUND not in names:
        return
    qcd = labels == names.index(BACKGROUND)
    for name, d in discriminants(probabilities, names).items():
        signal = labels == names.index(name)
        if signal.any() and qcd.any():
            yield name, d[signal], d[qcd]


#: pT bins (GeV) of the per-pT-bin metrics: an analysis' AK8 range, 200 GeV upwards.
PT_BIN_EDGES: tuple[float, ...] = (200.0, 300.0, 500.0, 1000.0, 2000.0)
#: QCD background efficiency of the working point whose mass sculpting is quoted.
SCULPTING_EFFICIENCY = 0.01
#: Fewest background jets a working point must keep for :func:`one_vs_qcd_sculpting` to quote it.
SCULPTING_MIN_KEPT = 10
#: Soft-drop mass bins (GeV) of the sculpting number: 10 GeV up to 250 GeV, as the plots.
SCULPTING_MSD_EDGES: tuple[float, ...] = tuple(float(m) for m in range(0, 251, 10))


def pt_bin_name(low: float, high: float) -> str:
    """``"200-300"``: the key of a pT bin in metrics and model cards (GeV)."""
    return f"{low:g}-{high:g}"


def one_vs_qcd_aucs_per_pt_bin(
    probabilities: np.ndarray,
    labels: np.ndarray,
    pt: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    edges: Sequence[float] = PT_BIN_EDGES,
) -> dict[str, dict[str, float]]:
    """:func:`one_vs_qcd_aucs` of the jets in each pT bin, ``{"200-300": {"Hbb": ...}}``.

    Bins without jets are left out; so is a class without jets (or QCD jets) in a bin.
    """
    pt = np.asarray(pt, dtype=np.float64)
    out = {}
    for low, high in itertools.pairwise(edges):
        inside = (pt >= low) & (pt < high)
        if inside.any():
            aucs = one_vs_qcd_aucs(probabilities[inside], labels[inside], class_names)
            if aucs:
                out[pt_bin_name(low, high)] = aucs
    return out


def jensen_shannon_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """JSD of two histograms (normalised here), base 2: 0 for equal shapes, 1 for disjoint ones."""
    # scipy gives the distance, the square root of the divergence.
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(np.asarray(p, float), np.asarray(q, float), base=2) ** 2)


def mass_sculpting(
    discriminant: np.ndarray,
    sdmass: np.ndarray,
    background_efficiency: float = SCULPTING_EFFICIENCY,
    edges: Sequence[float] = SCULPTING_MSD_EDGES,
) -> float:
    """How much a cut sculpts the background's soft-drop mass: the JSD before and after it.

    ``discriminant`` and ``sdmass`` (GeV) are those of background (QCD) jets. The cut
    keeps the jets with ``discriminant >= t`` for the ``t`` that keeps the fraction
    ``background_efficiency`` of them (ties at ``t`` kept, the ROC convention); the
    number is the Jensen-Shannon divergence (base 2) between the m_SD histograms of
    all jets and of the kept ones, the measure of the CMS and ATLAS mass-decorrelation
    papers (which quote 1/JSD). With few kept jets it is biased upwards even without
    sculpting: compare with :func:`random_cut_sculpting` on the same jets.
    """
    d = np.asarray(discriminant, dtype=np.float64)
    mass = np.asarray(sdmass, dtype=np.float64)
    if not 0 < background_efficiency < 1:
        msg = f"background efficiency must be in (0, 1), got {background_efficiency}"
        raise ValueError(msg)
    kept = max(round(background_efficiency * len(d)), 1)
    if len(d) < 2 or kept >= len(d):
        msg = f"{len(d)} background jets are too few for a {background_efficiency:g} working point"
        raise ValueError(msg)
    threshold = np.sort(d)[::-1][kept - 1]
    before, _ = np.histogram(mass, bins=edges)
    after, _ = np.histogram(mass[d >= threshold], bins=edges)
    if after.sum() == 0 or before.sum() == 0:
        return float("nan")  # every kept jet outside the mass range: nothing to compare
    return jensen_shannon_divergence(before, after)


def random_cut_sculpting(
    sdmass: np.ndarray,
    background_efficiency: float = SCULPTING_EFFICIENCY,
    edges: Sequence[float] = SCULPTING_MSD_EDGES,
    draws: int = 200,
    seed: int = 0,
) -> float:
    """:func:`mass_sculpting` of a cut that keeps random jets: the finite-sample floor.

    The mean over ``draws`` random subsets of the size the working point keeps; a
    tagger whose sculpting number is near this does not sculpt measurably.
    """
    rng = np.random.default_rng(seed)
    mass = np.asarray(sdmass, dtype=np.float64)
    values = [
        mass_sculpting(rng.random(len(mass)), mass, background_efficiency, edges)
        for _ in range(draws)
    ]
    return float(np.nanmean(values))


def one_vs_qcd_sculpting(
    probabilities: np.ndarray,
    labels: np.ndarray,
    sdmass: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    background_efficiency: float = SCULPTING_EFFICIENCY,
) -> dict[str, float]:
    """:func:`mass_sculpting` of each signal class's one-vs-QCD discriminant on the QCD jets.

    Empty when the working point would keep fewer than :data:`SCULPTING_MIN_KEPT`
    QCD jets (fewer than 1,000 at 1%): the number would only measure their scarcity.
    """
    names = list(class_names)[: probabilities.shape[1]]
    if BACKGROUND not in names:
        return {}
    qcd = labels == names.index(BACKGROUND)
    if int(qcd.sum()) * background_efficiency < SCULPTING_MIN_KEPT:
        return {}
    mass = np.asarray(sdmass, dtype=np.float64)[qcd]
    return {
        name: mass_sculpting(d[qcd], mass, background_efficiency)
        for name, d in discriminants(probabilities, names).items()
    }
