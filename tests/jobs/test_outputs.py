from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

import hist
import numpy as np
import pytest
import uproot

from jetscale.histograms.tagger import fill_tagger_histograms, tagger_histograms
from jetscale.io.atomic import write_text
from jetscale.jobs import tag as outputs
from jetscale.jobs.tag import write_outputs
from jetscale.metrics import discriminants, roc_auc


@pytest.fixture
def plotted(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record plot_tagger's arguments instead of drawing (the plots have their own tests)."""
    calls: list[dict[str, Any]] = []

    def plot_tagger(histograms: Any, out_dir: Path, *args: Any, **kwargs: Any) -> list[Path]:
        calls.append({"histograms": histograms, "out_dir": out_dir, "args": args, **kwargs})
        return [Path(out_dir) / "score_QCD.png"]

    monkeypatch.setattr(outputs, "plot_tagger", plot_tagger)
    return calls


def test_write_outputs(tmp_path: Path, filled: Any, plotted: list[dict[str, Any]]) -> None:
    coffea_util = pytest.importorskip("coffea.util")
    cutflow = hist.Hist(
        hist.axis.StrCategory(["JetClass"], name="dataset"), hist.axis.Integer(0, 3, name="step")
    )
    cutflow.fill(dataset="JetClass", step=[0, 0, 1, 2])
    accumulator = {
        **filled.histograms,
        "jets": {"JetClass": np.int64(3000), "QCD_HT1000": 1500},
        "skipped_files": ["root://eos//bad.root"],
        "extra": {"cutflow": cutflow, "efficiency": np.array([1.0, 0.5])},
    }
    out = write_outputs(accumulator, tmp_path / "out", experiment="ATLAS", label="Internal")

    assert out == {
        "coffea": tmp_path / "out" / "tagger.coffea",
        "root": tmp_path / "out" / "histograms.root",
        "summary": tmp_path / "out" / "summary.json",
        "plots": [tmp_path / "out" / "plots" / "score_QCD.png"],
    }
    loaded = coffea_util.load(out["coffea"])
    assert loaded.keys() == accumulator.keys()
    assert loaded["score"] == accumulator["score"]
    assert loaded["skipped_files"] == ["root://eos//bad.root"]

    with uproot.open(out["root"]) as file:
        np.testing.assert_array_equal(file["extra/cutflow/JetClass"].values(), [2, 1, 1])
        sub = accumulator["discriminant"][
            {"dataset": "JetClass", "jet_class": "Hbb", "signal": "Tbqq"}
        ]
        written = file["discriminant/JetClass/Hbb/Tbqq"]
        np.testing.assert_allclose(written.values(flow=True), sub.values(flow=True))
        np.testing.assert_allclose(written.variances(flow=True), sub.variances(flow=True))

    summary = json.loads(out["summary"].read_text())
    aucs = summary.pop("auc_vs_qcd")
    assert summary == {
        "jets": {"JetClass": 3000, "QCD_HT1000": 1500},
        "skipped_files": ["root://eos//bad.root"],
        "extra": {"efficiency": [1.0, 0.5]},
    }
    # Per dataset, from the histograms; the unlabelled NanoAOD-like datasets have no curve.
    unlabelled = [d for d in filled.samples if d != "JetClass"]
    assert {d: aucs[d] for d in unlabelled} == {d: {} for d in unlabelled}
    jetclass = filled.samples["JetClass"]
    for signal, d in discriminants(jetclass.prob, filled.classes).items():
        chosen = np.isin(jetclass.truth, [signal, "QCD"])
        per_jet = roc_auc(d[chosen], jetclass.truth[chosen] == signal)  # Mann-Whitney, unbinned
        assert aucs["JetClass"][signal] == pytest.approx(per_jet, abs=2e-3), signal
    (call,) = plotted
    assert set(call["histograms"]) == {"score", "discriminant", "jet_pt", "sdmass_vs_discriminant"}
    assert call["out_dir"] == tmp_path / "out" / "plots"
    assert call["args"] == ("ATLAS", "Internal")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "histograms.root",
        "summary.json",
        "tagger.coffea",
    ]


