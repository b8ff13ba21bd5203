"""The working points of the tagger plots: one definition for the ROC and sculpting plots.

A working point for a target background (QCD) efficiency is the loosest cut
``D >= c`` whose background efficiency is at most the target
(:func:`jetscale.metrics.working_points`), with ``c`` restricted to the cuts that
every tagger plot can apply exactly: the edges of the fine ``discriminant`` axis
that are also edges of the coarse ``sdmass_vs_discriminant`` axis. So the 10%
working point of ``roc_Hbb`` and of ``sdmass_Hbb_QCD`` is the same cut with the
same efficiencies; the ROC curve itself keeps every fine edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import hist
import numpy as np

from jetscale.metrics import RocCurve, WorkingPoint
from jetscale.metrics import working_points as loosest_cuts
from jetscale.plotting.style import discriminant_symbol, log, percent

#: Target background efficiencies of the working points every tagger plot marks.
TARGETS: tuple[float, ...] = (0.1, 0.01)
#: Two edges closer than this are the same cut (the two axes' edges are computed apart).
SAME_EDGE = 1e-9


def common_cuts(histograms: Mapping[str, hist.Hist]) -> np.ndarray:
    """The cuts both the ROC (``discriminant``) and the sculpting plots can apply exactly.

    Without an ``sdmass_vs_discriminant`` histogram: every edge of ``discriminant``.
    """
    fine = np.asarray(histograms["discriminant"].axes["discriminant"].edges, dtype=np.float64)
    if "sdmass_vs_discriminant" not in histograms:
        return fine
    coarse = np.asarray(histograms["sdmass_vs_discriminant"].axes["discriminant"].edges)
    return fine[_matches(fine, coarse)]


def choose_working_points(
    curve: RocCurve, cuts: np.ndarray, targets: Sequence[float] = TARGETS
) -> list[WorkingPoint]:
    """For each target, the loosest of ``cuts`` whose background efficiency is <= target.

    ``curve`` comes from a histogram whose edges include ``cuts``. A target no cut
    reaches (jets in the overflow bin) is left out with a warning.
    """
    keep = _matches(np.asarray(curve.thresholds), cuts)
    restricted = RocCurve(
        curve.signal_efficiency[keep], curve.background_efficiency[keep], curve.thresholds[keep]
    )
    points = []
    for target in targets:
        try:
            points += loosest_cuts(restricted, (target,))
        except ValueError as err:
            log.warning("working point %s skipped: %s", target, err)
    return points


def working_point_name(wp: WorkingPoint) -> str:
    r"""``WP $\varepsilon_B \leq$ 10%``: the working point by its target."""
    return rf"WP $\varepsilon_B \leq$ {percent(wp.target)}"


def cut_text(signal: str, threshold: float) -> str:
    """``$D_{Hbb}$ >= 0.4``: the cut in mathtext, or ``no cut`` at the lowest edge."""
    if threshold <= 0.0:
        return "no cut"
    return rf"{discriminant_symbol(signal)} $\geq$ {threshold:.6g}"


def _matches(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is one of ``edges`` (within :data:`SAME_EDGE`)."""
    edges = np.sort(np.asarray(edges, dtype=np.float64))
    index = np.clip(np.searchsorted(edges, values), 1, len(edges) - 1)
    nearest = np.minimum(np.abs(values - edges[index - 1]), np.abs(values - edges[index]))
    return np.asarray(nearest <= SAME_EDGE)


def edge_index(edges: np.ndarray, cut: float) -> int:
    """The index of ``cut`` among ``edges``; ValueError if it is not one of them."""
    distance = np.abs(np.asarray(edges, dtype=np.float64) - cut)
    index = int(np.argmin(distance))
    if distance[index] > SAME_EDGE:
        msg = f"cut {cut} is not an edge of the discriminant axis {list(edges)}"
        raise ValueError(msg)
    return index
