from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.image
import numpy as np
import pytest

from jetscale.histograms.tagger import (
    DISCRIMINANT_EDGES,
    SCULPTING_EDGES,
    fill_tagger_histograms,
    tagger_histograms,
)
from jetscale.metrics import auc, discriminants, roc_curve, working_points
from jetscale.plotting import sculpting
from jetscale.plotting import tagger as tagger_plots
from jetscale.plotting.tagger import (
    plot_mass_sculpting,
    plot_mass_sculpting_by_dataset,
    plot_roc,
    plot_scores,
    plot_scores_by_dataset,
    plot_tagger,
)
from jetscale.plotting.working_points import choose_working_points, common_cuts

TT = "/TTToHadronic/Run3Summer22/NANOAODSIM"


def assert_figures(paths: list[Path], stems: list[str]) -> None:
    """PNG and PDF of every stem, non-trivial and readable."""
    assert [p.name for p in paths] == [f"{s}.{x}" for s in stems for x in ("png", "pdf")]
    for path in paths:
        if path.suffix == ".png":
            assert path.stat().st_size > 20_000
            image = matplotlib.image.imread(path)
            assert image.ndim == 3 and image.shape[0] > 400 and image.shape[1] > 400
            assert image[..., :3].std() > 0.05  # not a blank canvas
        else:
            assert path.stat().st_size > 5_000
            assert path.read_bytes().startswith(b"%PDF")
    assert not [p for p in paths[0].parent.iterdir() if p.name.startswith(".")]  # no temporaries


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace rendering by a record of each figure's stem, legend and texts (fast)."""
    record: list[dict[str, Any]] = []

    def save(fig: Any, ax: Any, out_dir: Any, stem: str, style: dict[str, Any]) -> list[Path]:
        legend = ax.get_legend()
        record.append(
            {
                "stem": stem,
                "dir": Path(out_dir),
                "style": style,
                "title": legend.get_title().get_text(),
                "legend": [t.get_text() for t in legend.get_texts()],
                "texts": [t.get_text() for t in ax.texts],
            }
        )
        return [Path(out_dir) / f"{stem}.{x}" for x in ("png", "pdf")]

    monkeypatch.setattr(tagger_plots, "save_figure", save)
    monkeypatch.setattr(sculpting, "save_figure", save)
    return record


def test_rendered_plots(tmp_path: Path, filled: Any) -> None:
    # Rendering takes about a second a figure: one of each kind; the rest is stubbed below.
    h = filled.histograms
    rc_before = dict(mpl.rcParams)
    assert_figures(plot_scores(h, "JetClass", tmp_path / "a", outputs=["Hbb"]), ["score_Hbb"])
    assert_figures(plot_roc(h, "JetClass", tmp_path / "b", signals=["Hbb"]), ["roc_Hbb"])
    paths = plot_mass_sculpting_by_dataset(
        h, TT, tmp_path / "c", "Tbqq", "QCD_HT1000", experiment="ATLAS", label="Internal"
    )
    assert_figures(paths, ["sdmass_Tbqq"])
    assert dict(mpl.rcParams) == rc_before  # the experiment style is scoped to each figure


def test_working_points_match_unbinned_scores(filled: Any) -> None:
    sample = filled.samples["JetClass"]
    d = discriminants(sample.prob, filled.classes)["Hbb"]
    h = filled.histograms["discriminant"]

    def select(cls: str) -> Any:
        return h[{"dataset": "JetClass", "jet_class": cls, "signal": "Hbb"}]

    curve = roc_curve(select("Hbb"), select("QCD"))
    d_signal, d_background = d[sample.truth == "Hbb"], d[sample.truth == "QCD"]
    for wp in working_points(curve, (0.1, 0.01, 0.001)):
        efficiency = np.array([(d_background >= e).mean() for e in DISCRIMINANT_EDGES])
        expected = DISCRIMINANT_EDGES[np.argmax(efficiency <= wp.target)]
        assert wp.threshold == expected
        assert wp.background_efficiency == pytest.approx((d_background >= expected).mean())
        assert wp.signal_efficiency == pytest.approx((d_signal >= expected).mean())


