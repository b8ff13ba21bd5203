"""A real full disk: ``jetscale tag`` writing into a small tmpfs.

The other full-disk tests patch a write call; this one lets the kernel refuse the
write (ENOSPC), so the whole path from the filesystem to the one-line CLI message
and the ``INCOMPLETE`` marker is exercised as a user meets it. Mounting needs
root (or CAP_SYS_ADMIN); where the machine does not allow it the test is skipped
with that reason.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import awkward as ak
import pytest

pytest.importorskip("coffea")
pytest.importorskip("onnxruntime")

from jetscale.cli import main
from jetscale.io import write_jetclass
from jetscale.io.atomic import MARKER_NAME
from jetscale.io.lock import LOCK_NAME

# coffea warns about its own progress bar and chunk skipping; not under test here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``mount(size)``: a fresh tmpfs of ``size`` (e.g. ``"200k"``), unmounted afterwards."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine")
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"fs{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def test_tag_on_a_full_disk_exits_2_naming_the_output_and_leaves_the_marker(
    tmp_path: Path,
    small_filesystem: Callable[[str], Path],
    make_jets: Callable[..., ak.Array],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sample = write_jetclass(tmp_path / "sample.root", make_jets(60, seed=3))
    # Room for the marker and the small tagger.coffea, not for histograms.root (~0.3 MB).
    disk = small_filesystem("160k")
    out = disk / "tagged"
    code = main(["tag", str(sample), "--out", str(out), "--executor", "iterative"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    message = err[-1]
    assert message.startswith("jetscale tag: error: [Errno 28] No space left on device")
    assert str(out / "histograms.root") in message
    assert str(out / MARKER_NAME) in message
    marker = (out / MARKER_NAME).read_text()
    assert "No space left on device" in marker
    assert "tagger.coffea" in marker.split("written by this run:")[1].splitlines()[0]
    not_written = marker.split("not written by this run:")[1].splitlines()[0]
    assert "histograms.root" in not_written and "summary.json" in not_written
    # No temporary is left to fill the disk further.
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != LOCK_NAME]

    # With room, the same command completes and the marker goes.
    roomy = small_filesystem("64m")
    shutil.copytree(out, roomy / "tagged")
    assert main(["tag", str(sample), "--out", str(roomy / "tagged")]) == 0
    assert not (roomy / "tagged" / MARKER_NAME).exists()
    assert (roomy / "tagged" / "histograms.root").stat().st_size > 100_000
