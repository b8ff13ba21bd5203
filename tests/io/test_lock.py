"""One writer per output directory: refused while held, taken over after a kill, leftovers cleaned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jetscale.io.lock import LOCK_NAME, DirectoryBusyError, DirectoryLock

HOLD = """
import sys, time
from jetscale.io.lock import DirectoryLock
with DirectoryLock(sys.argv[1], "holder for the test"):
    print("held", flush=True)
    time.sleep(120)
"""


def hold_in_another_process(directory: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL, as a crash or the batch system would, and reap it."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def test_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    holder = hold_in_another_process(tmp_path / "run")
    try:
        with (
            pytest.raises(DirectoryBusyError) as info,
            DirectoryLock(tmp_path / "run", "jetscale train"),
        ):
            pass
        message = str(info.value)
        assert message.startswith(f"{tmp_path / 'run'}: in use by holder for the test")
        assert f"pid {holder.pid} on" in message
    finally:
        kill(holder)


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    kill(hold_in_another_process(tmp_path / "run"))
    with DirectoryLock(tmp_path / "run", "jetscale train"):
        text = (tmp_path / "run" / LOCK_NAME).read_text()
        assert f"jetscale train (pid {os.getpid()} on" in text
    assert (tmp_path / "run" / LOCK_NAME).read_text() == ""  # released


def test_leftover_temporary_files_are_removed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".last.pt.tmp4242").write_bytes(b"half a checkpoint")
    (run / ".metrics.jsonl.tmp7").write_text("{")
    (run / "last.pt").write_bytes(b"the real one")
    (run / "notes.tmp1").write_text("not ours: no leading dot")
    with DirectoryLock(run, "jetscale train"):
        pass
    assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME, "last.pt", "notes.tmp1"]


def test_two_train_commands_on_one_run_directory(tmp_path: Path) -> None:
    """Both used to exit 0 and interleave checkpoints and configs."""
    from jetscale.cli import main

    out = tmp_path / "run"
    with DirectoryLock(out, "jetscale train"):
        started = time.monotonic()
        code = main(["train", "--data", str(tmp_path / "x.root"), "--out", str(out)])
        assert time.monotonic() - started < 60
    assert code == 2
    assert not (out / "config.json").exists()


def test_tag_on_a_held_directory_is_refused_before_it_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_jets: Any
) -> None:
    """Two `jetscale tag` runs into one directory once interleaved their outputs and
    deleted each other's INCOMPLETE marker; the second is now refused at once (`fit`
    takes the same lock around its outputs)."""
    from jetscale.cli import main
    from jetscale.io import write_jetclass

    sample = write_jetclass(tmp_path / "sample.root", make_jets(20, seed=1))
    out = tmp_path / "out"
    holder = hold_in_another_process(out)
    try:
        assert main(["tag", str(sample), "--out", str(out)]) == 2
        assert f"{out}: in use by holder for the test" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == [".jetscale.lock"]
    finally:
        kill(holder)