def test_roc_legend_names_working_points_and_statistics_limit(
    tmp_path: Path, filled: Any, drawn: list[dict[str, Any]]
) -> None:
    h = filled.histograms
    paths = plot_roc(h, "JetClass", tmp_path, working_points=(0.1, 0.01))
    assert [p.name for p in paths[::2]] == ["roc_Hbb.png", "roc_Tbqq.png", "roc.png"]
    select = {"dataset": "JetClass", "signal": "Hbb"}
    curve = roc_curve(
        h["discriminant"][{**select, "jet_class": "Hbb"}],
        h["discriminant"][{**select, "jet_class": "QCD"}],
    )
    hbb = drawn[0]
    assert hbb["title"] == "JetClass"
    assert hbb["texts"] == []  # everything in the legend, nothing drawn over the curves
    n_qcd = int((filled.samples["JetClass"].truth == "QCD").sum())
    wps = choose_working_points(curve, common_cuts(h), (0.1, 0.01))
    assert hbb["legend"] == [
        f"Hbb vs QCD, AUC = {auc(curve):.4f}",
        *(
            rf"WP $\varepsilon_B \leq$ {100 * wp.target:.3g}%: $D_{{\mathrm{{Hbb}}}}$ $\geq$ "
            rf"{wp.threshold:.6g}, $\varepsilon_S$ = {100 * wp.signal_efficiency:.3g}%, "
            rf"$\varepsilon_B$ = {100 * wp.background_efficiency:.3g}%"
            for wp in wps
        ),
        f"statistics limit: 1 of {n_qcd:,} QCD jets",
    ]
    overlay = drawn[2]["legend"]
    assert overlay[0] == f"Hbb, AUC = {auc(curve):.4f}"
    assert overlay[2:] == [
        r"WP $\varepsilon_B \leq$ 10%",
        r"WP $\varepsilon_B \leq$ 1%",
        f"statistics limit: 1 of {n_qcd:,} QCD jets",
    ]


def test_working_points_are_the_loosest_common_cut(filled: Any) -> None:
    h = filled.histograms
    cuts = common_cuts(h)
    # Cuts both plots apply exactly: edges of both discriminant axes.
    assert set(np.round(cuts, 9)) <= set(np.round(SCULPTING_EDGES, 9))
    assert set(np.round(cuts, 9)) <= set(np.round(DISCRIMINANT_EDGES, 9))
    select = {"dataset": "JetClass", "signal": "Tbqq"}
    curve = roc_curve(
        h["discriminant"][{**select, "jet_class": "Tbqq"}],
        h["discriminant"][{**select, "jet_class": "QCD"}],
    )
    d = discriminants(filled.samples["JetClass"].prob, filled.classes)["Tbqq"]
    qcd = d[filled.samples["JetClass"].truth == "QCD"]
    for wp in choose_working_points(curve, cuts, (0.3, 0.1, 0.01)):
        passing = np.array([(qcd >= c).mean() for c in cuts])
        assert wp.threshold == pytest.approx(cuts[np.argmax(passing <= wp.target)])
        assert wp.background_efficiency == pytest.approx((qcd >= wp.threshold).mean())
        assert wp.background_efficiency <= wp.target


def test_roc_and_sculpting_plots_apply_the_same_cuts(
    tmp_path: Path, filled: Any, drawn: list[dict[str, Any]]
) -> None:
    h = filled.histograms
    for signal in ("Hbb", "Tbqq"):
        drawn.clear()
        plot_roc(h, "JetClass", tmp_path, signals=[signal])
        plot_mass_sculpting(h, "JetClass", tmp_path, signal)
        roc, mass = ({line.split(":")[0]: line for line in r["legend"]} for r in drawn)
        for target in ("10%", "1%"):
            name = rf"WP $\varepsilon_B \leq$ {target}"
            cut = re.search(r"\$\\geq\$ ([0-9.]+)", roc[name]).group(1)  # type: ignore[union-attr]
            assert rf"$\geq$ {cut} (" in mass[name]


def test_roc_skips_classes_without_jets(
    tmp_path: Path, filled: Any, drawn: list[dict[str, Any]]
) -> None:
    h = filled.histograms
    # Unlabelled datasets have neither signal nor QCD jets: nothing to draw, nothing written.
    assert plot_roc(h, "QCD_HT1000", tmp_path) == []
    assert drawn == []
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    with pytest.raises(ValueError, match=r"signal \['Zqq'\] not in the histograms"):
        plot_roc(h, "JetClass", tmp_path, signals=["Zqq"])
    with pytest.raises(ValueError, match=r"dataset \['nope'\] not in the histograms"):
        plot_roc(h, "nope", tmp_path)
    with pytest.raises(ValueError, match=r"jet_class \['qcd'\] not in the histograms"):
        plot_roc(h, "JetClass", tmp_path, background="qcd")


