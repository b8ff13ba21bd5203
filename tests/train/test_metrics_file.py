"""metrics.jsonl agrees with the checkpoint on every start, whatever state a kill left it in.

The kill states are written by hand: a line with no checkpoint (killed while
saving the first one), a torn last line (killed mid-write), a damaged middle
line, and the lines of a previous run when starting over.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import pytest

torch = pytest.importorskip("torch")

from jetscale.io import write_jetclass  # noqa: E402
from jetscale.nn import ModelConfig  # noqa: E402
from jetscale.train import TrainConfig, train  # noqa: E402
from jetscale.train.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from jetscale.train.metrics_file import reconcile_metrics  # noqa: E402

TINY = ModelConfig(
    d_model=8,
    n_layers=1,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kin",
    max_particles=16,
)
STEPS = [2, 4, 6]  # 120 jets less every 10th held out = 108 = 6 batches of 20; eval every 2


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]) -> Path:
    return write_jetclass(
        tmp_path_factory.mktemp("metrics") / "jets.root", make_jets(120, seed=7, mean_particles=8)
    )


def config(data: Path, out: Path) -> TrainConfig:
    return TrainConfig(
        data=(str(data),),
        out=str(out),
        model=TINY,
        batch_size=20,
        eval_every=2,
        warmup_steps=1,
        chunk_jets=60,
    )


def lines(path: Path) -> list[dict[str, Any]]:
    """The file's lines, without wall time (the one thing two identical runs differ in)."""
    parsed = [json.loads(text) for text in path.read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "wall_time_s"} for line in parsed]


