"""Atomic writes name the output they lost; output sets leave a marker when incomplete."""

from __future__ import annotations

import errno
import os
import pathlib
import re
from pathlib import Path

import pytest

from jetscale.io.atomic import (
    MARKER_NAME,
    MARKER_RESERVED,
    atomic_path,
    output_set,
    write_json,
    write_text,
)


def fail_writes(monkeypatch: pytest.MonkeyPatch, code: int, *, when: str = "") -> None:
    """Make ``Path.write_text`` fail like a full disk (no file name) for names starting ``when``.

    A full disk fails in ``write`` on an open handle, so the error has no ``filename``.
    """
    write = pathlib.Path.write_text

    def failing(self: Path, *args: object, **kwargs: object) -> int:
        if self.name.startswith(when):
            raise OSError(code, os.strerror(code))
        return write(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pathlib.Path, "write_text", failing)


def hidden(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob(".*"))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_write_error_names_the_final_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    target = tmp_path / "out" / "summary.json"
    target.parent.mkdir()
    target.write_text("old\n")
    fail_writes(monkeypatch, code, when=".summary.json.tmp")
    with pytest.raises(OSError, match=re.escape(str(target))) as info:
        write_json(target, {"a": 1})
    err = info.value
    assert type(err) is OSError and err.errno == code
    assert err.filename == str(target)
    assert str(err) == f"[Errno {code}] {os.strerror(code)}: '{target}'"
    assert target.read_text() == "old\n"  # the earlier file is untouched
    assert hidden(tmp_path) == []  # and no temporary is left


def test_read_only_directory_names_the_final_path(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        probe = directory / "probe"
        try:
            probe.write_text("x")
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip("running as root (or similar): chmod 0o555 does not stop writes")
        target = directory / "fit.json"
        with pytest.raises(PermissionError) as info:
            write_json(target, {})
        assert info.value.errno == errno.EACCES
        assert info.value.filename == str(target)
        assert str(target) in str(info.value) and os.strerror(errno.EACCES) in str(info.value)
        assert ".tmp" not in str(info.value)  # the hidden temporary is not what the user asked for
        assert list(directory.iterdir()) == []
    finally:
        directory.chmod(0o755)


def test_error_naming_the_temporary_names_the_final_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a read-only directory raises (runs also as root, where chmod cannot show it)."""

    def denied(self: Path, *args: object, **kwargs: object) -> int:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    monkeypatch.setattr(pathlib.Path, "write_text", denied)
    target = tmp_path / "fit.json"
    with pytest.raises(PermissionError) as info:
        write_json(target, {})
    assert info.value.errno == errno.EACCES and info.value.filename == str(target)
    assert str(info.value) == f"[Errno {errno.EACCES}] {os.strerror(errno.EACCES)}: '{target}'"


def test_rename_onto_a_directory_names_the_final_path(tmp_path: Path) -> None:
    target = tmp_path / "histograms.root"
    target.mkdir()
    with pytest.raises(IsADirectoryError) as info, atomic_path(target) as tmp:
        tmp.write_text("x")
    assert info.value.filename == str(target)
    assert hidden(tmp_path) == []


def test_errors_without_errno_and_other_errors(tmp_path: Path) -> None:
    target = tmp_path / "a.root"
    expected = rf"^disk quota \(writing {re.escape(str(target))}\)$"
    with pytest.raises(OSError, match=expected) as info, atomic_path(target) as tmp:  # noqa: PT012
        tmp.write_text("x")
        raise OSError("disk quota")
    assert info.value.errno is None
    with pytest.raises(ValueError, match="^bad histogram$"), atomic_path(target) as tmp:  # noqa: PT012
        tmp.write_text("x")
        raise ValueError("bad histogram")
    assert list(tmp_path.iterdir()) == []


def test_an_error_naming_another_file_keeps_that_name(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    source = tmp_path / "missing-input.txt"
    with pytest.raises(FileNotFoundError) as info, atomic_path(target) as tmp:
        tmp.write_text(source.read_text())
    assert info.value.filename == str(target)
    assert f"({source})" in str(info.value)


def test_nested_atomic_paths_name_the_outer_final_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export writes JSON into the temporary of an outer atomic_path."""
    card = tmp_path / "model_card.json"
    fail_writes(monkeypatch, errno.ENOSPC, when=".")
    with pytest.raises(OSError, match="No space left") as info, atomic_path(card) as tmp:
        write_json(tmp, {})
    assert info.value.filename == str(card)
    assert hidden(tmp_path) == []


def marker_fields(directory: Path) -> dict[str, str]:
    lines = (directory / MARKER_NAME).read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line[:60])


