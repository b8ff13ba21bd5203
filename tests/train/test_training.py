"""Training: schedule, metrics, determinism, repetition, resume after SIGKILL, and bad input."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from jetscale.io import JetFileError, write_jetclass  # noqa: E402
from jetscale.nn import ModelConfig  # noqa: E402
from jetscale.train import TrainConfig, train  # noqa: E402
from jetscale.train.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from jetscale.train.loop import TrainingError  # noqa: E402
from jetscale.train.schedule import get_lr, warmup_warning  # noqa: E402

MakeJets = Callable[..., ak.Array]
TINY = ModelConfig(
    d_model=16,
    n_layers=1,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kin",
    max_particles=32,
)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory, make_jets: MakeJets) -> Path:
    jets = make_jets(600, seed=11, mean_particles=15)
    return write_jetclass(tmp_path_factory.mktemp("train") / "jets.root", jets)


def config(data: Path, out: Path, **changes: object) -> TrainConfig:
    base: dict[str, object] = {
        "data": (str(data),),
        "out": str(out),
        "model": TINY,
        "epochs": 2,
        "batch_size": 50,
        "eval_every": 5,
        "warmup_steps": 3,
        "lr": 3e-3,
        "chunk_jets": 200,
    }
    base.update(changes)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_schedule_by_hand() -> None:
    assert get_lr(0, 100, 1.0, 10, 0.1) == pytest.approx(0.1)  # (0 + 1) / 10
    assert get_lr(9, 100, 1.0, 10, 0.1) == pytest.approx(1.0)
    assert get_lr(10, 100, 1.0, 10, 0.1) == pytest.approx(1.0)  # cosine starts at the peak
    assert get_lr(55, 100, 1.0, 10, 0.1) == pytest.approx(
        0.1 + 0.9 * 0.5
    )  # half way: cos(pi/2) = 0
    assert get_lr(100, 100, 1.0, 10, 0.1) == pytest.approx(0.1)


def test_warmup_warning_names_a_warm_up_longer_than_the_run() -> None:
    assert warmup_warning(22, 100, 1e-3) == (
        "the warm-up (100 steps) is longer than the run (22 steps): the learning rate rises "
        "to 0.00022 of its peak 0.001 and never decays; lower --warmup-steps (to 2, say) or "
        "train longer"
    )
    assert get_lr(21, 22, 1e-3, 100, 0.1) == pytest.approx(2.2e-4)  # the last step's, as said
    assert "takes 60% of the run (100 steps), leaving 40 steps" in str(warmup_warning(100, 60, 1.0))
    assert warmup_warning(100, 50, 1.0) is None  # half the run: still fine
    assert warmup_warning(1000, 0, 1.0) is None


def test_progress_line() -> None:
    from jetscale.train.loop import progress_line

    assert progress_line(120, 900, 1.23456, 8e-4, 523.4, 42, 3671) == (
        "step 120/900 (13%) | loss 1.2346 | lr 8.00e-04 | 523 jets/s | 0:42 elapsed | ETA 1:01:11"
    )
    evaluation = {"val_loss": 1.1, "best_val_loss": 1.05}
    assert progress_line(9, 900, 1.0, 1e-3, 2e4, 1, 0, evaluation).endswith(
        "| 20,000 jets/s | 0:01 elapsed | ETA 0:00 | val_loss 1.1000 (best 1.0500)"
    )


def test_a_run_reports_progress_warns_and_records_its_provenance(
    tmp_path: Path,
    data_file: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jetscale.provenance import provenance
    from jetscale.train import loop

    monkeypatch.setattr(loop, "PROGRESS_EVERY_S", 0.0)  # a line after every step
    caplog.set_level(logging.INFO, logger="jetscale.progress")
    run = config(data_file, tmp_path / "run", epochs=1, warmup_steps=100, eval_every=4)
    line = train(run)
    total = line["step"]
    progress = [r.getMessage() for r in caplog.records if r.name == "jetscale.progress.train"]
    assert progress[0].startswith(f"{tmp_path / 'run'}: {total} steps (1 epoch(s) of {total})")
    steps = [m for m in progress[1:] if m.startswith("step ")]
    assert [m.split()[1] for m in steps] == [f"{k}/{total}" for k in range(1, total + 1)]
    assert all(" jets/s | " in m and " | ETA " in m for m in steps)
    assert [m for m in steps if "val_loss" in m] == [steps[3], steps[7], steps[-1]]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{tmp_path / 'run'}: {warmup_warning(total, 100, 3e-3)}"]

    starts = json.loads((tmp_path / "run" / "provenance.json").read_text())["starts"]
    assert starts == [{"step": 0, **provenance(seeds={"train": 1})}]
    assert load_checkpoint(tmp_path / "run" / "last.pt")["provenance"] == provenance(
        seeds={"train": 1}
    )

    caplog.clear()
    assert train(run) == line  # a finished run: returned as it is, and said so
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert message.startswith(f"{tmp_path / 'run'} is already complete (step {total} of {total})")
    assert "use another --out" in message
    assert not [r for r in caplog.records if r.name == "jetscale.progress.train"]

    with pytest.raises(CheckpointError, match=r"\(changed: epochs: 1 -> 2; lr: 0.003 -> 0.001\)"):
        train(config(data_file, tmp_path / "run", epochs=2, lr=1e-3, warmup_steps=100))


def test_deterministic_and_counts_repetition(tmp_path: Path, data_file: Path) -> None:
    a = train(config(data_file, tmp_path / "a", max_jets=300, epochs=3))
    b = train(config(data_file, tmp_path / "b", max_jets=300, epochs=3))
    state_a = load_checkpoint(tmp_path / "a" / "last.pt")["model_state"]
    state_b = load_checkpoint(tmp_path / "b" / "last.pt")["model_state"]
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert a["val_loss"] == b["val_loss"]
    # U = 300 unique jets, 3 epochs: exactly 900 jets seen in 3 * ceil(300 / 50) steps
    assert a["jets_seen"] == 900 and a["step"] == 18 and a["epoch"] == 3.0
    saved = json.loads((tmp_path / "a" / "config.json").read_text())
    assert saved["max_jets"] == 300 and saved["epochs"] == 3
    lines = [
        json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [line["step"] for line in lines] == [5, 10, 15, 18]
    for key in (
        "jets_seen",
        "flops",
        "flops_6nd",
        "train_loss",
        "val_loss",
        "val_accuracy",
        "val_auc",
        "wall_time_s",
    ):
        assert key in lines[-1]
    assert lines[-1]["flops"] > lines[0]["flops"] > 0


@pytest.mark.slow
def test_learns_separable_classes(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(800, seed=4, mean_particles=10)
    # class 1 ("Hbb") jets get wide constituents, class 0 ("QCD") narrow ones: learnable from deltaR
    label = np.random.default_rng(0).integers(0, 2, 800)
    wide = ak.Array(np.where(label == 1, 3.0, 0.5))
    consts = jets.constituents
    jets = ak.with_field(jets, label.astype(np.int32), "label")
    jets = ak.with_field(jets, consts.deta * wide, ["constituents", "deta"])
    jets = ak.with_field(jets, consts.dphi * wide, ["constituents", "dphi"])
    path = write_jetclass(tmp_path / "sep.root", jets)
    line = train(config(path, tmp_path / "run", epochs=8, eval_every=1000, lr=5e-3))
    assert line["val_auc"]["Hbb"] > 0.95
    assert line["val_loss"] < 0.3


@pytest.mark.slow
@pytest.mark.timeout(900)  # 150 s on a busy 2-core machine
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path: Path, data_file: Path) -> None:
    argv = [
        sys.executable,
        "-m",
        "jetscale.cli",
        "train",
        "--data",
        str(data_file),
        "--feature-set",
        "kin",
    ]
    argv += [
        "--max-particles",
        "32",
        "--d-model",
        "16",
        "--layers",
        "1",
        "--heads",
        "2",
        "--class-layers",
        "1",
    ]
    argv += [
        "--ff-ratio",
        "2",
        "--epochs",
        "6",
        "--batch-size",
        "50",
        "--eval-every",
        "2",
        "--seed",
        "3",
    ]
    subprocess.run([*argv, "--out", str(tmp_path / "whole")], check=True, capture_output=True)

    process = subprocess.Popen(
        [*argv, "--out", str(tmp_path / "killed")], stdout=subprocess.DEVNULL
    )
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    interrupted_at = load_checkpoint(tmp_path / "killed" / "last.pt")["step"]
    total = 6 * math.ceil(540 / 50)  # 600 jets less every 10th held out, 6 epochs
    assert 0 < interrupted_at < total  # really interrupted mid-run

    subprocess.run([*argv, "--out", str(tmp_path / "killed")], check=True, capture_output=True)
    whole = load_checkpoint(tmp_path / "whole" / "last.pt")
    resumed = load_checkpoint(tmp_path / "killed" / "last.pt")
    assert resumed["step"] == whole["step"] == total
    assert all(
        torch.equal(whole["model_state"][k], resumed["model_state"][k])
        for k in whole["model_state"]
    )
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert steps == sorted(set(steps))  # no duplicated evaluation lines after the resume
    starts = json.loads((tmp_path / "killed" / "provenance.json").read_text())["starts"]
    assert [start["step"] for start in starts] == [0, interrupted_at]  # each process that trained
    assert starts[1]["seeds"] == {"train": 3} and starts[1]["command_line"][1:3] == [
        "train",
        "--data",
    ]

    # Running a finished run again changes nothing, reports its last evaluation and says so.
    before = metrics.read_text()
    again = subprocess.run(
        [*argv, "--out", str(tmp_path / "killed")], check=True, capture_output=True, text=True
    )
    assert metrics.read_text() == before
    assert f"{tmp_path / 'killed'} is already complete (step {total} of {total})" in again.stderr
    assert "jetscale train: step" not in again.stderr  # no progress lines: nothing trained


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path, data_file: Path) -> None:
    with pytest.raises(
        TrainingError, match=r"non-finite training loss .* last good checkpoint is .*last.pt"
    ):
        train(
            config(
                data_file,
                tmp_path / "nan",
                lr=1e9,
                warmup_steps=1,
                eval_every=1,
                grad_clip=1e12,
                epochs=5,
            )
        )
    state = load_checkpoint(tmp_path / "nan" / "last.pt")
    assert all(torch.isfinite(v).all() for v in state["model_state"].values())


def test_bad_checkpoints_and_mismatched_configs(tmp_path: Path, data_file: Path) -> None:
    run = tmp_path / "run"
    train(config(data_file, run, epochs=1))
    wider = ModelConfig(d_model=32, n_layers=1, n_heads=2, feature_set="kin", max_particles=32)
    changed = "model.d_model: 16 -> 32; model.ff_ratio: 2 -> 4; model.n_class_layers: 1 -> 2"
    with pytest.raises(CheckpointError, match=rf"different configuration \(changed: {changed}\)"):
        train(config(data_file, run, epochs=1, model=wider))
    (run / "last.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=r"last.pt: corrupt or unreadable checkpoint"):
        train(config(data_file, run, epochs=1))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_feature_set_the_file_cannot_provide(tmp_path: Path, data_file: Path) -> None:
    import uproot

    arrays = uproot.open(data_file)["tree"].arrays(library="ak")
    track = {"part_d0val", "part_d0err", "part_dzval", "part_dzerr"}
    parts = {
        k.removeprefix("part_"): arrays[k]
        for k in arrays.fields
        if k.startswith("part_") and k not in track
    }
    keep = {k: arrays[k] for k in arrays.fields if k != "npart" and not k.startswith("part_")}
    keep["part"] = ak.zip(parts)
    path = tmp_path / "no_tracks.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "tree", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in keep.items()}
        ).extend(keep)
    full = ModelConfig(d_model=16, n_layers=1, n_heads=2, feature_set="full", max_particles=32)
    with pytest.raises(JetFileError, match=r"no_tracks.root: branch 'part_d0val': branch missing"):
        train(config(path, tmp_path / "run", model=full))


def test_config_file_and_cli_overrides(tmp_path: Path, data_file: Path) -> None:
    from jetscale.cli import main

    config_file = tmp_path / "run.toml"
    config_file.write_text(
        f'data = ["{data_file}"]\nout = "{tmp_path / "ignored"}"\nepochs = 1\nbatch_size = 100\n'
        '[model]\nd_model = 16\nn_layers = 1\nn_heads = 2\nfeature_set = "kin"\nmax_particles = 16\n'
    )
    assert (
        main(
            [
                "train",
                "--config",
                str(config_file),
                "--out",
                str(tmp_path / "cli"),
                "--max-jets",
                "200",
            ]
        )
        == 0
    )
    saved = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert (
        saved["max_jets"] == 200
        and saved["model"]["max_particles"] == 16
        and saved["batch_size"] == 100
    )
    assert math.isfinite(
        json.loads((tmp_path / "cli" / "metrics.jsonl").read_text().splitlines()[-1])["val_loss"]
    )
    assert (
        main(["train", "--config", str(config_file), "--out", str(tmp_path / "cli"), "--no-resume"])
        == 2
    )


def test_gpu_out_of_memory_is_reported_and_keeps_the_checkpoint(
    tmp_path: Path, data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No GPU here: inject the exception torch raises on a CUDA OOM into the 13th forward pass.
    from jetscale.train import objective

    real_build = objective.build_model
    calls = {"n": 0}

    def build_with_oom(model_config: ModelConfig) -> torch.nn.Module:
        model = real_build(model_config)

        def hook(module: torch.nn.Module, args: object) -> None:
            if module.training:
                calls["n"] += 1
                if calls["n"] == 13:
                    raise torch.cuda.OutOfMemoryError(
                        "CUDA out of memory. Tried to allocate 2.00 GiB"
                    )

        model.register_forward_pre_hook(hook)
        return model

    monkeypatch.setattr(objective, "build_model", build_with_oom)
    with pytest.raises(TrainingError, match=r"out of GPU memory at step 12 .* lower --batch-size"):
        train(config(data_file, tmp_path / "oom", eval_every=5))
    assert load_checkpoint(tmp_path / "oom" / "last.pt")["step"] == 10


def test_a_run_started_in_another_data_order_is_not_resumed(
    tmp_path: Path, data_file: Path
) -> None:
    """A checkpoint from before the interleaved stream (no ``data_order``) would train on other jets."""
    import torch

    from jetscale.train.checkpoint import save_checkpoint
    from jetscale.train.loop import LAST

    run = config(data_file, tmp_path / "run", eval_every=1)
    train(run, stop_after_steps=2)
    checkpoint = load_checkpoint(tmp_path / "run" / LAST)
    assert checkpoint["data_order"] == "interleaved-1"
    del checkpoint["data_order"]  # as jetscale wrote it before
    save_checkpoint(tmp_path / "run" / LAST, checkpoint)
    with pytest.raises(CheckpointError, match=r"ordered the training jets differently"):
        train(run)
    assert torch.load(tmp_path / "run" / LAST, weights_only=True)["step"] == 2  # kept