@pytest.fixture(scope="module")
def uninterrupted(
    data_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("whole")
    train(config(data_file, out))
    whole = lines(out / "metrics.jsonl")
    assert [line["step"] for line in whole] == STEPS
    return whole


def test_a_line_without_its_first_checkpoint_is_not_duplicated(
    tmp_path: Path, data_file: Path, uninterrupted: list[dict[str, Any]]
) -> None:
    # Killed while saving the first checkpoint: its metrics line is written, last.pt is not.
    tmp_path.joinpath("metrics.jsonl").write_text(json.dumps({"step": 2, "val_loss": 99.0}) + "\n")
    train(config(data_file, tmp_path))
    assert lines(tmp_path / "metrics.jsonl") == uninterrupted


def test_a_torn_last_line_is_trimmed_with_a_warning(
    tmp_path: Path,
    data_file: Path,
    uninterrupted: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    train(config(data_file, tmp_path), stop_after_steps=4)
    metrics = tmp_path / "metrics.jsonl"
    assert [line["step"] for line in lines(metrics)] == [2, 4]
    with metrics.open("a") as handle:
        handle.write('{"step": 6, "epoch": 1.0, "jets_se')  # killed mid-write
    with caplog.at_level(logging.WARNING, logger="jetscale.train"):
        train(config(data_file, tmp_path))
    assert f"{metrics}: line 3 is incomplete" in caplog.text
    assert lines(metrics) == uninterrupted


def test_a_damaged_middle_line_stops_the_resume_and_keeps_the_file(
    tmp_path: Path, data_file: Path
) -> None:
    train(config(data_file, tmp_path), stop_after_steps=4)
    metrics = tmp_path / "metrics.jsonl"
    first, second = metrics.read_text().splitlines()
    damaged = f"{first}\n{{not json\n{second}\n"
    metrics.write_text(damaged)
    with pytest.raises(CheckpointError, match=rf"^{metrics}: line 2 is not valid JSON"):
        train(config(data_file, tmp_path))
    assert metrics.read_text() == damaged  # nothing dropped silently


def test_starting_over_drops_the_previous_run(
    tmp_path: Path, data_file: Path, uninterrupted: list[dict[str, Any]]
) -> None:
    train(config(data_file, tmp_path))
    # resume=False used to append a second run's lines to the first's. Stopped before
    # its first checkpoint, the directory must not resume the old run against new lines.
    train(config(data_file, tmp_path), resume=False, stop_after_steps=1)
    assert lines(tmp_path / "metrics.jsonl") == []
    assert not (tmp_path / "last.pt").exists() and not (tmp_path / "best.pt").exists()
    train(config(data_file, tmp_path))
    assert lines(tmp_path / "metrics.jsonl") == uninterrupted
    assert load_checkpoint(tmp_path / "last.pt")["step"] == STEPS[-1]


def test_starting_over_with_another_configuration_is_allowed(
    tmp_path: Path, data_file: Path
) -> None:
    """resume=False means start over: the previous run's configuration once refused it."""
    train(config(data_file, tmp_path))
    changed = dataclasses.replace(config(data_file, tmp_path), lr=5e-4)
    final = train(changed, resume=False)
    assert json.loads((tmp_path / "config.json").read_text())["lr"] == 5e-4
    assert final["step"] == STEPS[-1]
    assert [line["step"] for line in lines(tmp_path / "metrics.jsonl")] == STEPS


def test_a_finished_run_with_a_torn_line_reports_its_last_evaluation(
    tmp_path: Path, data_file: Path, uninterrupted: list[dict[str, Any]]
) -> None:
    train(config(data_file, tmp_path))
    metrics = tmp_path / "metrics.jsonl"
    with metrics.open("a") as handle:
        handle.write('{"step": 7, "ep')
    final = train(config(data_file, tmp_path))
    assert {k: v for k, v in final.items() if k != "wall_time_s"} == uninterrupted[-1]
    assert lines(metrics) == uninterrupted


def write_lines(path: Path, *texts: str) -> Path:
    path.write_text("".join(text + "\n" for text in texts))
    return path


def test_reconcile_keeps_one_line_per_step_up_to_the_checkpoint(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "metrics.jsonl",
        '{"step": 2, "val_loss": 1.0}',
        '{"step": 4, "val_loss": 0.9}',
        "",
        '{"step": 2, "val_loss": 1.5}',  # an older version's duplicate after a resume
        '{"step": 4, "val_loss": 0.8}',
        '{"step": 6, "val_loss": 0.7}',  # after the checkpoint
    )
    kept = reconcile_metrics(path, 4)
    expected = [{"step": 2, "val_loss": 1.5}, {"step": 4, "val_loss": 0.8}]
    assert kept == expected
    assert path.read_text().splitlines() == [json.dumps(line) for line in expected]


def test_reconcile_from_the_start_empties_the_file(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "metrics.jsonl", '{"step": 2}', '{"step": 4}')
    assert reconcile_metrics(path, 0) == []
    assert path.read_text() == ""
    assert reconcile_metrics(tmp_path / "absent.jsonl", 3) == []
    assert not (tmp_path / "absent.jsonl").exists()


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (('{"step": 2}', "[1, 2]", '{"step": 4}'), "line 2 is not a metrics line"),
        (('{"step": 2}', '{"step": "4"}'), "line 2 is not a metrics line (no integer 'step')"),
        (('{"step": 2}', '{"val_loss": 1.0}'), "line 2 is not a metrics line"),
        (('{"st', '{"step": 4}'), "line 1 is not valid JSON"),
    ],
)
def test_reconcile_refuses_lines_that_are_not_metrics(
    tmp_path: Path, texts: tuple[str, ...], message: str
) -> None:
    path = write_lines(tmp_path / "metrics.jsonl", *texts)
    before = path.read_text()
    with pytest.raises(CheckpointError) as info:
        reconcile_metrics(path, 10)
    assert str(info.value).startswith(f"{path}: {message}")
    assert path.read_text() == before


def test_a_full_disk_while_appending_names_the_metrics_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appending cannot be atomic; a full disk there still names the file (once it did not)."""
    import errno
    import io
    import os

    from jetscale.train.metrics_file import append_metrics

    class FullDisk(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    path = tmp_path / "metrics.jsonl"
    monkeypatch.setattr(Path, "open", lambda self, mode="r", *a, **k: FullDisk())
    with pytest.raises(OSError, match=r"No space left on device") as info:
        append_metrics(path, {"step": 1})
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
