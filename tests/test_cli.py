"""The command line end to end, on small files written by the tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from jetscale.cli import main
from jetscale.features import FEATURE_SETS, build_features
from jetscale.io import write_jetclass
from jetscale.schema import CLASS_NAMES


def test_run_on_existing_files_writes_features_histograms_and_plots(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(120, seed=3)
    data = write_jetclass(tmp_path / "in.root", jets)
    out = tmp_path / "out"
    assert (
        main(
            [
                "run",
                "--out",
                str(out),
                "--data",
                str(data),
                "--feature-set",
                "kinpid",
                "--max-particles",
                "48",
            ]
        )
        == 0
    )

    summary = json.loads((out / "summary.json").read_text())
    assert summary["jets"] == 120
    labels = ak.to_numpy(jets.label)
    assert summary["jets_per_class"] == {
        c: int((labels == i).sum()) for i, c in enumerate(CLASS_NAMES)
    }

    with np.load(out / "features" / "in_kinpid.npz") as npz:
        x_ref, mask_ref = build_features(jets, "kinpid", 48)
        np.testing.assert_array_equal(npz["x"], x_ref)
        np.testing.assert_array_equal(npz["mask"], mask_ref)
        assert list(npz["feature_names"]) == list(FEATURE_SETS["kinpid"])

    # The ROOT histogram of a class equals numpy's histogram of that class.
    with uproot.open(out / "histograms.root") as file:
        counts = file["jet_sdmass/Tbqq"].values()
    expected, _ = np.histogram(
        ak.to_numpy(jets.sdmass[jets.label == CLASS_NAMES.index("Tbqq")]), 50, (0, 250)
    )
    np.testing.assert_array_equal(counts, expected)
    # The shipped full21 tagger scored every jet (random labels here, so AUCs near 0.5).
    assert set(summary["tagger"]["auc_vs_qcd"]) <= set(CLASS_NAMES[1:])
    with uproot.open(out / "histograms.root") as file:
        assert file["score_Tbqq_vs_QCD/QCD"].values().sum() == int((labels == 0).sum())
    for stem in ("jet_sdmass", "jet_tau32", "feature_part_deltaR", "score_Tbqq_vs_QCD"):
        assert (out / "plots" / f"{stem}.png").stat().st_size > 10_000
        assert (out / "plots" / f"{stem}.pdf").stat().st_size > 5_000


def test_features_command_and_errors(
    tmp_path: Path, make_jets: Callable[..., ak.Array], capsys: pytest.CaptureFixture[str]
) -> None:
    jets = make_jets(30, seed=4)
    write_jetclass(tmp_path / "a.root", jets)
    assert (
        main(
            [
                "features",
                str(tmp_path / "*.root"),
                "--out",
                str(tmp_path / "f"),
                "--feature-set",
                "full",
            ]
        )
        == 0
    )
    with np.load(tmp_path / "f" / "a_full.npz") as npz:
        assert npz["x"].shape == (30, 128, 17)
        np.testing.assert_array_equal(npz["label"], ak.to_numpy(jets.label))
    assert main(["features", str(tmp_path / "missing.root"), "--out", str(tmp_path / "f")]) == 2
    assert "missing.root: file does not exist" in capsys.readouterr().err
    assert (
        main(
            [
                "generate",
                "--out",
                str(tmp_path / "g"),
                "--classes",
                "QCD,Xbb",
                "--jets-per-class",
                "1",
            ]
        )
        == 2
    )
    assert "unknown JetClass class 'Xbb'" in capsys.readouterr().err


def test_generate_command_writes_jetclass_files_and_reports_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pythia8mc")
    argv = ["generate", "--out", str(tmp_path), "--classes", "Wqq", "--jets-per-class", "4"]
    assert (
        main([*argv, "--detector", "coarse", "--seed", "5", "--workers", "1", "--no-progress"]) == 0
    )
    printed = capsys.readouterr().out
    assert "jets/s" in printed
    tree = uproot.open(tmp_path / "Wqq_coarse_s5.root")["tree"]
    assert tree.num_entries == 4
    assert tree["label_Wqq"].array(library="np").all()
