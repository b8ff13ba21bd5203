"""Atomic file writes: a crash never leaves a half-written output under the final name.

Also the one JSON writer of the package (:func:`write_json`), so every JSON output is
written atomically and holds strict JSON, and :func:`output_set`, which marks a
directory of several outputs ``INCOMPLETE`` until every one of them is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import math
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: Name of the marker :func:`output_set` keeps in a directory while its outputs are incomplete.
MARKER_NAME = "INCOMPLETE"
#: Bytes the marker occupies from the start: its failure report overwrites them in
#: place, so it can be written on the full disk that caused the failure.
MARKER_RESERVED = 16_384


def name_path(err: OSError, path: str | os.PathLike[str], tmp: Path | None = None) -> OSError:
    """``err`` as an error of the same class and errno whose message and ``filename`` name ``path``.

    A failed ``write`` into an open handle (ENOSPC, EDQUOT) carries no file name, and a
    failure on the temporary of :func:`atomic_path` names a hidden file that is removed
    at once: either way the user could not tell which output was lost. An error that
    already names ``path`` is returned unchanged; one naming another file keeps that
    name in its message; one without errno (a library's ``OSError("message")``) gets
    ``path`` in its message only.
    """
    where = str(path)
    if err.filename is not None and str(err.filename) == where:
        return err
    other = err.filename is not None and (tmp is None or str(err.filename) != str(tmp))
    cls: type[OSError] = type(err)
    if err.errno is None:  # a library's OSError("message"): no errno, and str() would
        message = f"{err} (writing {where})"  # turn "[Errno None] None" if filename were set
        try:
            return cls(message)
        except TypeError:  # a subclass with its own signature
            return OSError(message)
    strerror = err.strerror or os.strerror(err.errno)
    if other:
        strerror = f"{strerror} ({err.filename})"
    try:
        return cls(err.errno, strerror, where)
    except TypeError:
        return OSError(err.errno, strerror, where)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds.

    An ``OSError`` in the block or the rename is re-raised by :func:`name_path`
    (same class and errno, message and ``filename`` naming ``path``); the temporary
    is removed whatever happens.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    try:
        yield tmp
        tmp.replace(final)
    except OSError as err:
        named = name_path(err, final, tmp)
        if named is err:
            raise
        raise named from err
    finally:
        # Never mask the error being raised; a temporary that cannot be removed here
        # is removed by the next writer that takes the directory lock (io.lock).
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; errors name ``path``."""
    final = Path(path)
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return final


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON types: NumPy scalars and arrays to Python, dataclasses to
    dicts, sets sorted, NaN and infinities to None (JSON has neither), anything else as ``str``.
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def write_json(path: str | os.PathLike[str], data: Any, *, indent: int | None = 2) -> Path:
    """Write :func:`json_safe` of ``data`` to ``path`` atomically (strict JSON, newline-terminated)."""
    final = Path(path)
    with atomic_path(final) as tmp:
        tmp.write_text(json.dumps(json_safe(data), indent=indent, allow_nan=False) + "\n")
    return final


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _snapshot(directory: Path, names: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """``{relative path: (inode, mtime_ns, size)}`` of every file of the set now in ``directory``.

    :func:`atomic_path` renames a new file over the old one, so a rewritten output
    always has a new inode: comparing snapshots tells rewritten files from old ones
    without trusting clocks. Hidden files (temporaries) are left out.
    """
    found: dict[str, tuple[int, int, int]] = {}
    for name in names:
        top = directory / name
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        for file in files:
            if file.name.startswith(".") or not file.is_file():
                continue
            stat = file.stat()
            found[file.relative_to(directory).as_posix()] = (
                stat.st_ino,
                stat.st_mtime_ns,
                stat.st_size,
            )
    return found


def _in_output(file: str, name: str) -> bool:
    return file == name.rstrip("/") or file.startswith(name.rstrip("/") + "/")


def _reserved(text: str) -> str:
    """``text`` padded with spaces on a last line to :data:`MARKER_RESERVED` bytes."""
    size = len(text.encode())
    return text + " " * max(MARKER_RESERVED - size - 1, 0) + "\n"


def _overwrite_in_place(marker: Path, text: str) -> None:
    """Replace the marker's text within the bytes it already holds (no new blocks).

    Not atomic, on purpose: a new file needs space the full disk does not have,
    and a marker torn by a kill still marks the directory as incomplete. A report
    longer than the reservation is cut at a line end with a note.
    """
    data = text.encode()
    if len(data) > MARKER_RESERVED:
        note = b"\n(report cut to the space reserved for it)\n"
        cut = data.rfind(b"\n", 0, MARKER_RESERVED - len(note))
        data = data[: max(cut, 0)] + note
    with marker.open("r+b") as handle:
        handle.write(data)
        handle.truncate(len(data))
        handle.flush()
        os.fsync(handle.fileno())


def _listed(items: Sequence[str], most: int = 40) -> str:
    if not items:
        return "(none)"
    shown = ", ".join(items[:most])
    return shown if len(items) <= most else f"{shown} and {len(items) - most} more"


@contextlib.contextmanager
def output_set(
    directory: str | os.PathLike[str], names: Sequence[str], command: str
) -> Iterator[Path]:
    """Write the outputs ``names`` of ``directory`` as a set, marked ``INCOMPLETE`` until done.

    Before the block a plain-text marker ``directory/INCOMPLETE`` says which command
    is writing, since when, which outputs are expected (``names``; a trailing ``/``
    names a directory such as ``plots/``) and which of them an earlier run left
    there. It is removed when the block succeeds. If the block fails, the marker is
    updated with the error and three lists: files written by this run, expected
    outputs it did not write, and files of an earlier run it did not rewrite
    (stale); the error propagates with a note naming the marker. A run that is
    killed leaves the marker as written at the start.

    Outputs of an earlier run are kept and named as stale rather than removed
    first: they may be hours of work that is complete in itself (a finished
    tagging run), and a failure of the new run, often a full disk, should not
    destroy them too. If the marker itself cannot be written, nothing is written
    and the error names the marker.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    marker = out / MARKER_NAME
    before = _snapshot(out, names)
    header = (
        f"The outputs in this directory are INCOMPLETE: do not use them as the results of one run.\n"
        f"command: {command}\n"
        f"started: {_now()} (pid {os.getpid()} on {socket.gethostname()})\n"
        f"expected outputs: {_listed(names)}\n"
        f"from an earlier run, not current until rewritten: {_listed(sorted(before))}\n"
        "This file is removed once every output is written. If it is still here and the "
        "command is no longer running, the command failed (see below) or was killed.\n"
    )
    write_text(marker, _reserved(header))
    try:
        yield out
    except BaseException as err:
        after = _snapshot(out, names)
        written = sorted(f for f, stat in after.items() if before.get(f) != stat)
        stale = sorted(f for f, stat in after.items() if before.get(f) == stat)
        missing = [n for n in names if not any(_in_output(f, n) for f in written)]
        error = " ".join(f"{type(err).__name__}: {err}".split())
        # The failure first, after who and when: a cut report keeps what matters.
        lines = header.splitlines(keepends=True)
        report = "".join(
            [
                *lines[:3],
                f"failed: {_now()}\n",
                f"error: {error}\n",
                f"written by this run: {_listed(written)}\n",
                f"not written by this run: {_listed(missing)}\n",
                f"stale, from an earlier run: {_listed(stale)}\n",
                *lines[3:],
            ]
        )
        try:
            _overwrite_in_place(marker, report)
        except OSError as marker_err:
            err.add_note(f"{marker} could not be updated ({marker_err}); it still marks {out}")
        else:
            err.add_note(f"{marker} lists what was and was not written")
        raise
    leftover = sorted(f for f, stat in _snapshot(out, names).items() if before.get(f) == stat)
    if leftover:  # e.g. plots of a dataset this run no longer has
        log.warning("%s: not rewritten by this run, left from an earlier one: %s", out, leftover)
    marker.unlink(missing_ok=True)
