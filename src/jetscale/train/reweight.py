"""Mass decorrelation by sample reweighting: every class flat in (pT, m_SD).

A tagger trained on jets whose soft-drop mass tells the classes apart learns the
mass: cutting on its score then carves a signal-like bump out of the smooth QCD
mass spectrum ("sculpting"), which a search that fits the jet mass cannot use.
ParticleNet-MD (CMS-DP-2020/002) removes the incentive by training on samples
that are flat in (pT, m_SD) for every class. jetscale's signals have fixed masses,
so instead each jet is weighted by the inverse of its class's density in a
(pT, m_SD) grid: each class becomes flat over the bins where it has jets. Where
classes share bins, neither pT nor m_SD tells them apart; a mass no jet of a
class reaches (a 20 GeV top) still says "not that class", which is why the
decorrelation is partial for the classes of narrow mass peaks (the docs quote
the measured sculpting).

Choices (documented in docs/training.md):

* the grid: pT from 200 to 2500 GeV in log-like steps, m_SD from 20 to 260 GeV in
  20 GeV steps (the range where analyses fit the jet mass);
* a class's weights sum to its number of jets, so the classes keep the balance
  the unweighted sample had;
* a bin with fewer than ``min_jets`` jets of a class, and jets outside the grid,
  get weight 0: a handful of jets would otherwise carry a whole bin's weight. The
  jets so left out are counted (:attr:`MassPtWeights.zero_weight_jets`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike

#: Names of :attr:`TrainConfig.mass_decorrelation`.
NONE: Final = "none"
FLAT_PT_MSD: Final = "flat-pt-msd"
METHODS: Final = (NONE, FLAT_PT_MSD)

PT_EDGES: Final = (200.0, 250.0, 300.0, 400.0, 500.0, 650.0, 800.0, 1000.0, 1300.0, 1600.0, 2000.0, 2500.0)  # fmt: skip
MSD_EDGES: Final = tuple(float(m) for m in range(20, 261, 20))
MIN_JETS: Final = 3


@dataclasses.dataclass(frozen=True)
class MassPtWeights:
    """Per-class weight tables over a (pT, m_SD) grid; call it on jets to weight them."""

    table: np.ndarray  # (n_classes, n_pt, n_msd) float64
    pt_edges: tuple[float, ...] = PT_EDGES
    msd_edges: tuple[float, ...] = MSD_EDGES
    zero_weight_jets: tuple[int, ...] = ()  # per class: jets given weight 0 at the fit

    @classmethod
    def fit(
        cls,
        label: ArrayLike,
        pt: ArrayLike,
        sdmass: ArrayLike,
        n_classes: int,
        min_jets: int = MIN_JETS,
        pt_edges: tuple[float, ...] = PT_EDGES,
        msd_edges: tuple[float, ...] = MSD_EDGES,
    ) -> MassPtWeights:
        """Weights that make each class flat over the bins where it has ``min_jets`` jets or more.

        ``label`` indexes the classes (jets with a negative label are ignored).
        """
        labels = np.asarray(label, dtype=np.int64)
        counts = np.zeros((n_classes, len(pt_edges) - 1, len(msd_edges) - 1))
        keep = labels >= 0
        pt_bin, msd_bin = _bins(pt, sdmass, pt_edges, msd_edges, keep)
        inside = pt_bin >= 0
        np.add.at(counts, (labels[keep][inside], pt_bin[inside], msd_bin[inside]), 1.0)
        counts = np.where(counts >= min_jets, counts, 0.0)
        table = np.zeros_like(counts)
        zero = []
        for c in range(n_classes):
            n_jets = int((labels == c).sum())
            occupied = counts[c] > 0
            if occupied.any():
                # Each occupied bin carries the same total weight; the class sums to n_jets.
                table[c][occupied] = n_jets / occupied.sum() / counts[c][occupied]
            zero.append(n_jets - int(counts[c].sum()))
        return cls(table, tuple(pt_edges), tuple(msd_edges), tuple(zero))

    def __call__(self, label: ArrayLike, pt: ArrayLike, sdmass: ArrayLike) -> np.ndarray:
        """Each jet's weight (float32; 0 outside the grid and for negative labels)."""
        labels = np.asarray(label, dtype=np.int64)
        keep = (labels >= 0) & (labels < len(self.table))
        pt_bin, msd_bin = _bins(pt, sdmass, self.pt_edges, self.msd_edges, keep)
        out = np.zeros(labels.shape, dtype=np.float32)
        inside = pt_bin >= 0
        jets = np.flatnonzero(keep)[inside]
        out[jets] = self.table[labels[jets], pt_bin[inside], msd_bin[inside]]
        return out

    def describe(self) -> dict[str, Any]:
        """What ``training_data.json`` records of the reweighting."""
        return {
            "method": FLAT_PT_MSD,
            "pt_edges_gev": list(self.pt_edges),
            "msd_edges_gev": list(self.msd_edges),
            "zero_weight_jets": list(self.zero_weight_jets),
            "max_weight": float(self.table.max(initial=0.0)),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], table: ArrayLike) -> MassPtWeights:
        return cls(
            np.asarray(table, dtype=np.float64),
            tuple(data["pt_edges_gev"]),
            tuple(data["msd_edges_gev"]),
            tuple(data["zero_weight_jets"]),
        )


def _bins(
    pt: ArrayLike,
    sdmass: ArrayLike,
    pt_edges: tuple[float, ...],
    msd_edges: tuple[float, ...],
    keep: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Bin indices of the kept jets; -1 in both for a jet outside the grid."""
    pt_values = np.asarray(pt, dtype=np.float64)[keep]
    msd_values = np.asarray(sdmass, dtype=np.float64)[keep]
    pt_bin = np.searchsorted(pt_edges, pt_values, side="right") - 1
    msd_bin = np.searchsorted(msd_edges, msd_values, side="right") - 1
    outside = (
        (pt_bin < 0)
        | (pt_bin >= len(pt_edges) - 1)
        | (msd_bin < 0)
        | (msd_bin >= len(msd_edges) - 1)
        | ~np.isfinite(pt_values)
        | ~np.isfinite(msd_values)
    )
    pt_bin[outside] = -1
    msd_bin[outside] = -1
    return pt_bin, msd_bin
