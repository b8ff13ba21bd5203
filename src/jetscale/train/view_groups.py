"""Training batches of whole groups of views: the data of contrastive pretraining.

A re-simulated file (``jetscale generate --resimulate K``) holds several *views*
of one hard-process object: the same hard process with the parton shower,
hadronisation, MPI and detector response simulated again. The views of one
object share a group id (:data:`~jetscale.schema.VIEW_JET_FIELDS`), unique
within its file only, so a group here is (file, group id). Contrastive
pretraining pulls the views of a group together and pushes other groups apart,
so every batch must hold **whole groups**: :class:`GroupSource` is the training
source of :mod:`jetscale.train.data` for such files, with the same guarantees.

* **Index first.** One pass over each file's jet-level branches and group ids
  (the readers' cleaning applied, so the jets that survive it are known) gives
  every group's views before any step. A file without group ids is a
  :class:`~jetscale.io.errors.JetFileError` naming it, raised then. A group left
  with a single view (one re-simulation only, or its other views dropped as
  unphysical) has nothing to be pulled towards: it is left out and counted
  (``single_view_groups`` in the run's ``data_quality.json``).
* **Order.** Within a file, groups come in the order the file completes them
  (the position of their last view). The files are read side by side in
  proportional interleaving of their groups (:mod:`jetscale.io.interleave`'s
  rule, applied to groups), so per-class files give class-mixed batches and
  negatives. U (``max_jets``) takes whole groups from the front of that order
  while they fit: the same groups for every seed, nested in larger U.
* **Windows and shuffling.** The stream is cut into windows of about
  ``chunk_jets`` jets (a window starts with the group during which the jet count
  passes a multiple of ``chunk_jets``); each window's groups are shuffled with a
  generator seeded by (seed, epoch, window) and cut into batches of
  :func:`groups_per_batch` groups. An epoch is therefore identical for the same
  (seed, epoch), a resumed run sees exactly the batches an uninterrupted one does,
  and the number of batches per epoch is known from the index.
* **Validation by group.** Without validation files every ``holdout_every``-th
  group of each file is held out, all its views with it: no group has views on
  both sides.

Batches are :class:`~jetscale.train.data.Batch` es whose ``label`` is each jet's
group index within the batch (0, 1, ...; the views of a group are adjacent);
the validation set's ``label`` numbers the groups of the whole set. The jets'
classes are not read: contrastive learning needs none.

Memory holds one window plus, per file, the jets read but not yet used. Views
written next to each other (as ``jetscale generate --resimulate`` writes them)
keep that small; a file that wrote all first views, then all second views,
would be buffered whole before its first group completes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import awkward as ak
import numpy as np

from jetscale.features import build_features
from jetscale.features.registry import reader_fields
from jetscale.io import QualityReport, expand_paths
from jetscale.io.errors import JetFileError
from jetscale.io.interleave import holdout_every
from jetscale.io.jetclass import iterate_jetclass
from jetscale.train.data import Batch, trimmed
from jetscale.train.view_directions import randomise_directions

#: The order of a grouped training stream, stored in checkpoints (see
#: :data:`~jetscale.train.data.DATA_ORDER`): groups interleaved over files, whole groups per batch.
GROUP_ORDER = "groups-interleaved-1"
#: Jets per read of a file (entries): views of a group sit within a few entries.
READ_STEP_JETS = 10_000
_Item = TypeVar("_Item")
#: The key of the validation set's random directions (training keys are (seed, epoch)).
VALIDATION_DIRECTIONS_KEY = (0x5EED, 0)


def groups_per_batch(batch_size: int, views: int) -> int:
    """Groups in a batch of at most ``batch_size`` jets when a group has up to ``views`` views.

    At least two: a batch of one group has no negatives (an error names both numbers).
    """
    groups = batch_size // max(views, 1)
    if groups < 2:
        msg = (
            f"batch_size {batch_size} holds fewer than two groups of {views} views; "
            f"contrastive pretraining needs other groups as negatives (use at least {2 * views})"
        )
        raise ValueError(msg)
    return groups


def group_slices(group: np.ndarray, batch_size: int) -> Iterator[slice]:
    """Rows of consecutive whole groups, :func:`groups_per_batch` groups at a time.

    ``group`` (N,) numbers the groups 0, 1, ... with each group's rows adjacent,
    as :meth:`GroupSource.load_all` gives them.
    """
    if not len(group):
        return
    sizes = np.bincount(group)
    per_batch = groups_per_batch(batch_size, int(sizes.max()))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for first in range(0, len(sizes), per_batch):
        yield slice(int(bounds[first]), int(bounds[min(first + per_batch, len(sizes))]))


@dataclasses.dataclass(frozen=True)
class FileGroups:
    """One file's groups of two or more views, from its index pass.

    Positions count the jets the reader yields (after its cleaning), in file order.
    """

    path: str
    group_ids: np.ndarray  # (G,) int64 group id of each kept group, in completion order
    sizes: np.ndarray  # (G,) views of each kept group (>= 2)
    positions: np.ndarray  # (sum sizes,) the kept groups' jets, group by group, file order within
    pt: np.ndarray  # (n_jets,) float32 jet pT in GeV of every jet read, by position
    eta: np.ndarray  # (n_jets,) float32
    sdmass: np.ndarray  # (n_jets,) float32 soft-drop mass in GeV (NaN without jet_sdmass)
    label: np.ndarray  # (n_jets,) int16 class index, -1 without labels (for the record only)
    single_view_groups: int  # groups left out: a single view survived

    @property
    def offsets(self) -> np.ndarray:
        """(G + 1,) where each kept group's jets start in ``positions``."""
        return np.concatenate([[0], np.cumsum(self.sizes)])


