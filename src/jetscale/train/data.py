"""Streaming training batches from jet files: bounded memory, deterministic, resumable.

Files are read in order, ``chunk_jets`` jets at a time; each chunk's features are
built once, its jets shuffled with a generator seeded by (seed, epoch, chunk), and
cut into batches. "U unique jets" are the first U training jets in file order,
so repeating them for E epochs repeats exactly the same jets (scaling studies of
data repetition need that). Without separate validation files every
``holdout_every``-th jet is held out for validation.

Each batch is trimmed to its longest jet: padding to 128 for a batch of 40-particle
jets would triple the compute for nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import awkward as ak
import numpy as np

from jetscale.features import build_features
from jetscale.features.registry import reader_fields
from jetscale.io import QualityReport, expand_paths, iterate_jets
from jetscale.io.reader import count_entries


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
    holdout_every: int | None = None  # hold out every k-th jet ...
    take_holdout: bool = False  # ... and yield those instead of the others
    chunk_jets: int = 20_000

    def nominal_jets(self) -> int:
        """Jets this source yields according to file metadata (before data-quality drops)."""
        total = 0
        for path in expand_paths(self.paths):
            total += count_entries(path)
        if self.holdout_every:
            held = total // self.holdout_every
            total = held if self.take_holdout else total - held
        return total if self.max_jets is None else min(total, self.max_jets)

    def chunks(self, report: QualityReport | None = None) -> Iterator[ak.Array]:
        """Jets in file order, ``chunk_jets`` at a time, after hold-out and the U limit.

        ``report`` counts what the readers dropped from the jets read (all of
        them, held-out ones included; reading stops once U jets are yielded).
        """
        fields = reader_fields(self.feature_set)
        seen, emitted = 0, 0
        pending: list[ak.Array] = []
        pending_n = 0
        chunks = iterate_jets(
            self.paths, step_size=self.chunk_jets, constituent_fields=fields, report=report
        )
        for chunk in chunks:
            n_read = len(chunk)
            if self.holdout_every:
                index = np.arange(seen, seen + n_read)
                held = index % self.holdout_every == self.holdout_every - 1
                chunk = chunk[held if self.take_holdout else ~held]
            seen += n_read
            if self.max_jets is not None:
                chunk = chunk[: max(self.max_jets - emitted, 0)]
            if len(chunk):
                _require_labels(chunk)
                pending.append(chunk)
                pending_n += len(chunk)
                emitted += len(chunk)
            while pending_n >= self.chunk_jets:
                joined = ak.concatenate(pending) if len(pending) > 1 else pending[0]
                yield joined[: self.chunk_jets]
                rest = joined[self.chunk_jets :]
                pending, pending_n = ([rest], len(rest)) if len(rest) else ([], 0)
            if self.max_jets is not None and emitted >= self.max_jets:
                break
        if pending_n:
            yield ak.concatenate(pending) if len(pending) > 1 else pending[0]

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
            msg = f"no jets in {', '.join(self.paths)}"
            raise ValueError(msg)
        return Batch(np.concatenate(xs), np.concatenate(masks), np.concatenate(labels))


def trimmed(x: np.ndarray, mask: np.ndarray, label: np.ndarray) -> Batch:
    """Cut the slot axis to the longest jet of the batch (at least one slot)."""
    longest = max(int(mask.sum(axis=1).max(initial=0)), 1)
    return Batch(
        np.ascontiguousarray(x[:, :longest]), np.ascontiguousarray(mask[:, :longest]), label
    )


def _require_labels(chunk: ak.Array) -> None:
    if (ak.to_numpy(chunk["label"]) < 0).any():
        msg = "training needs labelled jets: some input files have no label_* branches"
        raise ValueError(msg)


def split_sources(
    data: Sequence[str],
    val_data: Sequence[str],
    feature_set: str,
    max_particles: int,
    max_jets: int | None,
    val_fraction: float,
    val_max_jets: int,
    chunk_jets: int,
) -> tuple[JetSource, JetSource]:
    """Training and validation sources: separate files, or every k-th jet held out."""

    def source(
        paths: Sequence[str], limit: int | None, every: int | None, holdout: bool
    ) -> JetSource:
        return JetSource(
            tuple(paths), feature_set, max_particles, limit, every, holdout, chunk_jets
        )

    if val_data:
        return source(data, max_jets, None, False), source(val_data, val_max_jets, None, False)
    every = max(round(1 / val_fraction), 2)
    return source(data, max_jets, every, False), source(data, val_max_jets, every, True)
