"""Every figure of jetscale.plotting, drawn from small synthetic inputs: no text over
text, nothing off the canvas, no legend over data (see ``overlap.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.ticker import MaxNLocator
from overlap import data_under_legends, outside, overlaps, text_boxes

from jetscale.features import build_features
from jetscale.histograms import feature_histograms, jet_histograms
from jetscale.histograms.tagger import fill_tagger_histograms, tagger_histograms
from jetscale.plotting import cka, per_class, scaling, sculpting, tagger, transfer
from jetscale.plotting.style import draw_label
from jetscale.scaling.compare import GroupFit
from jetscale.scaling.frontier import Envelope, IsoFLOPFit, IsoFLOPProfile
from jetscale.schema import CLASS_NAMES, UNLABELLED
from jetscale.transfer.effective_data import TransferAnalysis, TransferFit, TransferPoint

#: The default (no experiment), a label alone, and the longest experiment label.
STYLES = {
    "default": {},
    "label": {"experiment": "none", "label": "Private work"},
    "cms": {"experiment": "CMS", "label": "Preliminary"},
}
MODULES = (tagger, sculpting, per_class, scaling, transfer, cka)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Instead of writing files: draw each figure with its label and record what is wrong."""
    results: list[dict[str, Any]] = []

    def save(fig: Any, ax: Any, out_dir: Any, stem: str, style: dict[str, Any]) -> list[Path]:
        draw_label(ax, style)
        boxes = text_boxes(fig)
        results.append(
            {
                "stem": stem,
                "problems": [
                    *(f"overlap: {a} and {b}" for a, b in overlaps(boxes)),
                    *(f"off the canvas: {b}" for b in outside(fig, boxes)),
                    *(f"over data: {d}" for d in data_under_legends(fig)),
                ],
                "ylim": ax.get_ylim(),
                "yscale": ax.get_yscale(),
            }
        )
        return [Path(out_dir) / f"{stem}.png"]

    for module in MODULES:
        monkeypatch.setattr(module, "save_figure", save)
    return results


def assert_clean(results: list[dict[str, Any]], expected: int) -> None:
    assert len(results) == expected
    problems = [f"{r['stem']}: {p}" for r in results for p in r["problems"]]
    assert not problems, "\n".join(problems)


def dirichlet(rng: np.random.Generator, index: np.ndarray, n_classes: int) -> np.ndarray:
    gamma = rng.gamma(1.0 + 4.0 * np.eye(n_classes)[index])
    return gamma / gamma.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def ten_classes() -> dict[str, Any]:
    """Tagger histograms of the main job's shape: ten classes of 150 jets, a weighted NanoAOD file."""
    rng = np.random.default_rng(7)
    histograms = tagger_histograms(CLASS_NAMES)
    index = np.repeat(np.arange(len(CLASS_NAMES)), 150)
    truth = np.asarray(CLASS_NAMES)[index]
    prob = dirichlet(rng, index, len(CLASS_NAMES))
    masses = rng.uniform(0, 250, len(index))
    fill_tagger_histograms(histograms, "sample", truth, prob, CLASS_NAMES, masses + 500, masses)
    n = 42
    fill_tagger_histograms(
        histograms, "nano_tt_v15", np.full(n, UNLABELLED), dirichlet(rng, np.zeros(n, int), 10),
        CLASS_NAMES, rng.uniform(200, 800, n), rng.uniform(0, 250, n), np.full(n, 350.0),
    )  # fmt: skip
    return histograms


@pytest.mark.parametrize("style", list(STYLES))
def test_tagger_figures(
    tmp_path: Path, filled: Any, checked: list[dict[str, Any]], style: str
) -> None:
    paths = tagger.plot_tagger(filled.histograms, tmp_path, **STYLES[style])
    assert_clean(checked, len(paths))


