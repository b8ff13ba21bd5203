"""One exception type for unreadable or malformed jet files."""

from __future__ import annotations

from pathlib import Path


class JetFileError(ValueError):
    """A jet file is missing, corrupt, or lacks/mistypes a branch.

    The message always names the file, the branch (when one is at fault) and the problem.
    """

    def __init__(self, path: object, problem: str, branch: str | None = None) -> None:
        where = f"{path}" if branch is None else f"{path}: branch {branch!r}"
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.branch = branch
        self.problem = problem


def describe(err: BaseException) -> str:
    """``Type: message`` of a library's exception on one line, for a :class:`JetFileError`.

    uproot and awkward messages run over several lines (awkward appends the call
    that failed after a blank line); the command line reports errors in one line.
    """
    first = str(err).split("\n\n")[0]
    return f"{type(err).__name__}: {' '.join(first.split())}"


def empty_file(path: object) -> bool:
    """Whether ``path`` is a zero-byte file (an interrupted copy): named as such, not as garbage."""
    try:
        return Path(str(path)).stat().st_size == 0
    except OSError:
        return False
