"""Progress lines on stderr, and the ``--no-progress`` switch that turns them off.

The library reports progress on the loggers under ``jetscale.progress`` at INFO
(training steps, bootstrap refits, sweep points); a library user sees them with
``logging.basicConfig(level=logging.INFO)``, a command shows them on stderr with
its name in front (stdout stays for results). Warnings are shown either way.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator

#: The parent of every progress logger of the library.
PROGRESS_LOGGER = "jetscale.progress"


class _ProgressHandler(logging.StreamHandler):
    """The stderr handler a command installs (told apart from any other when replaced)."""


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``, as ``jetscale generate`` and ``jetscale tag`` spell it."""
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress lines on stderr (warnings are still shown)",
    )


@contextlib.contextmanager
def show_progress(command: str, enabled: bool = True) -> Iterator[None]:
    """Within the block, print the library's progress lines on stderr as ``jetscale COMMAND: ...``.

    Disabled, the block shows none, not even with ``-v``. The logger is restored
    after the block, so a process that runs several commands (tests, notebooks)
    keeps no handler of an earlier one.
    """
    logger = logging.getLogger(PROGRESS_LOGGER)
    saved = logger.level, logger.propagate
    handler = None
    if enabled:
        handler = _ProgressHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"jetscale {command}: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # with -v the root handler would print each line again
    else:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        if handler is not None:
            logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
