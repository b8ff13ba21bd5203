"""A backbone fine-tuned to a new task exports, passes parity and tags through both processors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from coffea.nanoevents import BaseSchema, NanoAODSchema

from jetscale import schema
from jetscale.export.onnx_export import check_parity, export_run
from jetscale.inference import OnnxTagger
from jetscale.io import write_jetclass
from jetscale.nn import ModelConfig
from jetscale.processors import JetClassTaggerProcessor, NanoAODTaggerProcessor
from jetscale.runner import run_fileset
from jetscale.train import TrainConfig
from jetscale.transfer.finetune import finetune
from jetscale.transfer.pretrain import pretrain

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
MODEL = ModelConfig(
    d_model=16,
    n_layers=1,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kinpid",
    max_particles=24,
)
WITH_X = (*schema.CLASS_NAMES, "Xbb_m60")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]) -> dict:
    where = tmp_path_factory.mktemp("finetuned_export")
    ten = make_jets(300, seed=31, mean_particles=10)  # labels uniform over the ten classes
    x_labels = np.full(120, 10, dtype=np.int32)  # every jet an Xbb_m60 jet
    x_jets = ak.with_field(make_jets(120, seed=32, mean_particles=10), x_labels, "label")
    files = {
        "ten": write_jetclass(where / "ten.root", ten),
        "x": write_jetclass(where / "x.root", x_jets, class_names=WITH_X),
    }
    base = {"model": MODEL, "batch_size": 32, "eval_every": 5, "warmup_steps": 1, "device": "cpu"}
    backbone = where / "backbone"
    pretrain(TrainConfig(data=(str(files["ten"]),), out=str(backbone), **base), "supervised")  # type: ignore[arg-type]
    tuned = where / "tuned"
    task_config = TrainConfig(
        data=(str(files["x"]), str(files["ten"])),
        out=str(tuned),
        task="Xbb_m60,QCD",
        **base,  # type: ignore[arg-type]
    )
    finetune(task_config, backbone, "full")
    paths = export_run(tuned, where / "model" / "model.onnx", with_embedding=True)
    return {"files": files, "ten_labels": ak.to_numpy(ten["label"]), "run": tuned, **paths}


def test_the_export_names_the_task_and_passes_parity(exported: dict) -> None:
    assert check_parity(exported["run"], exported["onnx"]) < 1e-4
    sidecar = json.loads(exported["preprocess"].read_text())["jetscale"]
    assert sidecar["class_names"] == ["Xbb_m60", "QCD"]
    assert sidecar["task"]["classes"] == [
        {"name": "Xbb_m60", "branches": ["label_Xbb_m60"]},
        {"name": "QCD", "branches": ["label_QCD"]},
    ]
    card = json.loads(exported["model_card"].read_text())
    assert card["class_names"] == ["Xbb_m60", "QCD"] and card["task"]["spec"] == "Xbb_m60,QCD"
    tagger = OnnxTagger(exported["onnx"])
    assert tagger.class_names == ("Xbb_m60", "QCD") and tagger.task.spec == "Xbb_m60,QCD"


def test_the_jetclass_processor_fills_the_task_classes(exported: dict) -> None:
    files = exported["files"]
    out = run_fileset(
        {"ten": [str(files["ten"])], "x": [str(files["x"])]},
        JetClassTaggerProcessor(exported["onnx"]),
        treename="tree",
        schema=BaseSchema,
        executor="iterative",
        chunksize=100,
    )
    score = out["score"]
    assert list(score.axes["output"]) == ["Xbb_m60", "QCD"]
    # Jets per true class, counted from the labels written (each jet fills every output once).
    per_class = score[{"output": "QCD"}].project("jet_class")
    counts = dict(zip(per_class.axes[0], per_class.values(), strict=True))
    assert counts["Xbb_m60"] == 120
    labels = exported["ten_labels"]
    for index, name in enumerate(schema.CLASS_NAMES):  # classes outside the task keep their names
        assert counts[name] == int((labels == index).sum()), name


def test_the_nanoaod_processor_runs_the_finetuned_model(exported: dict, nanoaod_dir: Path) -> None:
    path = nanoaod_dir / "nano_tt_v15.root"
    out = run_fileset(
        {"sample": [str(path)]},
        NanoAODTaggerProcessor(exported["onnx"], fmt="nanoaod_v15"),
        treename="Events",
        schema=NanoAODSchema,
        executor="iterative",
        chunksize=100_000,
    )
    assert out["jets"] == {"sample": 42}  # the selected AK8 jets of the shared file
    # Truth from the generator record: QCD is a task class, the tops and Ws keep their names.
    assert out["jets_per_class"] == {"sample": {"QCD": 7, "Wqq": 9, "Tbqq": 3, "unmatched": 23}}
    score = out["score"][{"dataset": "sample", "jet_class": sum}]
    assert list(score.axes["output"]) == ["Xbb_m60", "QCD"]
    # Every selected jet scored once per output, with its event's weight, as in jet_pt.
    jet_weights = out["jet_pt"][{"dataset": "sample", "jet_class": sum}].values(flow=True)
    assert score[{"output": "Xbb_m60"}].values(flow=True).sum() == pytest.approx(jet_weights.sum())
    assert np.isfinite(score.values()).all() and score.values().sum() > 0
    assert list(out["discriminant"].axes["signal"]) == ["Xbb_m60"]
