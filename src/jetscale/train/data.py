"""Streaming training batches from jet files: bounded memory, deterministic, resumable.

The files are read side by side in proportional-interleaving order
(:mod:`jetscale.io.interleave`): per-class files such as JetClass's give a
stream whose every prefix holds each file's jets in proportion to its size.
The stream is cut into chunks of ``chunk_jets`` jets; each chunk's features are
built once, its jets shuffled with a generator seeded by (seed, epoch, chunk),
and cut into batches, so every batch mixes the classes in proportion. "U unique
jets" are the first U jets of the stream: class-mixed for any U, the same for
every seed, and nested (the first 1,000 are among the first 2,000), so repeating
them for E epochs repeats exactly the same jets, as scaling studies of data size
and repetition need. Without separate validation files every
``holdout_every``-th jet of each file is held out for validation (the held-out
jets are interleaved the same way, so validation is class-mixed too).

Each batch is trimmed to its longest jet: padding to 128 for a batch of 40-particle
jets would triple the compute for nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence

import awkward as ak
import numpy as np

from jetscale.features import build_features
from jetscale.features.registry import reader_fields
from jetscale.io import QualityReport, expand_paths, iterate_jets
from jetscale.io.interleave import holdout_every, interleave_jets, selected_size
from jetscale.io.reader import count_entries

log = logging.getLogger(__name__)


#: The order of the training stream, stored in checkpoints: a run is resumed only in
#: the order it started in (files one after the other before this one).
DATA_ORDER = "interleaved-1"


@dataclasses.dataclass(frozen=True)
class Batch:
    """One training batch, padded only to its longest jet."""

    x: np.ndarray  # (B, P_batch, F) float32
    mask: np.ndarray  # (B, P_batch) bool
    label: np.ndarray  # (B,) int64


@dataclasses.dataclass(frozen=True)
class JetSource:
    """Which jets of which files, and how they become tagger inputs."""

    paths: tuple[str, ...]
    feature_set: str
    max_particles: int
    max_jets: int | None = None  # stop after this many jets (U)
    holdout_every: int | None = None  # hold out every k-th jet of each file ...
    take_holdout: bool = False  # ... and yield those instead of the others
    chunk_jets: int = 20_000
    require_labels: bool = True  # False for objectives that learn from the jets alone (MPM)

    def nominal_jets(self) -> int:
        """Jets this source yields according to file metadata (before data-quality drops)."""
        holdout = (self.holdout_every, self.take_holdout) if self.holdout_every else None
        total = sum(selected_size(count_entries(p), holdout) for p in expand_paths(self.paths))
        return total if self.max_jets is None else min(total, self.max_jets)

    def chunks(self, report: QualityReport | None = None) -> Iterator[ak.Array]:
        """Jets in interleaved order, ``chunk_jets`` at a time, after hold-out and the U limit.

        ``report`` counts what the readers dropped from the jets read (all of
        them, held-out ones included; reading stops once U jets are yielded).
        """
        emitted = 0
        for chunk in interleave_jets(
            self.paths,
            window_jets=self.chunk_jets,
            constituent_fields=reader_fields(self.feature_set),
            report=report,
            holdout_every=self.holdout_every,
            take_holdout=self.take_holdout,
        ):
            if self.max_jets is not None:
                chunk = chunk[: max(self.max_jets - emitted, 0)]
            if len(chunk):
                if self.require_labels:
                    _require_labels(chunk, self.paths)
                emitted += len(chunk)
                yield chunk
            if self.max_jets is not None and emitted >= self.max_jets:
                return

    def batches(
        self,
        batch_size: int,
        seed: int,
        epoch: int,
        shuffle: bool = True,
        report: QualityReport | None = None,
    ) -> Iterator[Batch]:
        """Batches of one epoch; identical for the same (seed, epoch). ``report``: see :meth:`chunks`."""
        for index, chunk in enumerate(self.chunks(report)):
            x, mask = build_features(chunk, self.feature_set, self.max_particles)
            label = ak.to_numpy(chunk["label"]).astype(np.int64)
            order = np.arange(len(label))
            if shuffle:
                np.random.default_rng([seed, epoch, index]).shuffle(order)
            for start in range(0, len(order), batch_size):
                take = order[start : start + batch_size]
                yield trimmed(x[take], mask[take], label[take])

    def load_all(self, report: QualityReport | None = None) -> Batch:
        """Every jet of the source in memory (for the fixed validation set)."""
        xs, masks, labels = [], [], []
        for chunk in self.chunks(report):
            x, mask = build_features(chunk, self.feature_set, self.max_particles)
            xs.append(x)
            masks.append(mask)
            labels.append(ak.to_numpy(chunk["label"]).astype(np.int64))
        if not xs:
            held = (
                f" held out (every {self.holdout_every}-th jet of each file; give validation "
                "files instead)"
                if self.take_holdout
                else ""
            )
            msg = f"no jets{held} in {', '.join(self.paths)}"
            raise ValueError(msg)
        return Batch(np.concatenate(xs), np.concatenate(masks), np.concatenate(labels))


def trimmed(x: np.ndarray, mask: np.ndarray, label: np.ndarray) -> Batch:
    """Cut the slot axis to the longest jet of the batch (at least one slot)."""
    longest = max(int(mask.sum(axis=1).max(initial=0)), 1)
    return Batch(
        np.ascontiguousarray(x[:, :longest]), np.ascontiguousarray(mask[:, :longest]), label
    )


def _require_labels(chunk: ak.Array, paths: Sequence[str]) -> None:
    if (ak.to_numpy(chunk["label"]) < 0).any():
        unlabelled = [str(p) for p in expand_paths(paths) if _first_label(p) < 0]
        msg = (
            "training needs labelled jets; without label_* branches: "
            f"{', '.join(unlabelled) or 'some of ' + ', '.join(paths)}"
        )
        raise ValueError(msg)


def _first_label(path: object) -> int:
    """The label of a file's first kept jet (-1: the file has no label_* branches)."""
    for chunk in iterate_jets(str(path), step_size=1_000, constituent_fields=("px",)):
        if len(chunk):
            return int(chunk["label"][0])
    return 0  # no jet at all: nothing unlabelled to name


def split_sources(
    data: Sequence[str],
    val_data: Sequence[str],
    feature_set: str,
    max_particles: int,
    max_jets: int | None,
    val_fraction: float,
    val_max_jets: int,
    chunk_jets: int,
    require_labels: bool = True,
) -> tuple[JetSource, JetSource]:
    """Training and validation sources: separate files, or every k-th jet held out."""

    def source(
        paths: Sequence[str], limit: int | None, every: int | None, holdout: bool
    ) -> JetSource:
        return JetSource(
            tuple(paths),
            feature_set,
            max_particles,
            limit,
            every,
            holdout,
            chunk_jets,
            require_labels,
        )

    if val_data:
        return source(data, max_jets, None, False), source(val_data, val_max_jets, None, False)
    every = holdout_every(val_fraction)
    small = [str(p) for p in expand_paths(data) if count_entries(p) < every]
    if small:  # they give no validation jets: a class only in such files is not validated
        log.warning(
            "%d training file(s) have fewer than %d jets and give no validation jets "
            "(every %d-th jet of each file is held out): %s",
            len(small),
            every,
            every,
            ", ".join(small[:5]) + (" ..." if len(small) > 5 else ""),
        )
    return source(data, max_jets, every, False), source(data, val_max_jets, every, True)