def test_ten_class_tagger_figures(
    tmp_path: Path, ten_classes: dict[str, Any], checked: list[dict[str, Any]]
) -> None:
    tagger.plot_scores(ten_classes, "sample", tmp_path, outputs=["QCD", "Hbb"])
    tagger.plot_roc(ten_classes, "sample", tmp_path, signals=["Hbb", "Tbqq"])
    tagger.plot_roc(ten_classes, "sample", tmp_path)  # nine curves in one overlay
    tagger.plot_scores_by_dataset(ten_classes, ["nano_tt_v15"], tmp_path, ["Tbqq"])
    tagger.plot_mass_sculpting(ten_classes, "sample", tmp_path, "Hbb", **STYLES["cms"])
    assert_clean(checked, 2 + 3 + 10 + 1 + 1)
    # Fractions on a log axis end within a decade above 1, not at 1e5.
    for result in checked:
        if result["stem"].startswith("score_"):
            assert result["yscale"] == "log"
            assert result["ylim"][1] < 10


@pytest.fixture(scope="module")
def feature_hists(make_jets: Any) -> dict[str, Any]:
    jets = make_jets(60, seed=5)
    x, mask = build_features(jets, feature_set="full21", max_particles=64)
    labels = np.asarray(jets["label"])
    return {**jet_histograms(jets), **feature_histograms(x, mask, labels, "full21")}


@pytest.mark.parametrize("style", ["default", "cms"])
def test_per_class_figures(
    tmp_path: Path, feature_hists: dict[str, Any], checked: list[dict[str, Any]], style: str
) -> None:
    log_y = {"feature_part_d0", "feature_part_d0err", "feature_part_isPhoton"}
    for name, h in feature_hists.items():
        per_class.plot_per_class(h, tmp_path, name, log=name in log_y, **STYLES[style])
    assert_clean(checked, len(feature_hists))


def test_scaling_figures(tmp_path: Path, checked: list[dict[str, Any]]) -> None:
    style = scaling.scaling_style(**STYLES["cms"])
    n = np.array([1e4, 1e4, 1e5, 1e5, 1e6, 1e6])
    d = np.array([1e5, 1e6, 1e5, 1e6, 1e5, 1e6])
    c = 6 * n * d
    loss = 0.5 + 30 / n**0.3 + 40 / d**0.3
    envelope = Envelope(sorted(c.tolist()), sorted(loss.tolist())[::-1], [], [], None, None)
    profiles = [
        IsoFLOPProfile(6e10, [1e4, 1e5], [0.9, 0.8], [0.1, -2.5, 16.0], 3e4, 3e5, 0.78, True)
    ]
    curves = [{"budget": 6e10, "N": [1e4, 1e5, 1e6], "loss": [0.9, 0.8, 0.85]}]
    groups = [
        GroupFit({"feature_set": f, "max_particles": 64}, "parametric", 6, floor, (floor - 0.05,
                 floor + 0.05), 0.3, (0.2, 0.4), 0.3, (0.2, 0.4), lowest_loss=floor + 0.1)
        for f, floor in (("kin", 0.6), ("kinpid", 0.55), ("full21", 0.5))
    ]  # fmt: skip
    scaling.plot_loss_vs_compute(c, loss, n, envelope, (c, loss * 0.99), tmp_path, style)
    scaling.plot_isoflop(IsoFLOPFit(profiles, None, None, [], curves), tmp_path, style)
    scaling.plot_observed_vs_fitted(loss, loss * 1.01, n, tmp_path, style)
    scaling.plot_residuals(n, d, np.log(1.01) * np.ones(6), tmp_path, style)
    scaling.plot_repetition_gain(
        [1, 2, 4, 8], [1.0, 1.9, 3.2, 4.5], [1e5] * 4, 5.0, tmp_path, style
    )
    scaling.plot_floors(groups, tmp_path, style)
    assert_clean(checked, 6)


