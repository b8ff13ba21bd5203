"""Progress lines on stderr with the command's name, once each, and none with --no-progress."""

from __future__ import annotations

import logging

import pytest

from jetscale.commands.progress import PROGRESS_LOGGER, show_progress


def test_lines_go_to_stderr_with_the_command_name_within_the_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = logging.getLogger(PROGRESS_LOGGER)
    before = logger.level, logger.propagate, list(logger.handlers)
    with show_progress("train"):
        logging.getLogger("jetscale.progress.train").info("step %d/%d", 1, 10)
        logging.getLogger("jetscale.train.loop").info("not a progress line")
    logging.getLogger("jetscale.progress.train").info("after the command")
    captured = capsys.readouterr()
    assert captured.err == "jetscale train: step 1/10\n" and captured.out == ""
    assert (logger.level, logger.propagate, logger.handlers) == before  # nothing left behind


def test_no_progress_hides_them_even_with_verbose_logging(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as -v sets the root logger
    with show_progress("fit", enabled=False):
        logging.getLogger("jetscale.progress.fit").info("bootstrap refit 40/100")
        logging.getLogger("jetscale.progress.fit").warning("a warning still shows")
    assert [r.getMessage() for r in caplog.records] == ["a warning still shows"]
    assert capsys.readouterr().err == ""
