"""Training on a task: the head follows it, jets outside it are left out and counted, bad tasks fail first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from jetscale.io import write_jetclass  # noqa: E402
from jetscale.nn import ModelConfig  # noqa: E402
from jetscale.schema import CLASS_NAMES  # noqa: E402
from jetscale.train import TrainConfig, train  # noqa: E402
from jetscale.train.checkpoint import load_checkpoint  # noqa: E402

MakeJets = Callable[..., ak.Array]
TINY = ModelConfig(
    d_model=16,
    n_layers=1,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kin",
    max_particles=16,
)


@pytest.fixture(scope="module")
def ten_class_file(
    tmp_path_factory: pytest.TempPathFactory, make_jets: MakeJets
) -> tuple[Path, np.ndarray]:
    jets = make_jets(400, seed=21, mean_particles=10)  # labels uniform over the ten classes
    path = write_jetclass(tmp_path_factory.mktemp("task_training") / "ten.root", jets)
    return path, ak.to_numpy(jets["label"])


def _config(data: Path, out: Path, **changes: object) -> TrainConfig:
    base: dict[str, object] = {
        "data": (str(data),),
        "out": str(out),
        "model": TINY,
        "batch_size": 32,
        "eval_every": 4,
        "warmup_steps": 2,
        "chunk_jets": 100,
        "val_fraction": 0.25,
    }
    return TrainConfig(**(base | changes))  # type: ignore[arg-type]


def test_a_binary_task_trains_a_two_class_head(
    ten_class_file: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, labels = ten_class_file
    config = _config(path, tmp_path / "run", task="Hbb , QCD")
    assert config.task == "Hbb,QCD" and config.model.n_classes == 2
    line = train(config)
    assert set(line["val_auc"]) == {"Hbb"}  # one signal against the task's QCD
    assert set(line["val_rejection50"]) == {"Hbb"}
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    assert state["model_state"]["head.weight"].shape[0] == 2
    assert json.loads((tmp_path / "run" / "config.json").read_text())["task"] == "Hbb,QCD"
    # Jets of the other eight classes, counted by hand from the labels written: every
    # 4th jet of the file is validation (index % 4 == 3), the rest training.
    index = np.arange(len(labels))
    outside = ~np.isin(labels, [0, 1])
    quality = json.loads((tmp_path / "run" / "data_quality.json").read_text())
    assert quality["train"]["jets_outside_task"] == int((outside & (index % 4 != 3)).sum())
    assert quality["val"]["jets_outside_task"] == int((outside & (index % 4 == 3)).sum())
    inside_train = int((~outside & (index % 4 != 3)).sum())
    assert line["jets_seen"] == inside_train  # one epoch over the task's training jets


def test_a_branch_no_file_has_is_named_before_any_step(
    ten_class_file: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, _ = ten_class_file
    with pytest.raises(
        ValueError, match=r"no file has label_Xbb_m60 \(class 'Xbb_m60'\).*ten.root"
    ):
        train(_config(path, tmp_path / "run", task="Xbb_m60,QCD"))
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_class_without_jets_is_named(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(80, seed=22, mean_particles=8)
    jets = ak.with_field(jets, np.where(np.arange(80) % 2 == 0, 0, 8).astype(np.int32), "label")
    path = write_jetclass(tmp_path / "qcd_tbqq.root", jets)  # every branch present, Hbb empty
    with pytest.raises(ValueError, match=r"no jets of Hbb \(label_Hbb\)"):
        train(_config(path, tmp_path / "run", task="Hbb,QCD"))


def test_the_head_size_must_agree_with_the_task(
    ten_class_file: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, _ = ten_class_file
    model = ModelConfig(**(TINY.to_dict() | {"n_classes": 3}))
    with pytest.raises(ValueError, match="n_classes = 3 but task 'Hbb,QCD' has 2 classes"):
        _config(path, tmp_path / "run", task="Hbb,QCD", model=model)


def test_every_task_jet_trains_whatever_the_chunks(tmp_path: Path, make_jets: MakeJets) -> None:
    """Jets outside the task are left out before chunking: each epoch trains on all U task jets."""
    files = []
    for index, label in enumerate((0, 1, 2)):  # per-class files: QCD, Hbb, Hcc
        jets = make_jets(300, seed=40 + index, mean_particles=6)
        jets = ak.with_field(jets, np.full(300, label, dtype=np.int32), "label")
        files.append(str(write_jetclass(tmp_path / f"class{label}.root", jets)))
    config = _config(Path(files[0]), tmp_path / "run", task="Hbb,QCD", epochs=2, chunk_jets=70)
    config = TrainConfig.from_dict(config.to_dict() | {"data": files, "batch_size": 16})
    line = train(config)
    quality = json.loads((tmp_path / "run" / "data_quality.json").read_text())
    trained = 2 * (300 - 75)  # QCD and Hbb, less every 4th jet of each file (validation)
    assert line["jets_seen"] == 2 * trained
    assert quality["train"]["jets_outside_task"] == 300 - 75


def test_unlabelled_jets_of_the_default_task_are_counted_not_planned(
    tmp_path: Path, make_jets: MakeJets
) -> None:
    """A generated X file next to QCD: the ten-class task leaves the X jets out, and plans without them."""
    qcd = ak.with_field(make_jets(200, seed=50, mean_particles=6), np.zeros(200, np.int32), "label")
    x = ak.with_field(
        make_jets(100, seed=51, mean_particles=6), np.full(100, 10, np.int32), "label"
    )
    files = [
        str(write_jetclass(tmp_path / "qcd.root", qcd)),
        str(write_jetclass(tmp_path / "x.root", x, class_names=(*CLASS_NAMES, "Xbb_m60"))),
    ]
    config = TrainConfig.from_dict(
        _config(Path(files[0]), tmp_path / "run").to_dict() | {"data": files, "epochs": 1}
    )
    line = train(config)
    assert line["jets_seen"] == 150  # the QCD jets less every 4th: no X jet, no empty step
    assert line["epoch"] == 1.0