def index_file(path: str | Path) -> FileGroups:
    """The groups of one re-simulated ROOT file (one read of its jet-level branches).

    A file without group ids, or not a ROOT file, is a :class:`JetFileError` naming it.
    """
    path = Path(path)
    if path.suffix != ".root":
        raise JetFileError(path, "views of a group are read from JetClass ROOT files only")
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("group", "pt", "eta", "sdmass", "label")
    }
    for chunk in iterate_jetclass(
        path, READ_STEP_JETS, constituent_fields=("px",), view_fields=True
    ):  # one constituent field: the cleaning drops the same jets whatever fields are read
        for key in columns:
            if key == "sdmass" and key not in ak.fields(chunk):
                columns[key].append(np.full(len(chunk), np.nan))
            else:
                columns[key].append(ak.to_numpy(chunk[key]))
    joined = {
        k: np.concatenate(v) if v else np.zeros(0, np.int64 if k in ("group", "label") else float)
        for k, v in columns.items()
    }
    group = joined["group"].astype(np.int64)
    ids, inverse, counts = np.unique(group, return_inverse=True, return_counts=True)
    last = np.zeros(len(ids), dtype=np.int64)
    np.maximum.at(last, inverse, np.arange(len(group)))
    kept = np.flatnonzero(counts >= 2)
    kept = kept[np.argsort(last[kept], kind="stable")]  # completion order
    rank = np.full(len(ids), -1, dtype=np.int64)
    rank[kept] = np.arange(len(kept))
    jet_rank = rank[inverse]
    chosen = np.flatnonzero(jet_rank >= 0)
    positions = chosen[np.argsort(jet_rank[chosen], kind="stable")]
    return FileGroups(
        str(path),
        ids[kept],
        counts[kept],
        positions,
        joined["pt"].astype(np.float32),  # as the readers give them; small per jet
        joined["eta"].astype(np.float32),
        joined["sdmass"].astype(np.float32),
        joined["label"].astype(np.int16),
        int((counts == 1).sum()),
    )


@dataclasses.dataclass(frozen=True)
class GroupPlan:
    """The selected groups in stream order, their jets, and where the windows start."""

    owner: np.ndarray  # (G,) file of each group
    index: np.ndarray  # (G,) the group's index among its file's kept groups
    sizes: np.ndarray  # (G,) views of each group
    positions: np.ndarray  # (J,) each jet's position in its file, group after group
    windows: np.ndarray  # (W + 1,) first group of each window, then G

    @property
    def jets(self) -> int:
        return len(self.positions)

    @property
    def bounds(self) -> np.ndarray:
        """(G + 1,) where each group's jets start in :attr:`positions`."""
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)


def ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + n) for s, n in zip(starts, sizes)])``, without the loop."""
    sizes = np.asarray(sizes, dtype=np.int64)
    before = np.cumsum(sizes) - sizes
    return np.repeat(np.asarray(starts, dtype=np.int64) - before, sizes) + np.arange(sizes.sum())


def plan_groups(
    files: Sequence[FileGroups],
    max_jets: int | None,
    holdout: tuple[int, bool] | None,
    chunk_jets: int,
) -> GroupPlan:
    """Interleave the files' groups, apply the hold-out and U, and cut windows (see module doc)."""
    owners, indices, keys = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    for number, file in enumerate(files):
        index = np.arange(len(file.sizes))
        if holdout is not None:
            every, take_holdout = holdout
            held = index % every == every - 1
            index = index[held if take_holdout else ~held]
        owners.append(np.full(len(index), number, dtype=np.int64))
        indices.append(index)
        keys.append((np.arange(len(index)) + 0.5) / max(len(index), 1))
    owner, index = np.concatenate(owners), np.concatenate(indices)
    order = np.lexsort((owner, np.concatenate(keys)))  # by key, ties by file
    owner, index = owner[order], index[order]
    sizes = np.zeros(len(owner), dtype=np.int64)
    for number, file in enumerate(files):
        mine = owner == number
        sizes[mine] = file.sizes[index[mine]]
    if max_jets is not None:
        fits = int(np.searchsorted(np.cumsum(sizes), max_jets, side="right"))
        owner, index, sizes = owner[:fits], index[:fits], sizes[:fits]
    positions = np.zeros(int(sizes.sum()), dtype=np.int64)
    jet_owner = np.repeat(owner, sizes)
    for number, file in enumerate(files):
        mine = owner == number
        offsets = file.offsets
        rows = ranges(offsets[index[mine]], sizes[mine])
        positions[jet_owner == number] = file.positions[rows]
    before = np.cumsum(sizes) - sizes
    window = before // chunk_jets
    starts = np.flatnonzero(np.diff(window, prepend=-1))
    windows = np.concatenate([starts, [len(sizes)]]).astype(np.int64)
    return GroupPlan(owner, index, sizes, positions, windows)


class _FileReader:
    """One file's cleaned jets in file order, read ahead and released as groups are used."""

    def __init__(self, path: str, fields: Sequence[str], report: QualityReport | None) -> None:
        self.path = path
        self._chunks = iterate_jetclass(
            path, READ_STEP_JETS, fields, report=report, view_fields=True
        )
        self._buffer: ak.Array | None = None
        self.start = 0  # position of the buffer's first jet
        self.end = 0  # positions read so far

    def take(self, positions: np.ndarray) -> ak.Array:
        """The jets at ``positions`` (each at or after :attr:`start`)."""
        need = int(positions.max()) + 1
        pieces = [] if self._buffer is None else [self._buffer]
        while self.end < need:
            chunk = next(self._chunks, None)
            if chunk is None:
                msg = f"{need - self.end} jets fewer than when its groups were indexed (changed while training?)"
                raise JetFileError(Path(self.path), msg)
            pieces.append(chunk)
            self.end += len(chunk)
        self._buffer = ak.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        return self._buffer[positions - self.start]

    def release(self, before: int) -> None:
        """Forget the jets before position ``before`` (no later group needs them)."""
        if self._buffer is not None and before > self.start:
            self._buffer = ak.to_packed(self._buffer[before - self.start :])
            self.start = before


