from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from jetscale.features import build_features
from jetscale.features.registry import FEATURE_SETS, FEATURES
from jetscale.histograms.jets import (
    FEATURE_RANGES,
    feature_axis,
    feature_histograms,
    raw_edges,
    standardized_edges,
)

CONTINUOUS = [name for name, binning in FEATURE_RANGES.items() if not binning.flag]
FLAGS = [name for name, binning in FEATURE_RANGES.items() if binning.flag]


@pytest.mark.parametrize("name", list(FEATURE_RANGES))
def test_edges_increase_within_the_clip_bounds(name: str) -> None:
    edges = standardized_edges(name)
    spec = FEATURES[name]
    assert np.all(np.diff(edges) > 0)
    if not FEATURE_RANGES[name].flag:
        assert spec.lower <= edges[0] and edges[-1] <= spec.upper
    assert np.array_equal(feature_axis(name).edges, edges)


@pytest.mark.parametrize("name", CONTINUOUS)
def test_raw_edges_invert_the_standardization(name: str) -> None:
    binning = FEATURE_RANGES[name]
    raw = raw_edges(name, standardized_edges(name))
    if binning.raw_edges:
        np.testing.assert_allclose(raw, binning.raw_edges, rtol=1e-6, atol=1e-9)
    # The formula of the raw value standardized gives the edges back.
    spec = FEATURES[name]
    standardized = (np.asarray(binning.from_raw(raw)) - spec.center) * spec.scale
    np.testing.assert_allclose(standardized, standardized_edges(name), atol=1e-9)


def test_displaced_tracks_are_inside_the_d0_axis() -> None:
    # tanh(d0) with d0 in mm: b-hadron decays give d0 of a few mm, within the axis;
    # the old axis ended at tanh(d0) = 0.2 (d0 = 0.2 mm).
    d0_mm = np.array([-5.0, -0.5, -1e-3, 0.0, 2e-3, 0.3, 1.0, 5.0, 9.0])
    axis = feature_axis("part_d0")
    assert np.all(axis.index(np.tanh(d0_mm).astype(np.float32)) < len(axis))
    assert np.all(axis.index(np.tanh(d0_mm).astype(np.float32)) >= 0)
    assert FEATURE_RANGES["part_d0"].quantity == r"Track $d_0$ [mm]"
    np.testing.assert_allclose(raw_edges("part_d0", axis.edges)[[0, -1]], [-10.0, 10.0])


def test_every_flag_has_two_bins(make_jets: Any) -> None:
    assert {n.removeprefix("part_") for n in FLAGS} == {
        "isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon",
    }  # fmt: skip
    jets = make_jets(20, seed=3)
    x, mask = build_features(jets, feature_set="full21", max_particles=64)
    labels = np.asarray(jets["label"])
    histograms = feature_histograms(x, mask, labels, "full21")
    names = FEATURE_SETS["full21"]
    for name in FLAGS:
        h = histograms[f"feature_{name}"]
        assert len(h.axes[name]) == 2
        values = x[..., names.index(name)][mask]
        np.testing.assert_array_equal(
            h.project(name).values(), [(values == 0).sum(), (values == 1).sum()]
        )
