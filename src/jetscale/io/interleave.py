"""Many jet files read as one class-mixed stream, in a fixed order, with bounded memory.

JetClass ships one class per file (``HToBB_*.root``, 100k jets each). Reading
such files one after the other gives a training run 100k jets of one class,
then 100k of the next; the first U jets are a single class. Like weaver-core,
which reads a slice of every file at each fetch, the files here are read side
by side. The order is *proportional interleaving*: the j-th jet of a file with
n jets gets the key (j + 1/2) / n, and the stream is all jets sorted by key
(ties by the order of the files). So

* every prefix of the stream holds each file's jets in proportion to its size:
  within one jet for files of equal size (within 1/2 + F/2 x its share for F
  files in general), so the first U jets of per-class files are class-mixed in
  the proportions of the inputs, for every U;
* the order depends only on the files, never on U, on the window or on memory
  settings: smaller U are nested in larger ones, which data-scaling fits need;
* within a file, jets keep their file order, so each file is read sequentially.

The stream comes out in *windows* of consecutive jets (the training source
shuffles within one). Memory holds one window plus a read-ahead buffer per file
(``read_buffer_jets`` jets over all files), so it does not grow with the number
of files' jets: a sweep over 100M jets in 1,000 files needs the same memory as
one over 100k. With very many files the per-file read-ahead gets small and
reads get frequent; raise ``read_buffer_jets`` if reading, not training, is
slow.

The proportions are those of the files' entry counts, from metadata
(:func:`~jetscale.io.reader.count_entries`). Jets the readers drop as invalid
(:mod:`jetscale.io.quality`, counted in the report and in a run's
``data_quality.json``) do not appear, and the next jets of their file take their
keys: a file that loses a large share of its jets to cleaning runs out early and
is missing from the end of the stream (real files lose almost none). Parquet
files are read a row group at a time whatever the read-ahead, so their buffers
are one row group each (50,000 jets with :func:`~jetscale.io.write_parquet`'s
default); many parquet files side by side want smaller row groups.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import awkward as ak
import numpy as np

from jetscale.io.errors import JetFileError
from jetscale.io.paths import expand_paths
from jetscale.io.quality import QualityReport
from jetscale.io.reader import count_entries, iterate_jets
from jetscale.task import Task

#: Jets held in read-ahead buffers, over all files together.
READ_BUFFER_JETS = 100_000


class _FileStream:
    """One file's jets in file order, read ahead ``step`` jets at a time."""

    def __init__(
        self,
        path: Path,
        size: int,
        step: int,
        fields: Sequence[str] | None,
        report: QualityReport | None,
        holdout: tuple[int, bool] | None,
        task: Task | None,
    ) -> None:
        self.path, self.size = path, size
        chunks = iterate_jets(path, step, fields, report=report, task=task)
        self._chunks = _selected(chunks, holdout)
        self._buffer: list[ak.Array] = []
        self.buffered = 0
        self.taken = 0  # jets handed out so far: the next jet's index j
        self.exhausted = False

    def fill(self, wanted: int) -> None:
        """Read ahead until ``wanted`` jets are buffered or the file is exhausted."""
        while self.buffered < wanted and not self.exhausted:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.exhausted = True
            elif len(chunk):
                self._buffer.append(chunk)
                self.buffered += len(chunk)

    def take(self, count: int) -> ak.Array:
        joined = ak.concatenate(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
        self._buffer = [joined[count:]] if count < len(joined) else []
        self.buffered -= count
        self.taken += count
        # Packed: concatenating slices of a large buffer copies whole buffers (3x slower).
        return ak.to_packed(joined[:count])


def interleave_jets(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    window_jets: int,
    constituent_fields: Sequence[str] | None = None,
    report: QualityReport | None = None,
    read_buffer_jets: int = READ_BUFFER_JETS,
    holdout_every: int | None = None,
    take_holdout: bool = False,
    task: Task | None = None,
) -> Iterator[ak.Array]:
    """The jets of ``paths`` in proportional-interleaving order, ``window_jets`` at a time.

    Every window but the last has exactly ``window_jets`` jets. With
    ``holdout_every = k`` every k-th jet *of each file* is held out (yielded
    instead of the others with ``take_holdout``): a hold-out of every k-th jet of
    the interleaved stream would alias with its class pattern (four files of
    equal size and k = 10 hold out two classes only). Files whose jets cannot be
    concatenated with the first file's (another layout) are refused with a
    :class:`JetFileError` naming both. ``label`` indexes ``task``'s classes.
    """
    if window_jets < 1:
        msg = f"window_jets must be >= 1, got {window_jets}"
        raise ValueError(msg)
    files = expand_paths(paths)
    holdout = (holdout_every, take_holdout) if holdout_every else None
    sizes = [selected_size(count_entries(path), holdout) for path in files]
    total = sum(sizes)
    if total == 0:
        return
    per_file_buffer = max(read_buffer_jets // max(len(files), 1), 1)
    streams = []
    for path, size in zip(files, sizes, strict=True):
        share = math.ceil(window_jets * size / total)
        step = min(max(per_file_buffer, 2 * share + 2), max(size, 1))
        streams.append(_FileStream(path, size, step, constituent_fields, report, holdout, task))
    schema_of: tuple[Path, ak.types.Type] | None = None
    while True:
        window = _next_window(streams, window_jets, total)
        if window is None:
            return
        pieces, order = window
        for stream, piece in pieces:
            if schema_of is None:
                schema_of = (stream.path, piece.type.content)
            elif piece.type.content != schema_of[1]:
                raise JetFileError(
                    stream.path,
                    f"its jets have another layout than those of {schema_of[0]} "
                    f"({piece.type.content} against {schema_of[1]}); files read together "
                    "must share one layout",
                )
        joined = ak.concatenate([piece for _, piece in pieces]) if len(pieces) > 1 else pieces[0][1]
        yield joined[order]


def _next_window(
    streams: Sequence[_FileStream], window_jets: int, total: int
) -> tuple[list[tuple[_FileStream, ak.Array]], np.ndarray] | None:
    """The next ``window_jets`` jets of the merged order: pieces per file and their order.

    Candidates are each file's next jets (about its share of a window); if a file
    had all its candidates chosen, it may own more of the window, so its share is
    doubled and the choice made again. The result is the exact merge by key.
    """
    wanted = {
        index: math.ceil(window_jets * s.size / total) + 2
        for index, s in enumerate(streams)
        if s.size > 0
    }
    while True:
        keys, owners = [], []
        for index, want in wanted.items():
            stream = streams[index]
            stream.fill(want)
            available = min(stream.buffered, want)
            keys.append((stream.taken + np.arange(available) + 0.5) / stream.size)
            owners.append(np.full(available, index))
        key = np.concatenate(keys) if keys else np.zeros(0)
        if not len(key):
            return None
        owner = np.concatenate(owners)
        chosen = np.lexsort((owner, key))[:window_jets]
        counts = np.bincount(owner[chosen], minlength=len(streams))
        saturated = [
            index
            for index, want in wanted.items()
            if counts[index] == want and not _ran_out(streams[index], want)
        ]
        if not saturated:
            break
        for index in saturated:
            wanted[index] *= 2
    pieces = [
        (stream, stream.take(int(counts[index])))
        for index, stream in enumerate(streams)
        if counts[index]
    ]
    # The pieces are concatenated in file order, each in its file's order, which is
    # the merged order restricted to that file: a stable sort by file maps one to the other.
    chosen_owner = owner[chosen]
    position = np.empty(len(chosen), dtype=np.int64)
    position[np.argsort(chosen_owner, kind="stable")] = np.arange(len(chosen))
    return pieces, position


def holdout_every(val_fraction: float) -> int:
    """k of the hold-out "every k-th jet of each file" that holds out ``val_fraction``."""
    return max(round(1 / val_fraction), 2)


def selected_size(entries: int, holdout: tuple[int, bool] | None) -> int:
    """Jets of a file of ``entries`` jets that a hold-out ``(every, take_holdout)`` selects."""
    if holdout is None:
        return entries
    every, take_holdout = holdout
    held = entries // every
    return held if take_holdout else entries - held


def _selected(chunks: Iterator[ak.Array], holdout: tuple[int, bool] | None) -> Iterator[ak.Array]:
    """A file's chunks restricted to the held-out jets (index % every == every - 1) or the others."""
    if holdout is None:
        yield from chunks
        return
    every, take_holdout = holdout
    seen = 0
    for chunk in chunks:
        held = (np.arange(seen, seen + len(chunk)) % every) == every - 1
        seen += len(chunk)
        yield chunk[held if take_holdout else ~held]


def _ran_out(stream: _FileStream, chosen: int) -> bool:
    """Whether every jet the file still has was chosen (nothing more to offer)."""
    return stream.exhausted and stream.buffered <= chosen
