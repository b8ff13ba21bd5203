from __future__ import annotations

from pathlib import Path
from typing import Any

import hist
import numpy as np
import pytest
import uproot

from jetscale.histograms.writers import write_histograms_root


def read(path: Path) -> dict[str, Any]:
    """Every histogram in ``path`` by its full name (directories joined with /), no cycles."""
    with uproot.open(path) as file:
        return {
            key.split(";")[0]: file[key].to_hist()
            for key, classname in file.classnames().items()
            if classname.startswith("TH")
        }


def assert_same(written: Any, expected: hist.Hist) -> None:
    np.testing.assert_allclose(written.values(flow=True), expected.values(flow=True))
    np.testing.assert_allclose(written.variances(flow=True), expected.variances(flow=True))
    for a, b in zip(written.axes, expected.axes, strict=True):
        np.testing.assert_allclose(a.edges, b.edges)


def test_every_category_combination(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    h = hist.Hist(
        hist.axis.StrCategory([], name="dataset", growth=True),
        hist.axis.IntCategory([2016, 2018], name="year"),
        hist.axis.Regular(10, 0, 250, name="mass"),
        hist.axis.Variable([0, 0.5, 0.9, 0.99, 1], name="score"),
        storage=hist.storage.Weight(),
    )
    n = 2000
    h.fill(
        dataset=rng.choice(["ttbar", "/QCD/Run3/NANOAODSIM"], n),
        year=rng.choice([2016, 2018], n),
        mass=rng.uniform(-20, 300, n),  # flow bins on both sides
        score=rng.uniform(-0.1, 1.1, n),
        weight=rng.normal(1.0, 0.5, n),  # some negative, as genWeight
    )
    three_d = hist.Hist(
        hist.axis.Boolean(name="matched"),
        hist.axis.Regular(3, 0, 1, name="x"),
        hist.axis.Regular(4, 0, 1, name="y"),
        hist.axis.Regular(2, 0, 1, name="z"),
        storage=hist.storage.Weight(),
    )
    three_d.fill(
        matched=rng.integers(0, 2, n).astype(bool),
        x=rng.uniform(0, 1, n),
        y=rng.uniform(0, 1, n),
        z=rng.uniform(0, 1, n),
        weight=rng.uniform(0, 2, n),
    )
    path = write_histograms_root(tmp_path / "out.root", {"mass_score": h, "xyz": three_d})
    assert path == tmp_path / "out.root"
    assert [p.name for p in tmp_path.iterdir()] == ["out.root"]  # no temporary left behind

    written = read(path)
    expected = {
        f"mass_score/{name}/{year}": h[{"dataset": dataset, "year": hist.loc(year)}]
        for dataset, name in (("ttbar", "ttbar"), ("/QCD/Run3/NANOAODSIM", "_QCD_Run3_NANOAODSIM"))
        for year in (2016, 2018)
    } | {f"xyz/{m}": three_d[{"matched": hist.loc(m)}] for m in (False, True)}
    assert set(written) == set(expected)
    for name, sub in expected.items():
        assert_same(written[name], sub)
    with uproot.open(path) as file:
        assert file["mass_score/ttbar/2016"].classname == "TH2D"
        assert file["xyz/True"].classname == "TH3D"
        assert file["mass_score/ttbar/2016"].axis(0).edges().tolist() == list(h.axes[2].edges)


def test_jet_class_naming_and_double_storage(tmp_path: Path) -> None:
    h = hist.Hist(
        hist.axis.StrCategory(["QCD", "Hbb"], name="jet_class"),
        hist.axis.Regular(5, 0, 250, name="sdmass"),
    )
    h.fill(jet_class=["QCD", "QCD", "Hbb"], sdmass=[10, 300, 125])
    empty = hist.Hist(
        hist.axis.StrCategory([], name="dataset", growth=True), hist.axis.Regular(2, 0, 1)
    )
    written = read(write_histograms_root(tmp_path / "h.root", {"jet_sdmass": h, "none": empty}))
    assert set(written) == {"jet_sdmass/QCD", "jet_sdmass/Hbb"}  # the empty one writes nothing
    assert_same(written["jet_sdmass/QCD"], h[{"jet_class": "QCD"}])
    np.testing.assert_array_equal(written["jet_sdmass/Hbb"].values(), [0, 0, 1, 0, 0])


def test_tagger_layout(tmp_path: Path, filled: Any) -> None:
    written = read(write_histograms_root(tmp_path / "t.root", filled.histograms))
    score = filled.histograms["score"]
    sub = score[{"dataset": "JetClass", "jet_class": "Hbb", "output": "QCD"}]
    assert_same(written["score/JetClass/Hbb/QCD"], sub)
    # Unit weights: the sum of squared weights is the count, so fSumw2 was written.
    np.testing.assert_allclose(written["score/JetClass/Hbb/QCD"].variances(), sub.values())
    weighted = filled.histograms["sdmass_vs_discriminant"][
        {"dataset": "QCD_HT1000", "jet_class": "unlabelled", "signal": "Tbqq"}
    ]
    assert_same(written["sdmass_vs_discriminant/QCD_HT1000/unlabelled/Tbqq"], weighted)
    assert not np.allclose(weighted.variances(), weighted.values())
    n_datasets, n_truth = len(score.axes["dataset"]), len(score.axes["jet_class"])
    assert sum(k.startswith("score/") for k in written) == n_datasets * n_truth * 3


def test_errors_leave_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "h.root"
    path.write_bytes(b"old")
    only_categories = hist.Hist(hist.axis.StrCategory(["a"], name="c"))
    with pytest.raises(ValueError, match="'counts' has 0 numeric axes"):
        write_histograms_root(path, {"counts": only_categories})
    four = hist.Hist(*(hist.axis.Regular(2, 0, 1, name=n) for n in "wxyz"))
    with pytest.raises(ValueError, match="'four' has 4 numeric axes"):
        write_histograms_root(path, {"four": four})
    clash = hist.Hist(hist.axis.StrCategory(["a/b", "a_b"], name="c"), hist.axis.Regular(2, 0, 1))
    with pytest.raises(ValueError, match="both be named 'clash/a_b'"):
        write_histograms_root(path, {"clash": clash})
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["h.root"]
