"""One writer per output directory: an exclusive lock that a killed process gives up.

``jetscale train``, ``scan`` and ``generate`` hold :class:`DirectoryLock` on their
output directory while they write, so a second process on the same ``--out`` is
refused (naming the holder) instead of interleaving checkpoints. The lock is an
``flock`` on ``<dir>/.jetscale.lock``: the kernel releases it when the holder
exits or is killed, so there are no stale locks to clear by hand. (``flock`` is
local to one machine on some network filesystems: give each job its own
directory there.) Whoever takes the lock also removes the temporary files a
killed writer left behind (``.<name>.tmp<pid>``, see :func:`~jetscale.io.atomic.atomic_path`).
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import time
from pathlib import Path
from types import TracebackType

LOCK_NAME = ".jetscale.lock"
_TEMPORARY = re.compile(r"^\..+\.tmp\d+$")


class DirectoryBusyError(RuntimeError):
    """Another process is writing to the directory; the message names it."""


class DirectoryLock:
    """Hold the directory for ``command`` (a context manager; re-entry is not allowed)."""

    def __init__(self, directory: str | os.PathLike[str], command: str) -> None:
        self.directory = Path(directory)
        self.command = command
        self._fd: int | None = None

    def __enter__(self) -> DirectoryLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip() or "another process"
            os.close(fd)
            msg = (
                f"{self.directory}: in use by {holder}; one writer per directory: "
                "wait for it to finish or choose another output directory"
            )
            raise DirectoryBusyError(msg) from None
        os.ftruncate(fd, 0)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        holder = f"{self.command} (pid {os.getpid()} on {socket.gethostname()}, since {stamp})"
        os.write(fd, holder.encode())
        self._fd = fd
        self._remove_leftovers()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _remove_leftovers(self) -> None:
        """Temporary files here can only be a killed writer's: this process holds the lock."""
        for candidate in self.directory.iterdir():
            if _TEMPORARY.match(candidate.name) and candidate.is_file():
                candidate.unlink(missing_ok=True)
