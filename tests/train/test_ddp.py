"""torchrun with two CPU processes (gloo) equals one process with the doubled batch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import pytest

torch = pytest.importorskip("torch")

from jetscale.io import write_jetclass  # noqa: E402
from jetscale.train.checkpoint import load_checkpoint  # noqa: E402

MODEL = [
    "--feature-set",
    "kin",
    "--max-particles",
    "32",
    "--d-model",
    "16",
    "--layers",
    "1",
    "--heads",
    "2",
]
MODEL += [
    "--class-layers",
    "1",
    "--ff-ratio",
    "2",
    "--epochs",
    "2",
    "--eval-every",
    "100",
    "--seed",
    "4",
]


@pytest.mark.slow
@pytest.mark.dask  # a multi-process test, like the dask ones
def test_two_process_ddp_matches_single_process(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    synthetic_jets = make_jets
    # 600 jets, every 10th held out: 540 training jets = 18 batches of 30 = 9 batches of 60
    data = write_jetclass(tmp_path / "jets.root", synthetic_jets(600, seed=21, mean_particles=12))
    common = ["train", "--data", str(data), *MODEL]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jetscale.cli",
            *common,
            "--batch-size",
            "60",
            "--out",
            str(tmp_path / "one"),
        ],
        check=True,
        capture_output=True,
    )
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--standalone",  # a free port: another run on the machine may hold any fixed one
    ]
    subprocess.run(
        [
            *torchrun,
            "-m",
            "jetscale.cli",
            *common,
            "--batch-size",
            "30",
            "--out",
            str(tmp_path / "two"),
        ],
        check=True,
        capture_output=True,
    )
    one = load_checkpoint(tmp_path / "one" / "last.pt")
    two = load_checkpoint(tmp_path / "two" / "last.pt")
    assert one["step"] == two["step"] == 18  # 9 steps per epoch, 2 epochs
    assert one["jets_seen"] == two["jets_seen"] == 1080
    for key, value in one["model_state"].items():
        torch.testing.assert_close(two["model_state"][key], value, atol=2e-5, rtol=1e-4)
