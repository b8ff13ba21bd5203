"""What the readers dropped from a run's data, written to ``data_quality.json`` in the run directory.

The readers drop unphysical constituents and jets (see :mod:`jetscale.io.quality`);
a training run on a file with many NaN values would otherwise train on fewer
jets than the user thinks, silently. The counts cover one pass over each set
(one epoch of training jets, the validation set once): jets repeat every epoch,
and so would the counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jetscale.io import QualityReport
from jetscale.io.atomic import write_json

log = logging.getLogger(__name__)

DATA_QUALITY_NAME = "data_quality.json"
_SETS = {"train": "training", "val": "validation"}


def quality_record(report: QualityReport, paths: tuple[str, ...]) -> dict[str, Any]:
    """One set's counts as plain data (``problems``: "file: branch: problem" -> count)."""
    return {
        "files": list(paths),
        "jets_read": report.jets_read,
        "jets_dropped": report.jets_dropped,
        "constituents_read": report.constituents_read,
        "constituents_dropped": report.constituents_dropped,
        "empty_jets": report.empty_jets,
        "jets_outside_task": report.jets_outside_task,
        "single_view_groups": report.single_view_groups,
        "problems": dict(sorted(report.problems.items())),
    }


def write_data_quality(
    out: Path,
    train: QualityReport,
    train_paths: tuple[str, ...],
    val: QualityReport,
    val_paths: tuple[str, ...],
    held_out: bool,
) -> dict[str, Any]:
    """Write ``out/data_quality.json``; log a warning when anything was dropped.

    ``held_out``: the validation jets are every k-th jet of the training files.
    """
    record: dict[str, Any] = {
        "train": quality_record(train, train_paths),
        "val": quality_record(val, val_paths),
        "val_held_out_from_train": held_out,
        "note": (
            "one pass over each set: train = the files read for one epoch (up to max_jets), "
            "val = the validation set"
            + (
                "; the validation jets are held out of the training files, so both passes "
                "read them and train counts their problems too"
                if held_out
                else ""
            )
        ),
    }
    write_json(out / DATA_QUALITY_NAME, record)
    line = summary_line(record)
    if line is not None:
        log.warning("%s: %s (details in %s)", out, line, out / DATA_QUALITY_NAME)
    return record


def summary_line(record: Mapping[str, Any]) -> str | None:
    """One line of what was dropped, or ``None`` when nothing was.

    Unphysical jets and constituents, and groups of views left with a single view.
    """
    parts = []
    for key, name in _SETS.items():
        counts = record.get(key)
        if not counts or not (counts["jets_dropped"] or counts["constituents_dropped"]):
            continue
        parts.append(
            f"{name} data: {counts['jets_dropped']} of {counts['jets_read']} jets and "
            f"{counts['constituents_dropped']} of {counts['constituents_read']} constituents "
            "dropped as unphysical"
        )
    for key, name in _SETS.items():
        single = (record.get(key) or {}).get("single_view_groups", 0)
        if single:  # contrastive pretraining: nothing to pair their one view with
            parts.append(f"{name} data: {single} groups of views with a single view left out")
    return "; ".join(parts) if parts else None
