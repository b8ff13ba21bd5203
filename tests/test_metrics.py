from __future__ import annotations

import dataclasses

import hist
import numpy as np
import pytest

from jetscale.histograms.tagger import DISCRIMINANT_EDGES
from jetscale.metrics import (
    RocCurve,
    auc,
    background_rejection,
    cut_efficiency,
    discriminant,
    discriminants,
    one_vs_qcd_aucs,
    roc_auc,
    roc_curve,
    roc_curve_from_scores,
    working_points,
)


def histogram(edges: np.ndarray, values: np.ndarray, weight: np.ndarray | None = None) -> hist.Hist:
    h = hist.Hist(hist.axis.Variable(edges, name="d"), storage=hist.storage.Weight())
    h.fill(d=values, weight=weight)
    return h


def reference(scores: np.ndarray, weight: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Unbinned efficiency of ``score >= t`` for every threshold."""
    return np.array([weight[scores >= t].sum() for t in thresholds]) / weight.sum()


def test_hand_computed() -> None:
    edges = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    signal = histogram(edges, np.array([0.3, 0.6, 0.8, 0.9]))  # bins 1, 2, 3, 3
    background = histogram(edges, np.array([0.1, 0.1, 0.2, 0.3]))  # bins 0, 0, 0, 1
    curve = roc_curve(signal, background)
    np.testing.assert_array_equal(curve.thresholds, edges)
    np.testing.assert_allclose(curve.signal_efficiency, [1, 1, 0.75, 0.5, 0])
    np.testing.assert_allclose(curve.background_efficiency, [1, 0.25, 0, 0, 0])
    # Mann-Whitney with ties (same bin) counted one half: 15.5 of 16 pairs.
    assert auc(curve) == pytest.approx(15.5 / 16)
    loose, tight = working_points(curve, (0.25, 0.1))
    assert (loose.threshold, loose.signal_efficiency, loose.background_efficiency) == (
        0.25,
        1,
        0.25,
    )
    assert (tight.threshold, tight.signal_efficiency, tight.background_efficiency) == (0.5, 0.75, 0)
    assert (loose.target, tight.target) == (0.25, 0.1)
    assert working_points(curve, (1.0,))[0].threshold == 0.0


def test_perfect_and_inverted_separation() -> None:
    edges = np.linspace(0, 1, 11)
    high, low = histogram(edges, np.full(5, 0.95)), histogram(edges, np.full(5, 0.05))
    assert auc(roc_curve(high, low)) == pytest.approx(1.0)
    assert auc(roc_curve(low, high)) == pytest.approx(0.0)
    assert auc(roc_curve(low, low)) == pytest.approx(0.5)


@pytest.mark.parametrize("weighted", [False, True])
def test_matches_unbinned_reference(weighted: bool) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    # Scores outside [0, 1) land in the flow bins: below never passes, above always does.
    signal = np.concatenate([rng.beta(5, 1, n), [-0.5, 1.5, 2.0]])
    background = np.concatenate([rng.beta(1, 5, n), [-0.1, 1.2]])
    w_s = rng.uniform(0.2, 3.0, len(signal)) if weighted else np.ones(len(signal))
    w_b = rng.uniform(0.2, 3.0, len(background)) if weighted else np.ones(len(background))
    edges = DISCRIMINANT_EDGES
    curve = roc_curve(histogram(edges, signal, w_s), histogram(edges, background, w_b))

    # The cuts sit on bin edges, so binned and unbinned efficiencies agree exactly.
    np.testing.assert_allclose(curve.signal_efficiency, reference(signal, w_s, edges), rtol=1e-10)
    np.testing.assert_allclose(
        curve.background_efficiency, reference(background, w_b, edges), rtol=1e-10, atol=1e-15
    )
    for wp in working_points(curve, (0.1, 0.01, 0.001)):
        passing = reference(background, w_b, edges) <= wp.target
        expected = edges[np.argmax(passing)]  # the loosest edge meeting the target
        assert wp.threshold == expected
        assert wp.background_efficiency <= wp.target
        assert wp.signal_efficiency == pytest.approx(reference(signal, w_s, [expected])[0])

    # Binned AUC: the Mann-Whitney AUC of the bin index, ties (same bin) counted one half.
    s_bins = np.searchsorted(edges, signal, side="right")
    b_bins = np.searchsorted(edges, background, side="right")
    s_sum = np.bincount(s_bins, weights=w_s, minlength=len(edges) + 1)
    b_sum = np.bincount(b_bins, weights=w_b, minlength=len(edges) + 1)
    below = np.cumsum(b_sum) - b_sum
    expected_auc = (s_sum * (below + 0.5 * b_sum)).sum() / (w_s.sum() * w_b.sum())
    assert auc(curve) == pytest.approx(expected_auc, abs=1e-12)


def test_integer_weights_equal_repeated_entries() -> None:
    edges = np.linspace(0, 1, 21)
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 1, 200)
    repeats = rng.integers(1, 4, 200)
    other = histogram(edges, rng.uniform(0, 1, 100))
    weighted = roc_curve(histogram(edges, scores, repeats.astype(float)), other)
    repeated = roc_curve(histogram(edges, np.repeat(scores, repeats)), other)
    np.testing.assert_allclose(weighted.signal_efficiency, repeated.signal_efficiency)
    assert auc(weighted) == pytest.approx(auc(repeated))


def test_cut_efficiency_of_double_storage() -> None:
    h = hist.Hist(hist.axis.Regular(4, 0, 1, name="x"))
    h.fill(x=[0.1, 0.6, 0.6, 0.9])
    edges, efficiency = cut_efficiency(h)
    np.testing.assert_allclose(edges, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(efficiency, [1, 0.75, 0.75, 0.25, 0])


def test_curve_is_frozen() -> None:
    edges = np.linspace(0, 1, 5)
    curve = roc_curve(histogram(edges, np.array([0.9])), histogram(edges, np.array([0.1])))
    assert isinstance(curve, RocCurve)
    with pytest.raises(dataclasses.FrozenInstanceError):
        curve.thresholds = edges  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        curve.signal_efficiency[0] = 0.5


def test_errors() -> None:
    edges = np.linspace(0, 1, 5)
    one = histogram(edges, np.array([0.5]))
    with pytest.raises(ValueError, match="different binning"):
        roc_curve(one, histogram(np.linspace(0, 1, 6), np.array([0.5])))
    with pytest.raises(ValueError, match="different binning"):
        roc_curve(one, histogram(np.linspace(0, 2, 5), np.array([0.5])))
    with pytest.raises(ValueError, match="background histogram 'd' is empty"):
        roc_curve(one, histogram(edges, np.array([])))
    with pytest.raises(ValueError, match="signal histogram 'd' is empty"):
        roc_curve(histogram(edges, np.array([])), one)
    two_d = hist.Hist(hist.axis.Regular(2, 0, 1, name="a"), hist.axis.Regular(2, 0, 1, name="b"))
    with pytest.raises(ValueError, match="must be 1-D"):
        roc_curve(two_d, one)
    category = hist.Hist(hist.axis.StrCategory(["a"], name="c"))
    with pytest.raises(ValueError, match="category axis"):
        roc_curve(category, one)
    mean = hist.Hist(hist.axis.Variable(edges, name="d"), storage=hist.storage.Mean())
    with pytest.raises(ValueError, match="Mean storage"):
        roc_curve(one, mean)
    curve = roc_curve(one, one)
    for target in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"must be in \(0, 1\]"):
            working_points(curve, (target,))
    # All background above the last edge: no cut removes it.
    overflow = roc_curve(one, histogram(edges, np.array([1.5, 0.2])))
    with pytest.raises(ValueError, match="no cut reaches background efficiency 0.1"):
        working_points(overflow, (0.1,))


def test_auc_by_hand() -> None:
    # signal scores 0.9, 0.4; background 0.5, 0.1: pairs (s > b) = 3 of 4
    assert roc_auc(np.array([0.9, 0.4, 0.5, 0.1]), np.array([True, True, False, False])) == 0.75
    assert roc_auc(np.array([0.3, 0.3]), np.array([True, False])) == 0.5  # a tie counts one half
    prob = np.array([[0.8, 0.2] + [0.0] * 8, [0.3, 0.7] + [0.0] * 8, [0.6, 0.4] + [0.0] * 8])
    assert one_vs_qcd_aucs(prob, np.array([0, 1, 1])) == {"Hbb": 1.0}


def test_discriminant_convention() -> None:
    """p_X / (p_X + p_QCD), and 0.5 ("no preference") when both are 0."""
    d = discriminant(np.array([0.3, 0.0, 0.2]), np.array([0.1, 0.0, 0.0]))
    np.testing.assert_allclose(d, [0.75, 0.5, 1.0], rtol=1e-15)
    prob = np.array([[0.2, 0.6, 0.2], [0.0, 0.0, 1.0]], dtype=np.float32)
    both = discriminants(prob, ["QCD", "Hbb", "Tbqq"])
    np.testing.assert_allclose(both["Hbb"], [0.75, 0.5])
    np.testing.assert_allclose(both["Tbqq"], [0.5, 1.0])
    # A model without a QCD output: the class probability itself.
    np.testing.assert_allclose(discriminants(prob[:, 1:], ["Hbb", "Tbqq"])["Hbb"], [0.6, 0.0])


def test_roc_from_scores_by_hand() -> None:
    # signal 0.9, 0.4; background 0.5, 0.1: cuts at 0.1, 0.4, 0.5, 0.9.
    curve = roc_curve_from_scores(np.array([0.9, 0.4]), np.array([0.5, 0.1]))
    np.testing.assert_array_equal(curve.thresholds, [0.1, 0.4, 0.5, 0.9])
    np.testing.assert_array_equal(curve.signal_efficiency, [1.0, 1.0, 0.5, 0.5])
    np.testing.assert_array_equal(curve.background_efficiency, [1.0, 0.5, 0.5, 0.0])
    assert auc(curve) == 0.75
    weighted = roc_curve_from_scores(
        np.array([0.9, 0.4]), np.array([0.5, 0.1]), signal_weights=np.array([3.0, 1.0])
    )
    np.testing.assert_array_equal(weighted.signal_efficiency, [1.0, 1.0, 0.75, 0.75])


def test_auc_of_the_score_curve_is_the_rank_statistic() -> None:
    """Two independent AUCs (trapezoids over every cut, Mann-Whitney ranks) agree, ties included."""
    rng = np.random.default_rng(4)
    signal = np.round(rng.normal(0.6, 0.2, 400), 2)  # rounded: many ties
    background = np.round(rng.normal(0.4, 0.2, 700), 2)
    scores = np.concatenate([signal, background])
    is_signal = np.arange(len(scores)) < len(signal)
    assert auc(roc_curve_from_scores(signal, background)) == pytest.approx(
        roc_auc(scores, is_signal), abs=1e-12
    )


def test_histogram_and_score_curves_agree_on_bin_edges() -> None:
    """Scores on bin edges: the histogram's cuts equal the per-jet cuts exactly."""
    edges = np.linspace(0, 1, 11)
    rng = np.random.default_rng(5)
    signal, background = rng.choice(edges[:-1], 300), rng.choice(edges[:-1], 500)
    axis = hist.axis.Variable(edges, name="d")
    from_hist = roc_curve(hist.Hist(axis).fill(signal), hist.Hist(axis).fill(background))
    from_scores = roc_curve_from_scores(signal, background)
    for i, threshold in enumerate(from_scores.thresholds):
        j = int(np.flatnonzero(np.isclose(from_hist.thresholds, threshold))[0])
        assert from_hist.signal_efficiency[j] == pytest.approx(from_scores.signal_efficiency[i])
        assert from_hist.background_efficiency[j] == pytest.approx(
            from_scores.background_efficiency[i]
        )


def test_background_rejection_by_hand() -> None:
    # signal 0.9, 0.8, 0.4, 0.3; background 0.85, 0.5, 0.2, 0.1
    curve = roc_curve_from_scores(np.array([0.9, 0.8, 0.4, 0.3]), np.array([0.85, 0.5, 0.2, 0.1]))
    # 50% signal: the cut score >= 0.8 keeps 2 of 4 signal, 1 of 4 background.
    assert background_rejection(curve, 0.5) == 4.0
    # 25% signal: score >= 0.9 keeps no background: not measurable with 4 jets.
    assert background_rejection(curve, 0.25) == float("inf")
    assert background_rejection(curve, 1.0) == 2.0  # score >= 0.3 keeps 0.85 and 0.5
    with pytest.raises(ValueError, match="signal efficiency must be in"):
        background_rejection(curve, 0.0)


def test_discriminant_on_awkward_and_dask_awkward() -> None:
    """The same numbers, with the nesting kept, for the arrays a coffea analysis holds."""
    import awkward as ak
    import dask_awkward as dak

    signal = ak.Array([[np.float32(0.6), np.float32(0.0)], [], [np.float32(0.25)]])
    background = ak.Array([[np.float32(0.2), np.float32(0.0)], [], [np.float32(0.75)]])
    expected = [[0.75, 0.5], [], [0.25]]
    eager = discriminant(signal, background)
    assert str(ak.type(eager)) == "3 * var * float64"
    np.testing.assert_allclose(ak.flatten(eager).to_numpy(), [0.75, 0.5, 0.25], rtol=1e-7)
    assert ak.num(eager).tolist() == [2, 0, 1]
    lazy = discriminant(dak.from_awkward(signal, 2), dak.from_awkward(background, 2))
    assert ak.flatten(lazy.compute()).to_list() == pytest.approx(
        [x for row in expected for x in row], rel=1e-7
    )


def test_mass_sculpting_by_hand() -> None:
    from jetscale.metrics import mass_sculpting, random_cut_sculpting

    # 10 QCD jets; the 20% working point keeps the two highest scores (m = 15, 15).
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.95, 0.9])
    m = np.array([5, 5, 5, 5, 5, 15, 15, 15, 15, 15.0])
    edges = (0.0, 10.0, 20.0)
    p, q = np.array([0.5, 0.5]), np.array([0.0, 1.0])
    mix = (p + q) / 2
    want = 0.5 * np.sum(p * np.log2(p / mix)) + 0.5 * np.sum(
        q[q > 0] * np.log2(q[q > 0] / mix[q > 0])
    )
    assert mass_sculpting(d, m, 0.2, edges) == pytest.approx(want)  # 0.3113
    assert mass_sculpting(m, m, 0.5, edges) == pytest.approx(want)  # a cut on the mass itself
    assert mass_sculpting(np.arange(10.0), np.tile([5.0, 15.0], 5), 0.2, edges) == pytest.approx(
        0.0
    )
    # A random cut keeps on average the shape: its floor is small but not zero for few jets.
    assert 0 < random_cut_sculpting(np.tile([5.0, 15.0], 500), 0.1, edges) < 0.01
    with pytest.raises(ValueError, match="too few"):
        mass_sculpting(d[:1], m[:1], 0.5, edges)


