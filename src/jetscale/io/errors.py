"""One exception type for unreadable or malformed jet files."""

from __future__ import annotations


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