def test_sculpting_legend_names_the_applied_cut(
    tmp_path: Path, filled: Any, drawn: list[dict[str, Any]]
) -> None:
    h = filled.histograms
    plot_mass_sculpting(h, "JetClass", tmp_path, "Hbb", background_efficiencies=(0.1, 0.01))
    select = {"dataset": "JetClass", "signal": "Hbb"}
    fine = h["discriminant"][{**select, "jet_class": "QCD"}]
    wps = choose_working_points(roc_curve(fine, fine), common_cuts(h), (0.1, 0.01))
    legend = drawn[0]["legend"]
    coarse = h["sdmass_vs_discriminant"][{**select, "jet_class": "QCD"}]
    total = coarse.sum(flow=True).value
    assert legend[0] == f"no cut ({total:,.0f} jets)"
    for wp, text in zip(wps, legend[1:], strict=True):
        edge = SCULPTING_EDGES.index(min(SCULPTING_EDGES, key=lambda e: abs(e - wp.threshold)))
        assert abs(SCULPTING_EDGES[edge] - wp.threshold) < 1e-9  # applied exactly
        assert f"$\\geq$ {wp.threshold:.6g} (" in text
        kept = coarse[{"discriminant": slice(edge, None, sum)}]
        assert f"({100 * kept.sum(flow=True).value / total:.3g}% kept)" in text
    assert drawn[0]["title"].startswith("JetClass\nQCD jets, cuts on")

    # Signal jets: the legend also gives the background efficiency of the applied cut.
    plot_mass_sculpting(h, "JetClass", tmp_path, "Hbb", jet_class="Hbb")
    assert drawn[1]["stem"] == "sdmass_Hbb_Hbb"
    assert r"$\varepsilon_B$ = " in drawn[1]["legend"][1].split(":")[1]
    with pytest.raises(ValueError, match="no QCD jets in dataset 'QCD_HT1000'"):
        plot_mass_sculpting(h, "QCD_HT1000", tmp_path, "Hbb")


def test_plot_tagger_chooses_views(
    tmp_path: Path, filled: Any, drawn: list[dict[str, Any]]
) -> None:
    paths = plot_tagger(filled.histograms, tmp_path, experiment="cms", label="Work in progress")
    names = {str(p.relative_to(tmp_path)) for p in paths if p.suffix == ".png"}
    labelled = {f"JetClass/{s}.png" for s in (
        "score_QCD", "score_Hbb", "score_Tbqq", "roc_Hbb", "roc_Tbqq", "roc",
        "sdmass_Hbb_QCD", "sdmass_Tbqq_QCD",
    )}  # fmt: skip
    by_dataset = {f"score_{c}_by_dataset.png" for c in ("QCD", "Hbb", "Tbqq")}
    sculpting = {
        f"{d}/sdmass_{s}.png"
        for d in ("QCD_HT1000", "TTToHadronic_Run3Summer22_NANOAODSIM")
        for s in ("Hbb", "Tbqq")
    }
    assert names == labelled | by_dataset | sculpting
    assert len(paths) == 2 * len(names)
    assert {r["style"]["label"] for r in drawn} == {"Work in progress"}
    scores = next(r for r in drawn if r["stem"] == "score_Hbb_by_dataset")
    assert [t.split(" (")[0] for t in scores["legend"]] == ["QCD_HT1000", TT]
    # Weighted (NanoAOD-like) datasets: the effective number of jets.
    assert all(r"($N_\mathrm{eff}$ = 1," in t for t in scores["legend"])
    truth = filled.samples["JetClass"].truth
    assert next(r for r in drawn if r["stem"] == "score_Hbb")["legend"] == [
        f"{c} ({(truth == c).sum():,} jets)" for c in ("QCD", "Hbb", "Tbqq")
    ]