def test_aucs_per_pt_bin_select_the_jets_of_each_bin() -> None:
    from jetscale.metrics import one_vs_qcd_aucs_per_pt_bin

    names = ("QCD", "Hbb")
    # Bin 200-300: Hbb scores above QCD (AUC 1); bin 300-500: below (AUC 0); none above 500.
    prob = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7], [0.8, 0.2]])
    label = np.array([0, 1, 0, 1, 1])
    pt = np.array([250.0, 260.0, 350.0, 400.0, 1500.0])
    got = one_vs_qcd_aucs_per_pt_bin(prob, label, pt, names, (200.0, 300.0, 500.0, 1000.0, 2000.0))
    assert got == {"200-300": {"Hbb": 1.0}, "300-500": {"Hbb": 0.0}}


def test_sculpting_per_class_needs_enough_qcd_jets() -> None:
    from jetscale.metrics import discriminant, mass_sculpting, one_vs_qcd_sculpting

    rng = np.random.default_rng(1)
    prob = rng.dirichlet([1.0, 1.0], 1100)
    label = np.r_[np.zeros(1000, int), np.ones(100, int)]
    msd = rng.uniform(0, 250, 1100)
    got = one_vs_qcd_sculpting(prob, label, msd, ("QCD", "Hbb"))
    qcd = label == 0
    want = mass_sculpting(discriminant(prob[qcd, 1], prob[qcd, 0]), msd[qcd])
    assert got == {"Hbb": pytest.approx(want)}
    # 999 QCD jets keep 9.99 at 1%: too few to quote a number.
    assert one_vs_qcd_sculpting(prob[1:], label[1:], msd[1:], ("QCD", "Hbb")) == {}