def test_transfer_figures(tmp_path: Path, checked: list[dict[str, Any]]) -> None:
    style = transfer.transfer_style(**STYLES["cms"])
    rows = [
        {"backbone": b, "policy": p, "n": n, "seed": s, "val_loss": 1.0 / np.log(n) + 0.01 * s,
         "rejection50": float("inf") if n == 100 and s == 1 else 10.0 * np.log(n)}
        for b, p in (("scratch", "scratch"), ("jetscale-small", "full"), ("jetscale-small", "head"))
        for n in (100, 1_000, 10_000)
        for s in (1, 2)
    ]  # fmt: skip
    points = [
        TransferPoint("jetscale-small", "full", n, 2, 0.3, 0.01, 0.35, "ok", 3.0 * n, 2.0 * n,
                      (2.5 * n, 3.5 * n), (1.5 * n, 2.5 * n), 1.0)
        for n in (100, 1_000, 10_000)
    ]  # fmt: skip
    fits = [
        TransferFit("jetscale-small", "full", "fitted", None, 2.0, 1.0, (1.5, 2.5), (0.9, 1.1),
                    0.01, (100, 1_000, 10_000), {}, 1.0)
    ]  # fmt: skip
    analysis = TransferAnalysis({"L_inf": 0.2}, points, fits, {}, 10.0)
    transfer.plot_metric_vs_labels(
        rows, "val_loss", "best validation loss", "loss", tmp_path, style
    )
    transfer.plot_metric_vs_labels(
        rows, "rejection50", r"QCD rejection $1/\varepsilon_B$", "rej", tmp_path, style, log_y=True
    )
    transfer.plot_transferred_data(analysis, tmp_path, style)
    assert_clean(checked, 3)


def test_cka_figure(tmp_path: Path, checked: list[dict[str, Any]]) -> None:
    layers = ["embed", *(f"block{k}" for k in range(6)), "head"]
    matrix = np.random.default_rng(1).uniform(-0.05, 1.0, (len(layers), len(layers)))
    cka.plot_cka(matrix, layers, layers, "A: run", "B: run", tmp_path, **STYLES["cms"])
    assert_clean(checked, 1)


# The checks themselves must be able to fail.


def test_overlapping_texts_are_caught() -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        ax.plot([0, 1], [0.95, 0.95], label="a curve")  # through the legend
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left")
        ax.text(0.05, 0.95, "text over the legend", transform=ax.transAxes, va="top")
        ax.set_xlabel("x")
        ax.text(0.5, -0.12, "text over the x label", transform=ax.transAxes, ha="center")
        ax.text(1.2, 0.5, "off the canvas", transform=ax.transAxes)
        boxes = text_boxes(fig)
        found = overlaps(boxes)
        assert any("text over the legend" in a + b and "legend" in a + b for a, b in found)
        assert any("text over the x label" in a + b and "'x'" in a + b for a, b in found)
        assert [b for b in outside(fig, boxes) if "off the canvas" in b]
        assert data_under_legends(fig) == ["Line2D 'a curve' under ' | a curve'"]
    finally:
        plt.close(fig)


def test_crowded_tick_labels_are_caught_unless_matplotlib_placed_them() -> None:
    fig, ax = plt.subplots(figsize=(3, 3))
    try:
        ax.set_xlim(0, 1)
        ax.yaxis.set_major_locator(MaxNLocator(60))  # matplotlib's crowded ticks: not compared
        assert overlaps(text_boxes(fig)) == []
        ax.set_xticks([0.0, 0.01], ["a long label", "another long label"])  # set by hand
        found = overlaps(text_boxes(fig))
        assert ("tick 'a long label'", "tick 'another long label'") in found
    finally:
        plt.close(fig)


def test_rotated_labels_are_compared_as_rotated_rectangles() -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        ax.set_xlim(0, 10)
        # Diagonal neighbours: their upright boxes overlap, the texts do not.
        ax.set_xticks([4, 5], ["block0-long", "block1-long"], rotation=45, ha="right")
        assert overlaps(text_boxes(fig)) == []
        ax.set_xticks([4, 4.05], ["block0-long", "block1-long"], rotation=45, ha="right")
        assert overlaps(text_boxes(fig)) == [("tick 'block0-long'", "tick 'block1-long'")]
    finally:
        plt.close(fig)
