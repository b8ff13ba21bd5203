"""``jetscale pretrain``: masked particle modelling through the training loop, and its backbone."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

from jetscale.io import write_jetclass
from jetscale.nn import ModelConfig, build_model
from jetscale.train import TrainConfig, train
from jetscale.train.checkpoint import CheckpointError, load_checkpoint
from jetscale.transfer.pretrain import BACKBONE_NAME, backbone_state, pretrain

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
def files(tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]) -> dict:
    """A labelled file, the same jets without label branches, and validation jets."""
    where = tmp_path_factory.mktemp("pretrain")
    labelled = write_jetclass(where / "train.root", make_jets(600, seed=1, mean_particles=10))
    arrays = uproot.open(labelled)["tree"].arrays()
    unlabelled = where / "unlabelled.root"
    with uproot.recreate(unlabelled) as file:
        part = [f for f in arrays.fields if f.startswith("part_")]
        keep = [f for f in arrays.fields if f not in part and f != "npart" and "label" not in f]
        data = {"part": ak.zip({f[5:]: arrays[f] for f in part}), **{f: arrays[f] for f in keep}}
        file.mktree("tree", {k: v.type for k, v in data.items()}).extend(data)
    val = write_jetclass(where / "val.root", make_jets(150, seed=2, mean_particles=10))
    return {"labelled": labelled, "unlabelled": unlabelled, "val": val}


def config(data: Path, val: Path, out: Path, **changes: object) -> TrainConfig:
    base: dict[str, object] = {
        "data": (str(data),),
        "val_data": (str(val),),
        "out": str(out),
        "model": MODEL,
        "batch_size": 64,
        "eval_every": 4,
        "warmup_steps": 2,
        "epochs": 2,
        "device": "cpu",
    }
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_mpm_pretrains_on_unlabelled_jets_and_describes_its_backbone(
    files: dict, tmp_path: Path
) -> None:
    run = config(files["unlabelled"], files["val"], tmp_path / "mpm")
    line = pretrain(run, "mpm")
    assert line["step"] == 2 * 10  # 600 jets / 64 = 10 steps per epoch, 2 epochs
    assert np.isfinite(line["val_mpm_loss"]) and line["val_loss"] == line["val_mpm_loss"]
    assert "val_accuracy" not in line  # no classes were learned
    metrics = [
        json.loads(x) for x in (tmp_path / "mpm" / "metrics.jsonl").read_text().split("\n") if x
    ]
    assert metrics[-1]["val_mpm_loss"] < metrics[0]["val_mpm_loss"]  # it learns something
    described = json.loads((tmp_path / "mpm" / BACKBONE_NAME).read_text())
    assert described["objective"]["name"] == "mpm" and described["objective"]["fraction"] == 0.35
    assert described["model"]["feature_set"] == "kinpid"
    assert described["data"][0]["file"] == str(Path(files["unlabelled"]).resolve())
    assert len(described["data"][0]["xxh3_128"]) == 32
    assert load_checkpoint(tmp_path / "mpm" / "last.pt")["objective"]["name"] == "mpm"


def test_a_supervised_objective_refuses_unlabelled_files(files: dict, tmp_path: Path) -> None:
    run = config(files["unlabelled"], files["val"], tmp_path / "sup")
    with pytest.raises(
        ValueError, match=r"training needs labelled jets; without label_\* branches"
    ):
        pretrain(run, "supervised+mpm")


def test_an_interrupted_mpm_run_resumes_to_the_same_weights(files: dict, tmp_path: Path) -> None:
    whole = config(files["unlabelled"], files["val"], tmp_path / "whole")
    pretrain(whole, "mpm")
    parts = config(files["unlabelled"], files["val"], tmp_path / "parts")
    pretrain(parts, "mpm", stop_after_steps=7)  # as if killed after step 7
    pretrain(parts, "mpm")
    a = load_checkpoint(tmp_path / "whole" / "last.pt")["model_state"]
    b = load_checkpoint(tmp_path / "parts" / "last.pt")["model_state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_the_backbone_reloads_with_identical_outputs(files: dict, tmp_path: Path) -> None:
    run = config(files["labelled"], files["val"], tmp_path / "both", epochs=1)
    line = pretrain(run, "supervised+mpm")
    assert line["val_loss"] == pytest.approx(line["val_mpm_loss"] + line["val_supervised_loss"])
    assert 0.0 <= line["val_accuracy"] <= 1.0
    model_config, state = backbone_state(tmp_path / "both")
    backbone = build_model(model_config)
    backbone.load_state_dict(state)  # every tensor, by its own name
    checkpoint = load_checkpoint(tmp_path / "both" / "best.pt")
    prefix = "mpm.backbone."
    assert set(state) == {
        k[len(prefix) :] for k in checkpoint["model_state"] if k.startswith(prefix)
    }
    again = build_model(model_config)
    again.load_state_dict(backbone_state(tmp_path / "both" / "best.pt")[1])
    x = torch.randn(5, MODEL.max_particles, MODEL.n_features)
    mask = torch.arange(MODEL.max_particles)[None, :] < torch.tensor([[3], [24], [1], [10], [7]])
    backbone.eval()
    again.eval()
    assert torch.equal(backbone(x, mask), again(x, mask))


def test_a_run_is_resumed_only_with_its_objective(files: dict, tmp_path: Path) -> None:
    run = config(files["labelled"], files["val"], tmp_path / "run", eval_every=1)
    train(run, stop_after_steps=2)  # supervised, checkpointed at step 2
    changed = r"objective.decoder_layers: \(absent\) -> 1; .*objective.name: 'supervised' -> 'mpm'"
    with pytest.raises(
        CheckpointError, match=rf"started with another objective \(changed: {changed}"
    ):
        pretrain(run, "mpm")


def test_the_command_line(files: dict, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    argv = [sys.executable, "-m", "jetscale.cli", "pretrain", "--data", str(files["unlabelled"])]
    argv += ["--val-data", str(files["val"]), "--out", str(out), "--objective", "mpm"]
    argv += ["--feature-set", "kin", "--max-particles", "16", "--d-model", "16", "--layers", "1"]
    argv += ["--heads", "2", "--class-layers", "1", "--batch-size", "128", "--epochs", "1"]
    argv += ["--eval-every", "2", "--mpm-fraction", "0.3", "--mpm-loss", "huber"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads(result.stdout)
    assert line["step"] == 5 and np.isfinite(line["val_mpm_regression"])
    described = json.loads((out / BACKBONE_NAME).read_text())["objective"]
    assert described == {"name": "mpm", "fraction": 0.3, "regression": "huber", "decoder_layers": 1}


def test_mpm_flops_match_torch_s_own_count() -> None:
    """torch's FlopCounterMode counts every matrix product but not the fused attention kernel:
    add the attention (2 x 2 n^2 d per self-attention block, encoder and decoder) by hand."""
    from torch.utils.flop_counter import FlopCounterMode

    from jetscale.transfer.pretrain import MaskedObjective

    config = ModelConfig(d_model=16, n_layers=2, n_heads=2, ff_ratio=2, feature_set="kinpid")
    config = ModelConfig(**{**config.to_dict(), "max_particles": 24, "n_class_layers": 1})
    n, d = 24, 16
    for objective in (MaskedObjective(), MaskedObjective(with_supervised=True, decoder_layers=2)):
        module = objective.build(config)
        x = torch.randn(3, n, config.n_features)
        mask = torch.ones(3, n, dtype=torch.bool)
        hidden = torch.zeros(3, n, dtype=torch.bool)
        hidden[:, :5] = True
        with FlopCounterMode(display=False) as counter:
            module(x, mask, hidden, objective.with_supervised)
        blocks = config.n_layers + objective.decoder_layers
        attention = blocks * 4 * n * n * d
        if objective.with_supervised:  # the tagger's own pass: its blocks and class block
            attention += config.n_layers * 4 * n * n * d + 4 * (n + 1) * d
        counted = counter.get_total_flops() / 3 + attention
        assert objective.forward_flops(config, n) == pytest.approx(counted, rel=1e-12)


@pytest.mark.slow
@pytest.mark.dask  # a multi-process test, like the dask ones
def test_mpm_pretrains_on_two_processes(files: dict, tmp_path: Path) -> None:
    """torchrun with 2 processes: MPM's unused class blocks do not stop DDP."""
    out = tmp_path / "ddp"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    argv = [*torchrun, "-m", "jetscale.cli", "pretrain", "--data", str(files["unlabelled"])]
    argv += ["--val-data", str(files["val"]), "--out", str(out), "--objective", "mpm"]
    argv += ["--feature-set", "kin", "--max-particles", "16", "--d-model", "16", "--layers", "1"]
    argv += ["--heads", "2", "--class-layers", "1", "--batch-size", "64", "--epochs", "1"]
    argv += ["--eval-every", "2"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    state = load_checkpoint(out / "last.pt")
    assert state["step"] == 5  # as one process with batches of 128 (test_the_command_line)
    assert all(torch.isfinite(v).all() for v in state["model_state"].values())