def test_output_set_marks_the_directory_until_done(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_set(out, ["a.json", "plots/"], "jetscale demo") as directory:
        assert directory == out
        fields = marker_fields(out)
        assert fields["command"] == "jetscale demo"
        assert fields["expected outputs"] == "a.json, plots/"
        assert fields["from an earlier run, not current until rewritten"] == "(none)"
        write_json(out / "a.json", {})
        write_text(out / "plots" / "x.png", "png")
    assert not (out / MARKER_NAME).exists()
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "plots"]


def test_failed_output_set_names_written_missing_and_stale_outputs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for name in ("a.json", "b.root", "plots/old.png", "plots/x.png", "unrelated.txt"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("earlier run")
    with (  # noqa: PT012
        pytest.raises(RuntimeError) as info,
        output_set(out, ["a.json", "b.root", "plots/"], "cmd"),
    ):
        fields = marker_fields(out)
        assert fields["from an earlier run, not current until rewritten"] == (
            "a.json, b.root, plots/old.png, plots/x.png"
        )
        write_json(out / "a.json", {})
        write_text(out / "plots" / "x.png", "new")
        raise RuntimeError("boom\nsecond line")
    fields = marker_fields(out)
    assert fields["error"] == "RuntimeError: boom second line"
    assert fields["written by this run"] == "a.json, plots/x.png"
    assert fields["not written by this run"] == "b.root"
    assert fields["stale, from an earlier run"] == "b.root, plots/old.png"
    assert info.value.__notes__ == [f"{out / MARKER_NAME} lists what was and was not written"]
    assert (out / "b.root").read_text() == "earlier run"  # kept, not deleted


def test_unwritable_marker_stops_everything_and_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    fail_writes(monkeypatch, errno.ENOSPC, when=f".{MARKER_NAME}")
    entered = False
    with pytest.raises(OSError, match=MARKER_NAME) as info, output_set(out, ["a.json"], "cmd"):  # noqa: PT012
        entered = True
        write_json(out / "a.json", {})
    assert not entered
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(out / MARKER_NAME)
    assert list(out.iterdir()) == []


def test_marker_report_is_written_when_no_new_file_can_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full disk no new file can be created, so the report overwrites the bytes the
    marker reserved at the start (tests/test_full_disk.py does this on a real tmpfs)."""
    out = tmp_path / "out"
    with pytest.raises(OSError, match="a.json") as info, output_set(out, ["a.json"], "cmd"):  # noqa: PT012
        fail_writes(monkeypatch, errno.ENOSPC, when=".")  # the disk fills up from here
        write_json(out / "a.json", {})
    assert info.value.filename == str(out / "a.json")
    (note,) = info.value.__notes__
    assert note == f"{out / MARKER_NAME} lists what was and was not written"
    fields = marker_fields(out)
    assert fields["command"] == "cmd"
    assert fields["not written by this run"] == "a.json"
    assert fields["error"].startswith(f"OSError: [Errno {errno.ENOSPC}] No space left on device")
    assert hidden(out) == []


def test_marker_that_cannot_be_updated_still_marks_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    opened = pathlib.Path.open

    def failing_open(self: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        if self.name == MARKER_NAME and mode == "r+b":
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(self))
        return opened(self, mode, *args, **kwargs)  # type: ignore[call-overload]

    with pytest.raises(OSError, match="a.json") as info, output_set(out, ["a.json"], "cmd"):  # noqa: PT012
        monkeypatch.setattr(pathlib.Path, "open", failing_open)
        fail_writes(monkeypatch, errno.ENOSPC, when=".")
        write_json(out / "a.json", {})
    (note,) = info.value.__notes__
    assert note.startswith(f"{out / MARKER_NAME} could not be updated ([Errno {errno.EIO}]")
    fields = marker_fields(out)
    assert fields["command"] == "cmd" and "error" not in fields
    assert hidden(out) == []


def test_a_long_report_is_cut_to_the_reserved_space(tmp_path: Path) -> None:
    # Lists are capped at 40 names; 40 names of 500 characters still overflow 16 kB.
    names = [f"plots/{'x' * 500}_{i:04d}.png" for i in range(600)]
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), output_set(out, names, "cmd"):
        raise RuntimeError("boom")
    data = (out / MARKER_NAME).read_bytes()
    assert len(data) <= MARKER_RESERVED
    assert data.endswith(b"(report cut to the space reserved for it)\n")
    fields = marker_fields(out)
    assert fields["error"] == "RuntimeError: boom"
    assert fields["written by this run"] == "(none)"  # the failure lines come first
