"""``jetscale finetune``: a pretrained backbone fine-tuned through the training loop."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import pytest
import torch

from jetscale.io import write_jetclass
from jetscale.nn import ModelConfig
from jetscale.train import TrainConfig
from jetscale.train.checkpoint import CheckpointError, load_checkpoint
from jetscale.transfer.finetune import LOAD_REPORT_NAME, finetune
from jetscale.transfer.pretrain import backbone_state, pretrain

MODEL = ModelConfig(
    d_model=16,
    n_layers=1,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kinpid",
    max_particles=24,
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]) -> dict:
    """An MPM backbone pretrained on one sample, and a second (labelled) sample to fine-tune on."""
    where = tmp_path_factory.mktemp("finetune")
    pre = write_jetclass(where / "pre.root", make_jets(400, seed=11, mean_particles=10))
    tune = write_jetclass(where / "tune.root", make_jets(300, seed=12, mean_particles=10))
    val = write_jetclass(where / "val.root", make_jets(100, seed=13, mean_particles=10))
    backbone = where / "backbone"
    pretrain(config(pre, val, backbone), "mpm")
    return {"tune": tune, "val": val, "backbone": backbone}


def config(data: Path, val: Path, out: Path, **changes: object) -> TrainConfig:
    base: dict[str, object] = {
        "data": (str(data),),
        "val_data": (str(val),),
        "out": str(out),
        "model": MODEL,
        "batch_size": 64,
        "eval_every": 3,
        "warmup_steps": 1,
        "device": "cpu",
    }
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def trained_state(out: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(out / "last.pt")["model_state"]


def test_a_linear_probe_leaves_the_backbone_as_pretrained(setup: dict, tmp_path: Path) -> None:
    out = tmp_path / "probe"
    line = finetune(config(setup["tune"], setup["val"], out), setup["backbone"], "linear-probe")
    assert line["step"] == 5  # 300 jets / 64
    _, pretrained = backbone_state(setup["backbone"])
    state = trained_state(out)
    for name, tensor in pretrained.items():
        if not name.startswith("head."):
            assert torch.equal(state[name], tensor), name
    report = json.loads((out / LOAD_REPORT_NAME).read_text())
    assert report["policy"] == "linear-probe"
    assert set(report["initialised"]) == {"head.weight", "head.bias"}
    assert len(report["loaded"]) == len(pretrained) - 2 and report["refused"] == []
    described = load_checkpoint(out / "last.pt")["objective"]
    assert described["name"] == "finetune" and described["policy"] == "linear-probe"
    assert len(described["backbone_xxh3_128"]) == 32


def test_full_fine_tuning_moves_the_backbone(setup: dict, tmp_path: Path) -> None:
    out = tmp_path / "full"
    finetune(config(setup["tune"], setup["val"], out), setup["backbone"], "full")
    _, pretrained = backbone_state(setup["backbone"])
    state = trained_state(out)
    assert not torch.equal(
        state["blocks.0.attention.query.weight"], pretrained["blocks.0.attention.query.weight"]
    )


def test_a_backbone_for_other_inputs_is_refused_before_any_step(
    setup: dict, tmp_path: Path
) -> None:
    other = dataclasses.replace(MODEL, feature_set="kin")
    out = tmp_path / "other"
    with pytest.raises(
        ValueError,
        match=r"backbone: the backbone does not fit the model \(feature_set: backbone 'kinpid', model 'kin'\)",
    ):
        finetune(config(setup["tune"], setup["val"], out, model=other), setup["backbone"], "full")
    assert not (out / "last.pt").exists()


def test_a_file_that_is_not_a_backbone_is_named(setup: dict, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk.pt: corrupt or unreadable checkpoint"):
        finetune(config(setup["tune"], setup["val"], tmp_path / "x"), junk, "full")


def test_the_command_line(setup: dict, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    argv = [sys.executable, "-m", "jetscale.cli", "finetune", str(setup["backbone"])]
    argv += ["--data", str(setup["tune"]), "--val-data", str(setup["val"]), "--out", str(out)]
    argv += ["--policy", "layer-decay", "--layer-decay", "0.5", "--batch-size", "100"]
    argv += ["--eval-every", "2", "--warmup-steps", "1"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["step"] == 3
    described = load_checkpoint(out / "last.pt")["objective"]
    assert described["policy"] == "layer-decay" and described["layer_decay"] == 0.5
    assert (out / LOAD_REPORT_NAME).exists()
    # the model options come from the backbone, not from jetscale.nn's defaults
    assert load_checkpoint(out / "last.pt")["model_config"]["d_model"] == 16
