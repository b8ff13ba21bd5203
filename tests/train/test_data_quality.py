"""``jetscale train`` reports what the readers dropped: one epoch's counts, in the run directory."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("torch")

from jetscale.cli import main
from jetscale.io import write_jetclass
from jetscale.nn import ModelConfig
from jetscale.train import TrainConfig, train
from jetscale.train.data_quality import DATA_QUALITY_NAME

MakeJets = Callable[..., ak.Array]
MODEL = ["--feature-set", "kin", "--max-particles", "16", "--d-model", "8", "--layers", "1"]
MODEL += ["--heads", "2", "--class-layers", "1", "--ff-ratio", "2"]
NAN_JETS = (10, 11, 12)  # the first constituent of each gets px = NaN
BAD_PT = {20: 0.0, 21: -5.0}  # jet pT <= 0


def with_problems(jets: ak.Array) -> ak.Array:
    counts = ak.to_numpy(ak.num(jets.constituents))
    px = ak.to_numpy(ak.flatten(jets.constituents.px)).copy()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    px[starts[list(NAN_JETS)]] = np.nan
    jets = ak.with_field(jets, ak.unflatten(px, counts), ["constituents", "px"])
    pt = ak.to_numpy(jets.pt).copy()
    for index, value in BAD_PT.items():
        pt[index] = value
    return ak.with_field(jets, pt, "pt")


def test_train_counts_one_epoch_of_planted_problems(
    tmp_path: Path,
    make_jets: MakeJets,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    jets = make_jets(100, seed=5, mean_particles=8)
    counts = ak.to_numpy(ak.num(jets.constituents))
    train_file = write_jetclass(tmp_path / "train.root", with_problems(jets))
    val_jets = make_jets(30, seed=6, mean_particles=8)
    energy = ak.to_numpy(ak.flatten(val_jets.constituents.energy)).copy()
    energy[4] = -1.0
    val_counts = ak.num(val_jets.constituents)
    val_jets = ak.with_field(val_jets, ak.unflatten(energy, val_counts), ["constituents", "energy"])
    val_file = write_jetclass(tmp_path / "val.root", val_jets)
    run = tmp_path / "run"
    # Two epochs, the first interrupted: the counts are still one pass over each set.
    model = ModelConfig(
        d_model=8,
        n_layers=1,
        n_heads=2,
        ff_ratio=2,
        n_class_layers=1,
        feature_set="kin",
        max_particles=16,
    )
    config = TrainConfig(
        data=(str(train_file),),
        val_data=(str(val_file),),
        out=str(run),
        model=model,
        epochs=2,
        batch_size=25,
        eval_every=100,
    )
    train(config, stop_after_steps=2)  # half of the first epoch: nothing counted in full yet
    assert not (run / DATA_QUALITY_NAME).exists()
    argv = ["train", "--data", str(train_file), "--val-data", str(val_file), "--out", str(run)]
    argv += [*MODEL, "--epochs", "2", "--batch-size", "25", "--eval-every", "100"]
    with caplog.at_level(logging.WARNING, logger="jetscale.train"):
        assert main(argv) == 0
    record = json.loads((run / DATA_QUALITY_NAME).read_text())
    train_counts = {k: v for k, v in record["train"].items() if k != "problems"}
    assert train_counts == {
        "files": [str(train_file)],
        "jets_read": 100,
        "jets_dropped": len(BAD_PT),
        "constituents_read": int(counts.sum()),
        "constituents_dropped": len(NAN_JETS),
        "empty_jets": int(sum(counts[i] == 1 for i in NAN_JETS)),
        "jets_outside_task": 0,  # every jet is one of the ten classes
        "single_view_groups": 0,  # not a contrastive run
    }
    assert record["train"]["problems"] == {
        f"{train_file}: jet_pt: pt <= 0": len(BAD_PT),
        f"{train_file}: part_px: non-finite value": len(NAN_JETS),
    }
    assert record["val"]["jets_read"] == 30 and record["val"]["jets_dropped"] == 0
    assert record["val"]["constituents_read"] == int(ak.sum(val_counts))
    assert record["val"]["problems"] == {f"{val_file}: part_energy: energy <= 0": 1}
    assert record["val_held_out_from_train"] is False

    line = (
        f"training data: 2 of 100 jets and 3 of {counts.sum()} constituents dropped as "
        f"unphysical; validation data: 0 of 30 jets and 1 of {ak.sum(val_counts)} constituents "
        "dropped as unphysical"
    )
    err = capsys.readouterr().err
    assert f"jetscale train: {line} (details in {run / DATA_QUALITY_NAME})\n" in err
    assert any(line in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_clean_data_is_recorded_and_not_reported(
    tmp_path: Path, make_jets: MakeJets, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jetclass(tmp_path / "clean.root", make_jets(60, seed=8, mean_particles=8))
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--out", str(run), *MODEL, "--batch-size", "30"]
    assert main(argv) == 0
    record = json.loads((run / DATA_QUALITY_NAME).read_text())
    # The validation jets are every 10th of the same file: each set's pass reads all 60.
    assert record["val_held_out_from_train"] is True
    assert record["train"]["jets_read"] == record["val"]["jets_read"] == 60
    assert record["train"]["jets_dropped"] == record["train"]["constituents_dropped"] == 0
    assert record["train"]["problems"] == record["val"]["problems"] == {}
    assert "dropped" not in capsys.readouterr().err
