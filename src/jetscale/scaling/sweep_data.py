"""The jets of a sweep: generated once or given as files, used as they are.

Training reads its files side by side in proportional-interleaving order
(:mod:`jetscale.io.interleave`), so the first U jets of per-class files
(JetClass's layout) are class-mixed and nested across U without merging or
shuffling anything beforehand: a sweep over 100M jets in 1,000 files needs no
more memory than one over 100k.

A sweep directory remembers its data by content
(:func:`~jetscale.io.identity.data_identity`: an
xxHash of every file's bytes, in order), so finished points are reused only on
the same jets, wherever the files were moved, and never on files that kept
their names and sizes but changed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import awkward as ak
import numpy as np

from jetscale.io import expand_paths, iterate_jets
from jetscale.io.atomic import write_json
from jetscale.io.interleave import holdout_every, selected_size
from jetscale.io.reader import count_entries
from jetscale.scaling.sweep_config import DataSpec

log = logging.getLogger(__name__)


def prepare_data(
    spec: DataSpec, out_dir: Path, workers: int = 1
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Training and validation files of the sweep: generated into ``out_dir / "data"`` once, or given."""
    if spec.generate is not None:
        return _generated(spec, out_dir / "data", workers)
    train = tuple(str(p) for p in expand_paths(spec.train))
    val = tuple(str(p) for p in expand_paths(spec.val)) if spec.val else ()
    return train, val


def _generated(
    spec: DataSpec, data_dir: Path, workers: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from jetscale.generate import generate, sample_file_name

    settings = dict(spec.generate or {})
    classes = list(settings["classes"])
    detector = str(settings.get("detector", "cms"))
    seed = int(settings.get("seed", 1))
    paths = []
    for split, jets, split_seed in (
        ("train", int(settings["train_jets_per_class"]), seed),
        ("val", int(settings["val_jets_per_class"]), seed + 1),
    ):
        where = data_dir / f"generated_{split}"
        marker = where / "generated.json"
        wanted = {
            "classes": classes,
            "jets_per_class": jets,
            "detector": detector,
            "seed": split_seed,
        }
        if not (marker.exists() and json.loads(marker.read_text()) == wanted):
            log.info("generating %s jets: %s", split, wanted)
            summary = generate(
                where, classes, jets, detector=detector, seed=split_seed, workers=workers
            )
            log.info(
                "generated %d jets at %.1f jets/s",
                sum(summary.jets_per_class.values()),
                summary.jets_per_second,
            )
            write_json(marker, wanted)
        paths.append(tuple(str(where / sample_file_name(c, detector, split_seed)) for c in classes))
    return paths[0], paths[1]


def count_jets(paths: Sequence[str], val_fraction: float | None = None) -> int:
    """Training jets in the files, from their metadata (no branch is read); bad files are named.

    With ``val_fraction`` (no validation files), the jets training holds out of
    each file for validation are not counted.
    """
    holdout = None if val_fraction is None else (holdout_every(val_fraction), False)
    return sum(selected_size(count_entries(path), holdout) for path in paths)


#: The sweep directory's per-file constituent-count histograms, keyed by file content.
CONSTITUENT_COUNTS_NAME = "constituent_counts.json"
#: Bumped when what a histogram counts changes: older caches are then recomputed.
COUNTS_VERSION = 1


def tokens_per_jet(
    paths: Sequence[str],
    digests: Sequence[str] | None = None,
    cache: Path | None = None,
) -> Callable[[int], float]:
    """``f(max_particles)``: mean constituents per jet the model sees (padding excluded).

    The compute convention C = 6 N D n_bar counts constituents as tokens, so an
    IsoFLOP budget becomes jets through this mean. The constituent counts of the
    training jets are streamed into one histogram per file (memory does not grow
    with the data).

    With the files' content ``digests`` (their data identity) and a ``cache``
    file, a file's histogram is read from the cache when its digest is there and
    stored in it otherwise: a sweep that restarts or grows reads no training jet
    again for this (it used to read every constituent count of every file at
    every start). The cache is written atomically; its sweep directory has one
    writer (the scan's lock).
    """
    if digests is not None and len(digests) != len(paths):
        msg = f"{len(paths)} files but {len(digests)} digests"
        raise ValueError(msg)
    known = _cached_histograms(cache)
    histograms = []
    for i, path in enumerate(paths):
        digest = digests[i] if digests is not None else None
        if digest is None or digest not in known:
            counts = _constituent_histogram(path)
            if digest is not None:
                known[digest] = counts.tolist()
        else:
            counts = np.asarray(known[digest], dtype=np.int64)
        histograms.append(counts)
    if cache is not None and digests is not None:
        write_json(cache, {"version": COUNTS_VERSION, "histograms": known})
    histogram = np.zeros(max((len(h) for h in histograms), default=0), dtype=np.int64)
    for counts in histograms:
        histogram[: len(counts)] += counts
    if not histogram.sum():
        msg = f"no jets in {', '.join(paths)}"
        raise ValueError(msg)
    n_particles = np.arange(len(histogram))
    jets = histogram.sum()
    return lambda max_particles: float(
        (np.minimum(n_particles, max_particles) * histogram).sum() / jets
    )


def _cached_histograms(cache: Path | None) -> dict[str, list[int]]:
    """The cache's histograms by digest; none from a missing, unreadable or older cache."""
    if cache is None or not cache.exists():
        return {}
    try:
        content = json.loads(cache.read_text())
    except (OSError, ValueError) as err:
        log.warning("%s: unreadable (%s); the constituent counts are read again", cache, err)
        return {}
    if not isinstance(content, dict) or content.get("version") != COUNTS_VERSION:
        return {}
    histograms = content.get("histograms")
    return histograms if isinstance(histograms, dict) else {}


def _constituent_histogram(path: str) -> np.ndarray:
    """Jets per constituent count (index) in one file, streamed."""
    histogram = np.zeros(0, dtype=np.int64)
    for chunk in iterate_jets([path], step_size="100 MB", constituent_fields=("px",)):
        counts = np.bincount(ak.to_numpy(ak.num(chunk.constituents)))
        if len(counts) > len(histogram):
            histogram = np.pad(histogram, (0, len(counts) - len(histogram)))
        histogram[: len(counts)] += counts
    return histogram
