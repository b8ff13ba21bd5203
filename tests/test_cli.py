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


@pytest.mark.slow
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
                "--no-nanoaod",
            ]
        )
        == 0
    )

    summary = json.loads((out / "summary.json").read_text())
    assert summary["jets"] == 120
    assert summary["provenance"]["seeds"] == {}  # given files: nothing generated
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
    # The shipped full21 tagger scored every jet inside coffea (random labels here, so
    # the AUCs are near 0.5); every class present has its histogram and ROC curve.
    tagging = summary["tagging"]
    assert tagging["jetclass"]["jets"] == {"sample": 120}
    present = {CLASS_NAMES[i] for i in set(labels.tolist())} - {"QCD"}
    assert set(tagging["jetclass"]["auc_vs_qcd"]) == present
    assert tagging["nanoaod"].startswith("not tagged")
    tagged = out / "tagging" / "jetclass"
    with uproot.open(tagged / "histograms.root") as file:
        qcd = file["discriminant/sample/QCD/Tbqq"].values().sum()
    assert qcd == int((labels == 0).sum())
    for path in (
        out / "plots" / "jet_sdmass",
        out / "plots" / "feature_part_deltaR",
        tagged / "plots" / "sample" / "roc",
        tagged / "plots" / "sample" / "sdmass_Tbqq_QCD",
    ):
        assert path.with_suffix(".png").stat().st_size > 10_000, path
        assert path.with_suffix(".pdf").stat().st_size > 5_000, path


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


@pytest.mark.filterwarnings(
    "ignore::RuntimeWarning"
)  # coffea's NanoAODSchema on v15 cross-references
@pytest.mark.slow
def test_tag_command_on_jetclass_and_nanoaod_files(
    tmp_path: Path,
    make_jets: Callable[..., ak.Array],
    nanoaod_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from coffea.util import load

    jets = make_jets(80, seed=6)
    good = write_jetclass(tmp_path / "sample.root", jets)
    bad = tmp_path / "broken.root"
    bad.write_bytes(b"\x00" * 4096)
    out = tmp_path / "tagged"
    argv = ["tag", str(good), str(bad), "--out", str(out), "--executor", "futures", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "format: jetclass, model: full21" in printed
    assert f"skipped files: 1\n  {bad}" in printed
    accumulator = load(out / "tagger.coffea")
    assert accumulator["jets"] == {"sample": 80}
    assert list(accumulator["skipped_files"]) == [str(bad)]
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["skipped_files"]) == [str(bad)]
    assert summary["job"]["provenance"]["jetscale_version"]
    with uproot.open(out / "histograms.root") as file:
        assert file["score/sample/QCD/QCD"].values().sum() == int(
            np.sum(ak.to_numpy(jets.label) == 0)
        )
    assert (out / "plots" / "sample" / "roc.png").stat().st_size > 10_000

    # PFNano: the default model is full21 (tracks are there).
    assert (
        main(
            [
                "tag",
                str(nanoaod_dir / "pfnano.root"),
                "--out",
                str(tmp_path / "pf"),
                "--no-progress",
            ]
        )
        == 0
    )
    assert "format: nanoaod (pfnano), model: full21" in capsys.readouterr().out
    assert load(tmp_path / "pf" / "tagger.coffea")["jets"] == {"pfnano": 24}

    # No PF candidates: refused before running, naming the file and what is missing.
    assert main(["tag", str(nanoaod_dir / "nano_dy.root"), "--out", str(tmp_path / "dy")]) == 2
    error = capsys.readouterr().err
    assert "nano_dy.root" in error and "PFCand" in error
    assert not (tmp_path / "dy").exists()  # refused before the output directory is made
    # A model the files cannot feed: refused before any file is processed.
    v15 = str(nanoaod_dir / "nano_tt_v15.root")
    assert main(["tag", v15, "--model", "full21", "--out", str(tmp_path / "v15")]) == 2
    assert "d0val (for part_d0)" in capsys.readouterr().err
    assert not (tmp_path / "v15").exists()


def test_train_names_a_file_with_a_renamed_tree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to end in uproot's KeyInFileError traceback (train opened files unchecked)."""
    renamed = tmp_path / "renamed.root"
    with uproot.recreate(renamed) as file:
        file["events"] = {"x": np.arange(3.0)}
    code = main(["train", "--data", str(renamed), "--out", str(tmp_path / "run")])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("jetscale train: error: ")
    assert f"{renamed}: no TTree 'tree' (keys: events)" in error


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.root", b"", "cannot open as a ROOT file (empty: 0 bytes)"),
        (
            "random.root",
            bytes(range(256)) * 20,
            "cannot open as a ROOT file (ValueError: not a ROOT file",
        ),
        ("empty.parquet", b"", "cannot open as parquet (empty: 0 bytes)"),
        ("random.parquet", bytes(range(256)) * 20, "cannot open as parquet (ArrowInvalid: "),
    ],
)
def test_train_names_an_empty_or_garbage_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes, problem: str
) -> None:
    """An interrupted copy or a wrong file: named, on one line (uproot's messages run over three)."""
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["train", "--data", str(path), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"jetscale train: error: {path}: {problem}")
    assert error.count("\n") == 1  # one line