def test_per_dataset_accumulator(tmp_path: Path, plotted: list[dict[str, Any]]) -> None:
    """coffea's apply_to_fileset gives one output per dataset: the plots see their sum."""
    pytest.importorskip("coffea.util")
    classes = ["QCD", "Hbb"]
    rng = np.random.default_rng(2)
    accumulator: dict[str, Any] = {}
    for dataset in ("a", "b"):
        h = tagger_histograms(classes)
        prob = rng.dirichlet([1, 1], 50)
        truth = np.array(classes)[rng.integers(0, 2, 50)]
        fill_tagger_histograms(h, dataset, truth, prob, classes, np.full(50, 500.0), prob[:, 0])
        accumulator[dataset] = {**h, "jets": 50}
    out = write_outputs(accumulator, tmp_path)
    assert list(plotted[0]["histograms"]["score"].axes["dataset"]) == ["a", "b"]
    summary = json.loads(Path(out["summary"]).read_text())
    assert summary.pop("auc_vs_qcd").keys() == {"a", "b"}
    assert summary == {"a": {"jets": 50}, "b": {"jets": 50}}
    with uproot.open(out["root"]) as file:
        assert "a/score/a/QCD/Hbb" in file
        assert "b/jet_pt/b/Hbb" in file


def test_missing_coffea(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "coffea.util", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'jetscale\[coffea\]'"):
        write_outputs({}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _marker(out: Path) -> dict[str, str]:
    lines = (out / "INCOMPLETE").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line[:60])


def test_full_disk_mid_way_marks_the_outputs_incomplete(
    tmp_path: Path, filled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at histograms.root left a new tagger.coffea beside the old ROOT file,
    summary and plots of an earlier run, with nothing saying which was which."""
    pytest.importorskip("coffea.util")

    def plot_tagger(histograms: Any, out_dir: Path, *args: Any, **kwargs: Any) -> list[Path]:
        return [write_text(Path(out_dir) / "score_QCD.png", "png")]

    monkeypatch.setattr(outputs, "plot_tagger", plot_tagger)
    accumulator = {**filled.histograms, "jets": 10}
    out = tmp_path / "out"
    write_outputs(accumulator, out)  # an earlier, complete run
    assert not (out / "INCOMPLETE").exists()
    earlier = ("histograms.root", "summary.json", "plots/score_QCD.png")
    before = {name: (out / name).read_bytes() for name in earlier}

    recreate = uproot.recreate

    def full_disk(path: Any, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(uproot, "recreate", full_disk)
    with pytest.raises(OSError, match="No space left on device") as info:
        write_outputs({**accumulator, "jets": 20}, out, command="jetscale tag a.root")
    failed = out / "histograms.root"
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(failed)
    assert str(info.value) == f"[Errno {errno.ENOSPC}] No space left on device: '{failed}'"

    fields = _marker(out)
    assert fields["command"] == "jetscale tag a.root"
    assert fields["expected outputs"] == "tagger.coffea, histograms.root, summary.json, plots/"
    assert fields["error"] == f"OSError: {info.value}"
    assert fields["written by this run"] == "tagger.coffea"
    assert fields["not written by this run"] == "histograms.root, summary.json, plots/"
    assert fields["stale, from an earlier run"] == (
        "histograms.root, plots/score_QCD.png, summary.json"
    )
    # the earlier files are kept as they were (named stale above), nothing half-written
    assert {name: (out / name).read_bytes() for name in earlier} == before
    assert json.loads((out / "summary.json").read_text())["jets"] == 10
    assert not list(out.rglob(".*"))

    monkeypatch.setattr(uproot, "recreate", recreate)
    written = write_outputs({**accumulator, "jets": 20}, out)
    assert not (out / "INCOMPLETE").exists()
    assert json.loads(Path(written["summary"]).read_text())["jets"] == 20


def test_unwritable_marker_means_nothing_is_written(
    tmp_path: Path, filled: Any, monkeypatch: pytest.MonkeyPatch, plotted: list[dict[str, Any]]
) -> None:
    pytest.importorskip("coffea.util")
    calls: list[Any] = []
    monkeypatch.setattr(outputs, "write_coffea", lambda *args: calls.append(args))
    write = Path.write_text

    def full_disk(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name.startswith(".INCOMPLETE"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="No space left on device") as info:
        write_outputs(dict(filled.histograms), out)
    assert info.value.filename == str(out / "INCOMPLETE")
    assert calls == [] and plotted == []
    assert list(out.iterdir()) == []