def test_plot_tagger_background_dataset(
    tmp_path: Path, filled: Any, drawn: list[dict[str, Any]]
) -> None:
    h = filled.histograms
    paths = plot_tagger(h, tmp_path, background_dataset=TT)
    sculpting = [r for r in drawn if r["dir"].name == "QCD_HT1000" and r["stem"] == "sdmass_Tbqq"]
    title = sculpting[0]["title"].split("\n")
    assert title[1].endswith(f"from {TT}")
    # QCD jets fail the tight top-tagging cuts: the legend says so instead of a gap.
    assert title[2:] and all(line.endswith(": no jet passes") for line in title[2:])
    assert len(paths) == 2 * len(drawn)
    with pytest.raises(ValueError, match=r"background_dataset \['JetClass'\] not among"):
        plot_tagger(h, tmp_path, background_dataset="JetClass")

    # Two QCD-like unlabelled datasets: the cuts come from their sum.
    more = {k: v.copy() for k, v in h.items()}
    sample = filled.samples["QCD_HT1000"]
    fill_tagger_histograms(
        more, "QCD_HT2000", sample.truth, sample.prob, filled.classes, sample.sdmass, sample.sdmass
    )
    drawn.clear()
    plot_tagger(more, tmp_path)
    titles = {"\n".join(r["title"].split("\n")[:2]) for r in drawn if r["stem"] == "sdmass_Hbb"}
    assert titles == {
        f"{d}\ncuts on $D_{{\\mathrm{{Hbb}}}}$ from QCD_HT1000 + QCD_HT2000"
        for d in ("QCD_HT1000", "QCD_HT2000", TT)
    }


def test_plot_tagger_sums_labelled_datasets(
    tmp_path: Path, filled: Any, drawn: list[dict[str, Any]]
) -> None:
    # JetClass processed one process per dataset: no dataset has both Hbb and QCD jets.
    histograms = tagger_histograms(filled.classes)
    sample = filled.samples["JetClass"]
    for dataset, cls in (("HToBB", "Hbb"), ("ZJetsToNuNu", "QCD")):
        keep = sample.truth == cls
        fill_tagger_histograms(
            histograms,
            dataset,
            sample.truth[keep],
            sample.prob[keep],
            filled.classes,
            sample.sdmass[keep],
            sample.sdmass[keep],
        )
    paths = plot_tagger(histograms, tmp_path)
    names = {str(p.relative_to(tmp_path)) for p in paths if p.suffix == ".png"}
    assert names == {
        "HToBB/score_QCD.png", "HToBB/score_Hbb.png", "HToBB/score_Tbqq.png",
        "ZJetsToNuNu/score_QCD.png", "ZJetsToNuNu/score_Hbb.png", "ZJetsToNuNu/score_Tbqq.png",
        "ZJetsToNuNu/sdmass_Hbb_QCD.png", "ZJetsToNuNu/sdmass_Tbqq_QCD.png",
        "all_labelled/score_QCD.png", "all_labelled/score_Hbb.png", "all_labelled/score_Tbqq.png",
        "all_labelled/roc_Hbb.png",
        "all_labelled/sdmass_Hbb_QCD.png", "all_labelled/sdmass_Tbqq_QCD.png",
    }  # fmt: skip
    roc = next(r for r in drawn if r["stem"] == "roc_Hbb")
    assert roc["title"] == "HToBB + ZJetsToNuNu"
    select = {"jet_class": "Hbb", "signal": "Hbb"}
    curve = roc_curve(
        histograms["discriminant"][{"dataset": "HToBB", **select}],
        histograms["discriminant"][{"dataset": "ZJetsToNuNu", **select, "jet_class": "QCD"}],
    )
    assert roc["legend"][0] == f"Hbb vs QCD, AUC = {auc(curve):.4f}"


def test_unknown_experiment(tmp_path: Path, filled: Any) -> None:
    with pytest.raises(ValueError, match="unknown experiment 'LEP'"):
        plot_scores(filled.histograms, "JetClass", tmp_path, experiment="LEP")


def test_scores_by_dataset(tmp_path: Path, filled: Any, drawn: list[dict[str, Any]]) -> None:
    paths = plot_scores_by_dataset(filled.histograms, [TT, "QCD_HT1000"], tmp_path, ["Tbqq"])
    assert [p.name for p in paths] == ["score_Tbqq_by_dataset.png", "score_Tbqq_by_dataset.pdf"]
    assert [t.split(" (")[0] for t in drawn[0]["legend"]] == [TT, "QCD_HT1000"]
    with pytest.raises(ValueError, match=r"output \['Wqq'\] not in the histograms"):
        plot_scores_by_dataset(filled.histograms, None, tmp_path, ["Wqq"])
