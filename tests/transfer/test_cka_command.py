"""``jetscale cka`` end to end on checkpoints of small models and a small jet file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import pytest

torch = pytest.importorskip("torch")

from jetscale.cli import build_parser, main  # noqa: E402
from jetscale.commands import cka as command  # noqa: E402
from jetscale.io import write_jetclass  # noqa: E402
from jetscale.jobs.cka import DEFAULT_MAX_JETS  # noqa: E402
from jetscale.nn import ModelConfig, build_model  # noqa: E402
from jetscale.train.checkpoint import save_checkpoint  # noqa: E402
from jetscale.transfer.cka import DEFAULT_BATCH_SIZE, ESTIMATORS  # noqa: E402

TINY = ModelConfig(
    d_model=16,
    n_layers=2,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kin",
    max_particles=32,
)


def save_run(directory: Path, config: ModelConfig, seed: int) -> Path:
    """A run directory with ``last.pt`` of an untrained model, in the checkpoint format of training."""
    torch.manual_seed(seed)
    state = {
        "model_config": config.to_dict(),
        "model_state": build_model(config).state_dict(),
        "step": 0,
    }
    save_checkpoint(directory / "last.pt", state)
    return directory


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]
) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("cka")
    other = ModelConfig(**{**TINY.to_dict(), "feature_set": "kinpid", "max_particles": 24})
    return {
        "data": write_jetclass(base / "jets.root", make_jets(260, seed=21, mean_particles=12)),
        "pretrained": save_run(base / "pretrained", TINY, seed=1),
        "scratch": save_run(base / "scratch", other, seed=2),
    }


def test_writes_json_and_heatmap(
    tmp_path: Path, setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["cka", str(setup["pretrained"]), str(setup["scratch"] / "last.pt")]
    argv += ["--data", str(setup["data"]), "--max-jets", "200", "--batch-size", "64"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads((out / "cka.json").read_text())
    layers = ["embed", "block1", "block2", "class_block1", "norm", "logits"]
    assert result["layers_a"] == result["layers_b"] == layers
    assert result["estimator"] == "unbiased" and result["n_jets"] == 200
    assert result["n_batches"] == 3  # 200 jets in minibatches of 64 to 127
    assert result["files"] == [str(setup["data"])]
    a, b = result["models"]["a"], result["models"]["b"]
    assert (a["name"], a["checkpoint"]) == ("pretrained", str(setup["pretrained"] / "last.pt"))
    assert (b["name"], b["feature_set"], b["max_particles"]) == ("scratch", "kinpid", 24)
    assert len(result["matrix"]) == 6 and all(len(row) == 6 for row in result["matrix"])
    assert all(-0.2 < value < 1.0 + 1e-9 for row in result["matrix"] for value in row)
    for name in ("cka.png", "cka.pdf"):
        assert (out / name).stat().st_size > 10_000
    assert not (out / "INCOMPLETE").exists()
    printed = capsys.readouterr().out
    assert "unbiased CKA on 200 jets of 1 file(s), 3 minibatch(es)" in printed
    assert f"wrote {out / 'cka.json'} and 2 plot files" in printed


def test_model_against_itself_and_the_linear_estimator(
    tmp_path: Path, setup: dict[str, Path]
) -> None:
    run = str(setup["pretrained"])
    argv = ["cka", run, run, "--data", str(setup["data"]), "--estimator", "linear"]
    assert main([*argv, "--out", str(tmp_path), "--no-plots"]) == 0
    result = json.loads((tmp_path / "cka.json").read_text())
    assert result["estimator"] == "linear" and result["n_jets"] == 260
    assert [result["matrix"][i][i] for i in range(6)] == pytest.approx([1.0] * 6)
    assert result["models"]["a"]["name"] == "A: pretrained"  # told apart on the figure
    assert not (tmp_path / "cka.png").exists()


def test_a_file_that_is_not_a_checkpoint_is_named(
    tmp_path: Path, setup: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.pt"
    notes.write_text("hello")
    argv = ["cka", str(setup["pretrained"]), str(notes), "--data", str(setup["data"])]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"jetscale cka: error: {notes}: corrupt or unreadable checkpoint")
    assert not (tmp_path / "out").exists()  # refused before anything is written
    argv = ["cka", str(tmp_path), str(setup["pretrained"]), "--data", str(setup["data"])]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert f"{tmp_path}: no best.pt or last.pt" in capsys.readouterr().err


def test_help_explains_every_option_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["cka", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--data", "--max-jets", "--batch-size", "--estimator", "--out", "--names"):
        assert option in text
    for default in ("(default: 10000)", "(default: 256)", "(default: unbiased)", "jetscale-cka"):
        assert default in " ".join(text.split())
    # The command repeats the library's defaults so that --help stays light: they must agree.
    assert (command.MAX_JETS, command.BATCH_SIZE) == (DEFAULT_MAX_JETS, DEFAULT_BATCH_SIZE)
    assert command.ESTIMATORS == ESTIMATORS
