"""``metrics.jsonl``: one JSON line per evaluation, kept consistent with the run's checkpoint.

A line is appended *before* the checkpoint of its step is saved, so a kill
leaves at most lines that are ahead of ``last.pt`` (or a torn last line, killed
mid-write), never a checkpoint without its line. Every start therefore calls
:func:`reconcile_metrics` with the step it starts from (the checkpoint's, or 0
for a fresh start): lines after that step go, a torn last line goes with a
warning, and each step keeps one line. A line that cannot be read anywhere but
at the end is damage, not a kill: :class:`~jetscale.train.checkpoint.CheckpointError`,
and nothing is dropped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from jetscale.io.atomic import name_path, write_text
from jetscale.train.checkpoint import CheckpointError

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"


def append_metrics(path: Path, line: dict[str, Any]) -> None:
    """Append one evaluation line (a single write, so a kill tears at most this line).

    Appending cannot go through an atomic rename; a full disk here is still named.
    """
    try:
        with path.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError as err:
        named = name_path(err, path)
        if named is err:
            raise
        raise named from err


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` in file order; a torn last line is left out (and logged).

    Raises :class:`CheckpointError` naming the file and line for an unreadable
    line before the last, or a line without an integer ``step``.
    """
    lines = path.read_text().split("\n")
    parsed: list[dict[str, Any]] = []
    last = max((n for n, text in enumerate(lines, 1) if text.strip()), default=0)
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as err:
            if number == last:
                log.warning(
                    "%s: line %d is incomplete (the run was killed while writing it); dropped",
                    path,
                    number,
                )
                continue
            msg = (
                f"{path}: line {number} is not valid JSON ({err}); only the last line can be "
                "torn by a kill, so the file is damaged: repair or remove that line"
            )
            raise CheckpointError(msg) from err
        if not isinstance(line, dict) or type(line.get("step")) is not int:
            msg = f"{path}: line {number} is not a metrics line (no integer 'step'): {text[:80]!r}"
            raise CheckpointError(msg)
        parsed.append(line)
    return parsed


def reconcile_metrics(path: Path, step: int) -> list[dict[str, Any]]:
    """Make ``path`` describe the run up to ``step`` exactly; returns the lines kept.

    Drops lines after ``step`` (evaluations whose checkpoint was never saved, or a
    previous run when starting over) and a torn last line; of several lines of
    one step keeps the last written (the one its checkpoint was saved after).
    The file is rewritten atomically, and only when something changed.
    """
    if not path.exists():
        return []
    text = path.read_text()
    lines = read_metrics(path)
    by_step: dict[int, dict[str, Any]] = {}
    for line in lines:
        if line["step"] <= step:
            by_step[line["step"]] = line  # a repeated step: the later line wins
    kept = [by_step[s] for s in sorted(by_step)]
    dropped = len(lines) - len(kept)
    if dropped:
        log.info("%s: dropped %d line(s) after step %d or repeated", path, dropped, step)
    new_text = "".join(json.dumps(line) + "\n" for line in kept)
    if new_text != text:
        write_text(path, new_text)
    return kept
