"""The job behind ``jetscale robustness``: a model and re-simulated jet files in; ``robustness.json`` and figures out.

Each file's views are named by its metadata (:func:`~jetscale.io.jetclass.read_views`):
a file without it, or without a nominal view, is refused with an error naming it
before any jet is scored; one without the view fields when the reader comes to it
(a :class:`~jetscale.io.errors.JetFileError` naming it, before anything is
written). The jets are read file by file with the
model's task (so ``label`` indexes its classes), scored chunk by chunk, and only
per-jet numbers are kept: the discriminant, the label, the group and the view.
The measurement itself is :func:`jetscale.transfer.robustness.variation_sensitivity`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jetscale.io import QualityReport, expand_paths, iterate_jetclass
from jetscale.io.atomic import output_set, write_json
from jetscale.io.jetclass import read_views
from jetscale.io.lock import DirectoryLock
from jetscale.jobs.model_scores import DEFAULT_BATCH_SIZE, ModelScorer, load_scorer
from jetscale.metrics import BACKGROUND, discriminant
from jetscale.provenance import provenance
from jetscale.transfer.robustness import (
    NOMINAL,
    Sensitivity,
    check_views,
    variation_sensitivity,
)

progress = logging.getLogger("jetscale.progress.robustness")

#: The outputs, in the output directory: the numbers, then the shift figures of each class.
JSON_NAME = "robustness.json"
FIGURE_STEMS = ("score_shift_signal", "score_shift_background")
OUTPUTS = (JSON_NAME, *(f"{stem}.{suffix}" for stem in FIGURE_STEMS for suffix in ("png", "pdf")))
#: Jets per chunk read from a file.
STEP_JETS = 20_000
#: Within a file, a progress line at most this often (seconds).
PROGRESS_EVERY_S = 10.0


def run_robustness(
    model: str | os.PathLike[str],
    data: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    signal: str | None = None,
    background: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "cpu",
    plots: bool = True,
    experiment: str = "none",
    label: str = "",
) -> dict[str, Any]:
    """The variation sensitivity of ``model``'s ``signal``-vs-``background`` discriminant on ``data``.

    ``model`` is an ONNX tagger or a jetscale checkpoint
    (:func:`~jetscale.jobs.model_scores.load_scorer`); ``data`` are re-simulated
    JetClass ROOT files or globs. The discriminant is ``p_S / (p_S + sum of p_B)``
    over the ``background`` classes (:func:`jetscale.metrics.discriminant`; with
    the default background ``QCD``, the package's one-vs-QCD discriminant).
    ``signal`` defaults to the model's non-background class with the most jets in
    the data, ``background`` to ``QCD`` (every other class for a model without
    one). Jets of other classes are left out. Writes ``robustness.json`` (and the
    shift figures with ``plots``) in ``out`` as a set, holding the directory;
    returns what the JSON holds.
    """
    started = time.perf_counter()
    scorer = load_scorer(model, batch_size, device)
    if signal is not None:
        _check_class(signal, scorer, "signal")
    backgrounds = _backgrounds(scorer.class_names, signal, background)
    files = [str(p) for p in expand_paths(data)]
    if not files:
        msg = f"no jet files match {', '.join(str(d) for d in data)}"
        raise ValueError(msg)
    view_names = [list(read_views(path).get("views", [])) for path in files]
    check_views(view_names, files)  # before any jet is scored

    report = QualityReport()
    columns = _score_files(scorer, files, report)
    chosen = (
        signal if signal is not None else _default_signal(scorer, backgrounds, columns["label"])
    )
    sig, bkg = _indices(scorer, chosen, backgrounds)
    d = discriminant(
        columns["prob"][:, sig], columns["prob"][:, bkg].astype(np.float64).sum(axis=1)
    )
    in_classes = (columns["label"] == sig) | np.isin(columns["label"], bkg)
    scored = np.isfinite(d)
    keep = in_classes & scored
    if not keep.any():
        msg = (
            f"no {chosen} or {', '.join(backgrounds)} jet with a score in {', '.join(files)} "
            f"(the model's classes: {', '.join(scorer.class_names)}; choose --signal and --background)"
        )
        raise ValueError(msg)
    computed = time.perf_counter()
    result = variation_sensitivity(
        d[keep],
        columns["label"][keep] == sig,
        columns["file"][keep],
        columns["group"][keep],
        columns["view"][keep],
        view_names,
        files,
    )
    summary = _summary(scorer, chosen, backgrounds, files, view_names, columns, keep, result)
    summary["jets"]["other_classes"] = int((~in_classes).sum())
    summary["jets"]["without_score"] = int((in_classes & ~scored).sum())
    summary["data_quality"] = {
        "jets_read": report.jets_read,
        "jets_dropped": report.jets_dropped,
        "constituents_dropped": report.constituents_dropped,
    }
    summary["provenance"] = provenance()  # no seeds: every jet of the files is scored
    summary["seconds"] = {
        "scoring": computed - started,
        "shifts": time.perf_counter() - computed,
    }
    out_dir = Path(out)
    names = OUTPUTS if plots else OUTPUTS[:1]
    with (
        DirectoryLock(out_dir, "jetscale robustness"),
        output_set(out_dir, names, f"jetscale robustness {model}"),
    ):
        write_json(out_dir / JSON_NAME, summary)  # first: a failing plot keeps the numbers
        if plots:
            from jetscale.plotting.robustness import plot_score_shifts

            written = plot_score_shifts(
                result, chosen, backgrounds, out_dir, experiment=experiment, label=label
            )
            summary["plots"] = [str(path) for path in written]
    return summary


def _check_class(name: str, scorer: ModelScorer, role: str) -> None:
    if name not in scorer.class_names:
        msg = (
            f"{role} {name!r} is not a class of {scorer.path}; its classes: "
            f"{', '.join(scorer.class_names)}"
        )
        raise ValueError(msg)


def _backgrounds(
    class_names: Sequence[str], signal: str | None, background: Sequence[str] | None
) -> list[str]:
    """The background classes: as given, else QCD, else every class but the signal."""
    if background:
        chosen = list(dict.fromkeys(background))
    elif BACKGROUND in class_names:
        chosen = [BACKGROUND]
    elif signal is not None:
        chosen = [c for c in class_names if c != signal]
    else:
        msg = (
            f"the model has no {BACKGROUND} class ({', '.join(class_names)}): name the "
            "background with --background, or the signal with --signal (the rest is background)"
        )
        raise ValueError(msg)
    unknown = [c for c in chosen if c not in class_names]
    if unknown:
        msg = (
            f"background {', '.join(unknown)}: not a class of the model; its classes: "
            f"{', '.join(class_names)}"
        )
        raise ValueError(msg)
    if signal in chosen:
        msg = f"{signal!r} is both the signal and a background class"
        raise ValueError(msg)
    return chosen


def _default_signal(scorer: ModelScorer, backgrounds: Sequence[str], labels: np.ndarray) -> str:
    """The non-background class with the most jets in the data (the first such class if none)."""
    candidates = [c for c in scorer.class_names if c not in backgrounds]
    if not candidates:
        msg = f"every class of {scorer.path} is a background: nothing left for the signal"
        raise ValueError(msg)
    counts = [int((labels == scorer.class_names.index(c)).sum()) for c in candidates]
    return candidates[int(np.argmax(counts))]  # argmax: the first of equal counts


def _indices(scorer: ModelScorer, signal: str, backgrounds: Sequence[str]) -> tuple[int, list[int]]:
    names = list(scorer.class_names)
    return names.index(signal), [names.index(b) for b in backgrounds]


def _score_files(
    scorer: ModelScorer, files: Sequence[str], report: QualityReport
) -> dict[str, np.ndarray]:
    """Per jet of every file: probabilities, label, file index, group and view."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("prob", "label", "file", "group", "view")}
    for index, path in enumerate(files):
        started, n_jets = time.perf_counter(), 0
        last = started
        chunks = iterate_jetclass(
            path,
            step_size=STEP_JETS,
            constituent_fields=scorer.constituent_fields,
            report=report,
            task=scorer.task,
            view_fields=True,
        )
        for chunk in chunks:
            parts["prob"].append(scorer.probabilities(chunk))
            parts["label"].append(np.asarray(chunk["label"], dtype=np.int64))
            parts["group"].append(np.asarray(chunk["group"], dtype=np.int64))
            parts["view"].append(np.asarray(chunk["view"], dtype=np.int64))
            parts["file"].append(np.full(len(chunk), index, dtype=np.int64))
            n_jets += len(chunk)
            if time.perf_counter() - last >= PROGRESS_EVERY_S:  # a large file: say it moves
                last = time.perf_counter()
                progress.info(
                    "file %d/%d: %s jets scored so far", index + 1, len(files), f"{n_jets:,}"
                )
        seconds = time.perf_counter() - started
        progress.info(
            "file %d/%d: %s jets scored in %.1f s (%s)",
            index + 1,
            len(files),
            f"{n_jets:,}",
            seconds,
            path,
        )
    n_classes = len(scorer.class_names)
    empty = {"prob": np.zeros((0, n_classes), np.float32)}
    return {
        k: np.concatenate(v) if v else empty.get(k, np.zeros(0, np.int64)) for k, v in parts.items()
    }


def _summary(
    scorer: ModelScorer,
    signal: str,
    backgrounds: Sequence[str],
    files: Sequence[str],
    view_names: Sequence[Sequence[str]],
    columns: dict[str, np.ndarray],
    keep: np.ndarray,
    result: Sensitivity,
) -> dict[str, Any]:
    per_file = []
    for index, (path, views) in enumerate(zip(files, view_names, strict=True)):
        mine = columns["file"] == index
        per_file.append(
            {
                "path": path,
                "views": list(views),
                "jets": int(mine.sum()),
                "groups": len(np.unique(columns["group"][mine])),
            }
        )
    denominator = " + ".join(f"p_{c}" for c in [signal, *backgrounds])
    return {
        "model": {
            "given": scorer.given,
            "path": str(scorer.path),
            "kind": scorer.kind,
            "classes": list(scorer.class_names),
            "task": scorer.task.spec,
            **scorer.description,
        },
        "signal": signal,
        "background": list(backgrounds),
        "discriminant": f"p_{signal} / ({denominator})",
        "shift": f"discriminant of a view minus that of its group's reference (the first {NOMINAL!r} view)",
        "files": per_file,
        "jets": {"read": len(keep), "used": int(keep.sum())},
        "groups": result.groups,
        "groups_without_reference": result.groups_without_reference,
        "variations": [v.summary() for v in result.variations],
    }
