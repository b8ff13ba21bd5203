"""ROC curves and working points from binned discriminant histograms.

The cut at every bin edge ``e`` keeps the jets with ``discriminant >= e``: exactly
the bins from ``e`` upwards plus the overflow bin, so a histogram gives the same
efficiencies as the per-jet scores whenever the cuts sit on bin edges. Totals
include both flow bins, so jets below the first edge never pass a cut (and NaN
scores, which boost-histogram fills into the overflow bin, pass every cut).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import hist
import numpy as np


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
