"""Where an output came from: jetscale's version, its git revision, the command line and the seeds.

Every file a command writes for later reading (``summary.json``, model cards,
training runs, fit results, sweep and study tables, tagging summaries) carries
:func:`provenance` under the key ``"provenance"``, so a number in an analysis
note can be traced to the code and the command that made it.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jetscale._version import __version__

#: The package directory: its git revision is the one of the checkout jetscale runs from.
PACKAGE_DIR = Path(__file__).resolve().parent
#: Seconds a git call may take before the revision is reported as unknown.
GIT_TIMEOUT_S = 10.0


def provenance(
    seeds: Mapping[str, Any] | None = None, argv: list[str] | None = None
) -> dict[str, Any]:
    """What made an output, as plain JSON data.

    ``seeds``: the random seeds the output depends on, by role (such as
    ``{"train": 1}``); ``argv``: the command line (default: ``sys.argv``).
    ``git_revision`` is the commit jetscale runs from (with ``git_dirty``, whether
    tracked files of the checkout differ from it), or None when jetscale is not run from a git
    checkout (an installed wheel) or git is missing: never an error.
    """
    revision, dirty = git_state()
    return {
        "jetscale_version": __version__,
        "git_revision": revision,
        "git_dirty": dirty,
        "command_line": list(sys.argv if argv is None else argv),
        "seeds": dict(seeds or {}),
        "python": platform.python_version(),
    }


@functools.cache
def git_state(directory: Path = PACKAGE_DIR) -> tuple[str | None, bool | None]:
    """``(revision, dirty)`` of the checkout holding ``directory``; ``(None, None)`` outside one.

    Only a directory whose files git tracks counts: jetscale installed into a
    virtual environment that happens to sit inside some other repository has no
    revision. Cached: the revision of a running process does not change.
    """
    tracked = _git(directory, "ls-files", "--error-unmatch", "--", "__init__.py")
    revision = _git(directory, "rev-parse", "--verify", "HEAD")
    if tracked is None or revision is None:
        return None, None
    status = _git(directory, "status", "--porcelain", "--untracked-files=no")
    return revision.strip(), None if status is None else bool(status.strip())


def _git(directory: Path, *args: str) -> str | None:
    """Output of ``git args`` run in ``directory``; None when it fails for any reason."""
    try:
        result = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=directory,
            timeout=GIT_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return result.stdout