@dataclasses.dataclass(frozen=True)
class GroupSource:
    """Which groups of views of which files, and how they become batches of whole groups.

    The loop's training source (:class:`~jetscale.train.data.TrainingData`) for
    contrastive pretraining; see the module docstring for the order and batches.
    """

    paths: tuple[str, ...]
    feature_set: str
    max_particles: int
    max_jets: int | None = None  # U: whole groups from the front while they fit
    holdout_every: int | None = None  # hold out every k-th group of each file ...
    take_holdout: bool = False  # ... and yield those instead of the others
    chunk_jets: int = 20_000
    #: Every view rotated and boosted to a random direction before its features are built
    #: (:mod:`jetscale.train.view_directions`): the views of a group then share no direction.
    random_directions: bool = False
    data_order: ClassVar[str] = GROUP_ORDER
    weights: ClassVar[None] = None  # no per-jet loss weights (the loop's protocol asks)
    _cache: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def files(self) -> tuple[FileGroups, ...]:
        """Every file's groups (indexed on first use: a file without group ids raises then)."""
        if "files" not in self._cache:
            self._cache["files"] = tuple(index_file(p) for p in expand_paths(self.paths))
        files: tuple[FileGroups, ...] = self._cache["files"]
        return files

    def plan(self) -> GroupPlan:
        """The selected groups in stream order and the windows."""
        if "plan" not in self._cache:
            holdout = (self.holdout_every, self.take_holdout) if self.holdout_every else None
            self._cache["plan"] = plan_groups(self.files(), self.max_jets, holdout, self.chunk_jets)
        plan: GroupPlan = self._cache["plan"]
        return plan

    @property
    def single_view_groups(self) -> int:
        """Groups of this source's files left out with a single view (0 for a held-out part:
        the training part of the same files counts them)."""
        return 0 if self.take_holdout else sum(f.single_view_groups for f in self.files())

    def views(self) -> int:
        """The most views a selected group has (batches are sized by it)."""
        sizes = self.plan().sizes
        return int(sizes.max()) if len(sizes) else 2

    def nominal_jets(self) -> int:
        """Jets this source yields: exact, since the index applied the readers' cleaning."""
        return self.plan().jets

    def batches_per_epoch(self, batch_size: int, unique_jets: int) -> int:
        """Batches of an epoch: each window ends in a short batch. ``unique_jets`` is implied."""
        per_batch = groups_per_batch(batch_size, self.views())
        return sum(math.ceil(int(n) / per_batch) for n in np.diff(self.plan().windows))

    def kinematics(self) -> dict[str, np.ndarray]:
        """``label``, ``pt``, ``eta`` and ``sdmass`` of the jets this source yields (from the index)."""
        plan, files = self.plan(), self.files()
        jet_owner = np.repeat(plan.owner, plan.sizes)
        out: dict[str, np.ndarray] = {
            "label": np.zeros(plan.jets, np.int64),
            **{k: np.zeros(plan.jets, np.float32) for k in ("pt", "eta", "sdmass")},
        }
        for number, file in enumerate(files):
            mine = jet_owner == number
            for key, values in out.items():
                values[mine] = getattr(file, key)[plan.positions[mine]]
        return out

    def batches(
        self,
        batch_size: int,
        seed: int,
        epoch: int,
        shuffle: bool = True,
        report: QualityReport | None = None,
    ) -> Iterator[Batch]:
        """Batches of whole groups; identical for the same (seed, epoch).

        ``report`` counts what the readers dropped from the jets read, and the
        single-view groups left out.
        """
        per_batch = groups_per_batch(batch_size, self.views())
        for window, (x, mask, sizes) in enumerate(self._built_windows(report, (seed, epoch))):
            order = np.arange(len(sizes))
            if shuffle:
                np.random.default_rng([seed, epoch, window]).shuffle(order)
            bounds = np.concatenate([[0], np.cumsum(sizes)])
            for first in range(0, len(order), per_batch):
                chosen = order[first : first + per_batch]
                rows = ranges(bounds[chosen], sizes[chosen])
                label = np.repeat(np.arange(len(chosen), dtype=np.int64), sizes[chosen])
                yield trimmed(x[rows], mask[rows], label)

    def load_all(self, report: QualityReport | None = None) -> Batch:
        """Every group in memory (the fixed validation set); ``label`` numbers the groups.

        With :attr:`random_directions` the directions are drawn once, the same for
        every evaluation (and every run), so validation losses compare.
        """
        xs, masks, counts = [], [], []
        for x, mask, sizes in self._built_windows(report, VALIDATION_DIRECTIONS_KEY):
            xs.append(x)
            masks.append(mask)
            counts.append(sizes)
        if not xs:
            held = (
                f" held out (every {self.holdout_every}-th group of each file; give "
                "validation files instead)"
                if self.take_holdout
                else ""
            )
            msg = f"no groups of two or more views{held} in {', '.join(self.paths)}"
            raise ValueError(msg)
        sizes = np.concatenate(counts)
        kinematics = self.kinematics()
        return Batch(
            np.concatenate(xs),
            np.concatenate(masks),
            np.repeat(np.arange(len(sizes), dtype=np.int64), sizes),
            pt=kinematics["pt"].astype(np.float64),
            sdmass=(
                None
                if np.isnan(kinematics["sdmass"]).all()
                else kinematics["sdmass"].astype(np.float64)
            ),
        )

    def _built_windows(
        self, report: QualityReport | None, key: tuple[int, ...]
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Features (N, P, F), mask (N, P) and group sizes (G,) of each window, groups in order.

        A source of one window (U <= chunk_jets) is read once and kept, as
        :class:`~jetscale.train.data.JetSource` keeps a small source: its features,
        or with :attr:`random_directions` its jets, whose features are built again
        for each ``key`` (seed, epoch) with the directions of the generator seeded
        by (``key``, window).
        """
        if report is not None:
            report.single_view_groups += self.single_view_groups
        plan = self.plan()
        if not self.random_directions:
            yield from self._kept(
                "features",
                lambda: (
                    (*build_features(jets, self.feature_set, self.max_particles), sizes)
                    for jets, sizes in self._windows(plan, report)
                ),
            )
            return
        windows = self._kept("jets", lambda: self._windows(plan, report))
        for window, (jets, sizes) in enumerate(windows):
            try:
                moved = randomise_directions(jets, np.random.default_rng([*key, window]))
            except ValueError as err:
                msg = f"{', '.join(self.paths)}: random directions: {err}"
                raise ValueError(msg) from err
            yield (*build_features(moved, self.feature_set, self.max_particles), sizes)

    def _kept(self, name: str, make: Callable[[], Iterator[_Item]]) -> Iterable[_Item]:
        """``make()``'s windows; those of a source of one window kept under ``name`` once complete."""
        if len(self.plan().windows) > 2:
            return make()
        if name not in self._cache:
            self._cache[name] = list(make())
        kept: list[_Item] = self._cache[name]
        return kept

    def _windows(
        self, plan: GroupPlan, report: QualityReport | None
    ) -> Iterator[tuple[ak.Array, np.ndarray]]:
        """The jets of each window, group after group, and the windows' group sizes."""
        files = self.files()
        fields = reader_fields(self.feature_set)
        readers: dict[int, _FileReader] = {}
        bounds = plan.bounds
        jet_owner = np.repeat(plan.owner, plan.sizes)
        jet_group = np.repeat(np.arange(len(plan.sizes)), plan.sizes)
        # Per file: from each group on, the first position a group of the file still needs
        # (a group's views are in file order: its first jet), so reads are released behind.
        first = plan.positions[bounds[:-1]]
        still_needed: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for number in np.unique(plan.owner):
            groups = np.flatnonzero(plan.owner == number)
            still_needed[int(number)] = (groups, np.minimum.accumulate(first[groups][::-1])[::-1])
        for start, stop in zip(plan.windows[:-1], plan.windows[1:], strict=True):
            rows = np.arange(bounds[start], bounds[stop])
            pieces, order = [], []
            for number in np.unique(jet_owner[rows]):
                number = int(number)
                mine = rows[jet_owner[rows] == number]
                if number not in readers:
                    readers[number] = _FileReader(files[number].path, fields, report)
                jets = readers[number].take(plan.positions[mine])
                expected = files[number].group_ids[plan.index[jet_group[mine]]]
                if not np.array_equal(ak.to_numpy(jets["group"]), expected):
                    msg = (
                        "group ids differ from when the file was indexed (changed while training?)"
                    )
                    raise JetFileError(Path(files[number].path), msg, "jet_group")
                pieces.append(jets)
                order.append(mine)
                groups, needed = still_needed[number]
                later = int(np.searchsorted(groups, stop))
                reader = readers[number]
                reader.release(int(needed[later]) if later < len(groups) else reader.end)
            joined = ak.concatenate(pieces) if len(pieces) > 1 else pieces[0]
            # Back to stream order: group after group, a group's views in file order.
            yield joined[np.argsort(np.concatenate(order), kind="stable")], plan.sizes[start:stop]


def group_sources(
    data: Sequence[str],
    val_data: Sequence[str],
    feature_set: str,
    max_particles: int,
    max_jets: int | None,
    val_fraction: float,
    val_max_jets: int,
    chunk_jets: int,
    random_directions: bool = False,
) -> tuple[GroupSource, GroupSource]:
    """Training and validation sources of whole groups: separate files, or every k-th group held out.

    Both are indexed here, so a file without group ids is named before any step.
    """

    def source(
        paths: Sequence[str], limit: int | None, every: int | None, held: bool
    ) -> GroupSource:
        return GroupSource(
            tuple(paths),
            feature_set,
            max_particles,
            limit,
            every,
            held,
            chunk_jets,
            random_directions,
        )

    if val_data:
        train, val = (
            source(data, max_jets, None, False),
            source(val_data, val_max_jets, None, False),
        )
    else:
        every = holdout_every(val_fraction)
        train, val = source(data, max_jets, every, False), source(data, val_max_jets, every, True)
        val._cache["files"] = train.files()  # the same files: indexed once
    train.plan()
    val.plan()
    return train, val
