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
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Protocol

import awkward as ak
import numpy as np

from jetscale.features import build_features
from jetscale.features.registry import reader_fields
from jetscale.io import QualityReport, expand_paths, iterate_jets
from jetscale.io.interleave import holdout_every, interleave_jets, selected_size
from jetscale.io.jetclass import is_resimulated
from jetscale.io.reader import count_entries, label_branches_of
from jetscale.schema import CLASS_NAMES
from jetscale.task import Task, parse_task

log = logging.getLogger(__name__)


#: The order of the training stream, stored in checkpoints: a run is resumed only in
#: the order it started in (files one after the other before this one).
DATA_ORDER = "interleaved-1"


@dataclasses.dataclass(frozen=True)
class Batch:
    """One training batch, padded only to its longest jet."""

    x: np.ndarray  # (B, P_batch, F) float32
    mask: np.ndarray  # (B, P_batch) bool
    label: np.ndarray  # (B,) int64 class (contrastive batches: the jet's group in the batch)
    class_names: tuple[str, ...] = CLASS_NAMES  # what label indexes (the task's classes)
    weight: np.ndarray | None = None  # (B,) float32 per-jet loss weights (mass decorrelation)
    pt: np.ndarray | None = None  # (B,) jet pT in GeV (validation sets: per-pT-bin metrics)
    sdmass: np.ndarray | None = None  # (B,) soft-drop mass in GeV (validation: sculpting)


class TrainingData(Protocol):
    """What the training loop reads of a training or validation source.

    :class:`JetSource` (jets in interleaved order) for every objective but
    contrastive pretraining, whose source yields batches of whole groups of
    views (:class:`~jetscale.train.view_groups.GroupSource`).
    """

    @property
    def paths(self) -> tuple[str, ...]:
        """The files (paths, globs, directories, .txt lists) as given."""
        ...

    @property
    def data_order(self) -> str:
        """The order of the stream, stored in checkpoints: a run resumes only in its own."""
        ...

    @property
    def weights(self) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None:
        """Per-jet loss weights from (label, pT, m_SD), or ``None``."""
        ...

    def nominal_jets(self) -> int:
        """Jets the source yields in one epoch (U)."""
        ...

    def batches_per_epoch(self, batch_size: int, unique_jets: int) -> int:
        """Batches :meth:`batches` yields in one epoch."""
        ...

    def kinematics(self) -> dict[str, np.ndarray]:
        """``label``, ``pt``, ``eta`` and ``sdmass`` of exactly the jets the source yields."""
        ...

    def batches(
        self,
        batch_size: int,
        seed: int,
        epoch: int,
        shuffle: bool = True,
        report: QualityReport | None = None,
    ) -> Iterator[Batch]:
        """Batches of one epoch, identical for the same (seed, epoch)."""
        ...

    def load_all(self, report: QualityReport | None = None) -> Batch:
        """Every jet of the source in memory (the fixed validation set)."""
        ...


@dataclasses.dataclass(frozen=True)
class JetSource:
    """Which jets of which files, and how they become tagger inputs."""

    data_order: ClassVar[str] = DATA_ORDER
    paths: tuple[str, ...]
    feature_set: str
    max_particles: int
    max_jets: int | None = None  # stop after this many jets (U)
    holdout_every: int | None = None  # hold out every k-th jet of each file ...
    take_holdout: bool = False  # ... and yield those instead of the others
    chunk_jets: int = 20_000
    require_labels: bool = True  # False for objectives that learn from the jets alone (MPM)
    task: str = "jetclass"  # the classes ``label`` indexes (jetscale.task)
    #: Per-jet loss weights from (label, pT, m_SD), e.g. :class:`~jetscale.train.reweight.MassPtWeights`.
    weights: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = dataclasses.field(
        default=None, compare=False, repr=False
    )
    #: Built features of a source small enough to keep (U <= chunk_jets), reused every epoch.
    _kept: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]] = (
        dataclasses.field(default_factory=dict, compare=False, repr=False)
    )

    def nominal_jets(self) -> int:
        """Jets this source yields (before data-quality drops).

        From file metadata when no file labels a class outside the task; otherwise
        the labels are read (:meth:`class_counts`), since those jets are left out.
        A class of an explicit task without jets is an error naming it.
        """
        holdout = (self.holdout_every, self.take_holdout) if self.holdout_every else None
        task = parse_task(self.task)
        if not self.require_labels or all(
            set(label_branches_of(p)) <= set(task.branches) for p in expand_paths(self.paths)
        ):  # no file labels a class outside the task: every jet counts
            total = sum(selected_size(count_entries(p), holdout) for p in expand_paths(self.paths))
        else:
            counts = self.class_counts()
            empty = [c for c, n in zip(task.classes, counts, strict=True) if n == 0]
            if empty and not task.is_jetclass:
                named = "; ".join(f"{c.name} ({'+'.join(c.branches)})" for c in empty)
                msg = f"task {task.spec!r}: no jets of {named} in {', '.join(self.paths)}"
                raise ValueError(msg)
            total = int(counts.sum())
        return total if self.max_jets is None else min(total, self.max_jets)

    def class_counts(self) -> np.ndarray:
        """Jets of each task class among the selected jets of all files (labels are read)."""
        task = parse_task(self.task)
        counts = np.zeros(len(task.classes), dtype=np.int64)
        holdout = (self.holdout_every, self.take_holdout) if self.holdout_every else None
        for path in expand_paths(self.paths):
            seen = 0
            for chunk in iterate_jets(path, constituent_fields=("px",), task=task):
                label = ak.to_numpy(chunk["label"])
                if holdout is not None:
                    held = (np.arange(seen, seen + len(label)) % holdout[0]) == holdout[0] - 1
                    label = label[held if holdout[1] else ~held]
                seen += len(chunk)
                counts += np.bincount(label[label >= 0], minlength=len(counts))
        return counts

    def kinematics(self) -> dict[str, np.ndarray]:
        """``label``, ``pt``, ``eta`` and ``sdmass`` (GeV) of exactly the jets this source yields.

        One read of the stream (no features are built): the training phase space
        and the mass-decorrelation weights come from the jets actually trained on.
        """
        keys = ("label", "pt", "eta", "sdmass")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        for chunk in self.chunks():
            for key in keys:
                if key == "sdmass" and key not in ak.fields(chunk):
                    # Files without jet_sdmass (it is optional): NaN, outside every grid.
                    parts[key].append(np.full(len(chunk), np.nan))
                else:
                    parts[key].append(ak.to_numpy(chunk[key]))
        return {
            k: np.concatenate(v) if v else np.zeros(0, np.int64 if k == "label" else np.float64)
            for k, v in parts.items()
        }

    def chunks(self, report: QualityReport | None = None) -> Iterator[ak.Array]:
        """Jets in interleaved order, ``chunk_jets`` at a time, after hold-out and the U limit.

        ``report`` counts what the readers dropped from the jets read (all of
        them, held-out ones included; reading stops once U jets are yielded).
        """
        emitted = 0
        for chunk in self._task_chunks(report):
            if self.max_jets is not None:
                chunk = chunk[: max(self.max_jets - emitted, 0)]
            if len(chunk):
                emitted += len(chunk)
                yield chunk
            if self.max_jets is not None and emitted >= self.max_jets:
                return

    def _task_chunks(self, report: QualityReport | None) -> Iterator[ak.Array]:
        """The interleaved stream's jets of the task's classes, exactly ``chunk_jets`` at a time.

        Jets outside the task are left out (and counted) after interleaving, which
        keeps the order of the others; the windows are then filled up again, so that
        every chunk but the last holds ``chunk_jets`` jets and an epoch has exactly
        :meth:`batches_per_epoch` batches.
        """
        pending: list[ak.Array] = []
        held = 0
        for window in interleave_jets(
            self.paths,
            window_jets=self.chunk_jets,
            constituent_fields=reader_fields(self.feature_set),
            report=report,
            holdout_every=self.holdout_every,
            take_holdout=self.take_holdout,
            task=parse_task(self.task),
        ):
            if self.require_labels:
                # Labelled files only (split_sources checks): -1 is a class outside the task.
                inside = ak.to_numpy(window["label"]) >= 0
                if not inside.all():
                    if report is not None:
                        report.jets_outside_task += int((~inside).sum())
                    window = window[inside]
            if not pending and len(window) == self.chunk_jets:
                yield window  # nothing left out: windows are chunks already
                continue
            pending.append(window)
            held += len(window)
            while held >= self.chunk_jets:
                joined = ak.concatenate(pending) if len(pending) > 1 else pending[0]
                yield ak.to_packed(joined[: self.chunk_jets])
                rest = joined[self.chunk_jets :]
                pending, held = ([rest], len(rest)) if len(rest) else ([], 0)
        if held:
            yield ak.concatenate(pending) if len(pending) > 1 else pending[0]

    def batches_per_epoch(self, batch_size: int, unique_jets: int) -> int:
        """Batches :meth:`batches` yields for ``unique_jets`` jets: each chunk ends in a short batch."""
        full, rest = divmod(unique_jets, self.chunk_jets)
        return full * math.ceil(self.chunk_jets / batch_size) + math.ceil(rest / batch_size)

    def batches(
        self,
        batch_size: int,
        seed: int,
        epoch: int,
        shuffle: bool = True,
        report: QualityReport | None = None,
    ) -> Iterator[Batch]:
        """Batches of one epoch; identical for the same (seed, epoch). ``report``: see :meth:`chunks`."""
        for index, (x, mask, label, weight) in enumerate(self._built_chunks(report)):
            order = np.arange(len(label))
            if shuffle:
                np.random.default_rng([seed, epoch, index]).shuffle(order)
            for start in range(0, len(order), batch_size):
                take = order[start : start + batch_size]
                yield trimmed(
                    x[take], mask[take], label[take], None if weight is None else weight[take]
                )

    def _built_chunks(
        self, report: QualityReport | None
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]:
        """Features and labels of each chunk, in order.

        A source of at most ``chunk_jets`` jets (few-label fine-tuning: U = 100
        jets for hundreds of epochs) is read and built once and kept: reading the
        files again each epoch would cost far more than the training. The chunks
        are the same either way, so are the batches.
        """
        small = self.max_jets is not None and self.max_jets <= self.chunk_jets
        if small and "chunks" in self._kept:
            yield from self._kept["chunks"]
            return
        built = (
            (
                *build_features(chunk, self.feature_set, self.max_particles),
                ak.to_numpy(chunk["label"]).astype(np.int64),
                self._weights_of(chunk),
            )
            for chunk in self.chunks(report)
        )
        if not small:
            yield from built
            return
        self._kept["chunks"] = kept = list(built)  # kept only once complete
        yield from kept

    def _weights_of(self, chunk: ak.Array) -> np.ndarray | None:
        if self.weights is None:
            return None
        mass = chunk["sdmass"] if "sdmass" in ak.fields(chunk) else np.full(len(chunk), np.nan)
        return self.weights(ak.to_numpy(chunk["label"]), ak.to_numpy(chunk["pt"]), np.asarray(mass))

    def load_all(self, report: QualityReport | None = None) -> Batch:
        """Every jet of the source in memory (for the fixed validation set), with pT and m_SD."""
        xs, masks, labels, pts, masses = [], [], [], [], []
        for chunk in self.chunks(report):
            x, mask = build_features(chunk, self.feature_set, self.max_particles)
            xs.append(x)
            masks.append(mask)
            labels.append(ak.to_numpy(chunk["label"]).astype(np.int64))
            pts.append(ak.to_numpy(chunk["pt"]).astype(np.float64))
            masses.append(
                ak.to_numpy(chunk["sdmass"]).astype(np.float64)
                if "sdmass" in ak.fields(chunk)
                else np.full(len(chunk), np.nan)
            )
        if not xs:
            held = (
                f" held out (every {self.holdout_every}-th jet of each file; give validation "
                "files instead)"
                if self.take_holdout
                else ""
            )
            msg = f"no jets{held} in {', '.join(self.paths)}"
            raise ValueError(msg)
        names = parse_task(self.task).names
        return Batch(
            np.concatenate(xs),
            np.concatenate(masks),
            np.concatenate(labels),
            names,
            pt=np.concatenate(pts),
            sdmass=None if np.isnan(sdmass := np.concatenate(masses)).all() else sdmass,
        )


def trimmed(
    x: np.ndarray, mask: np.ndarray, label: np.ndarray, weight: np.ndarray | None = None
) -> Batch:
    """Cut the slot axis to the longest jet of the batch (at least one slot)."""
    longest = max(int(mask.sum(axis=1).max(initial=0)), 1)
    return Batch(
        np.ascontiguousarray(x[:, :longest]),
        np.ascontiguousarray(mask[:, :longest]),
        label,
        weight=weight,
    )


def check_task_files(paths: Sequence[str], task: Task) -> None:
    """Refuse, before any step, files a supervised run cannot learn ``task`` from.

    Every file needs ``label_*`` branches; every branch of an explicit task must be
    in at least one file (a typo would otherwise make an empty class). The
    JetClass task checks its ten branches when the files are read.
    """
    files = [str(p) for p in expand_paths(paths)]
    present = {path: set(label_branches_of(path)) for path in files}
    unlabelled = [path for path, branches in present.items() if not branches]
    if unlabelled:
        msg = f"training needs labelled jets; without label_* branches: {', '.join(unlabelled)}"
        raise ValueError(msg)
    if task.is_jetclass:
        return
    everywhere = set().union(*present.values())
    for cls in task.classes:
        missing = [b for b in cls.branches if b not in everywhere]
        if missing:
            found = ", ".join(sorted(everywhere))
            msg = (
                f"task {task.spec!r}: no file has {', '.join(missing)} (class {cls.name!r}); "
                f"files: {', '.join(files)}; their label branches: {found}"
            )
            raise ValueError(msg)


def check_task_classes(data: Batch, task: Task, where: str) -> None:
    """Every class of an explicit ``task`` has jets in ``data`` (else: an error naming it)."""
    if task.is_jetclass:
        return
    counts = np.bincount(data.label, minlength=len(task.classes))
    empty = [
        (cls.name, cls.branches) for cls, n in zip(task.classes, counts, strict=True) if n == 0
    ]
    if empty:
        named = "; ".join(f"{name} ({'+'.join(branches)})" for name, branches in empty)
        msg = f"task {task.spec!r}: no jets of {named} in {where}"
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
    require_labels: bool = True,
    task: str = "jetclass",
) -> tuple[JetSource, JetSource]:
    """Training and validation sources: separate files, or every k-th jet held out.

    With labels required, the files are checked against ``task`` first
    (:func:`check_task_files`).
    """
    if require_labels:
        for paths in (data, val_data):
            if paths:
                check_task_files(paths, parse_task(task))

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
            task,
        )

    if val_data:
        return source(data, max_jets, None, False), source(val_data, val_max_jets, None, False)
    every = holdout_every(val_fraction)
    if views := [str(p) for p in expand_paths(data) if is_resimulated(p)]:
        msg = (
            f"{views[0]} holds re-simulated views (jet_group): holding out every {every}-th "
            "jet would put views of one hard process on both sides of the split; give "
            "--val-data with other files (--objective contrastive splits by group)"
        )
        raise ValueError(msg)
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


#: The file in a run directory that says which jets the run trained on.
TRAINING_DATA_NAME = "training_data.json"


def with_training_record(
    source: JetSource, mass_decorrelation: str = "none"
) -> tuple[JetSource, dict[str, Any]]:
    """The training source, weighted if asked, and what ``training_data.json`` records of it.

    One read of the training stream gives the phase space the jets cover (export
    writes it into the model card; the processors count jets outside it) and,
    for ``mass_decorrelation="flat-pt-msd"``, the (pT, m_SD) weights
    (:mod:`jetscale.train.reweight`), from exactly the jets trained on.
    """
    from jetscale.train.reweight import FLAT_PT_MSD, MassPtWeights

    kinematics = source.kinematics()
    record = training_record(kinematics)
    if mass_decorrelation == FLAT_PT_MSD:
        if len(kinematics["sdmass"]) and np.isnan(kinematics["sdmass"]).all():
            msg = f"mass decorrelation needs the soft-drop mass (branch jet_sdmass), which no training jet of {', '.join(source.paths)} has"
            raise ValueError(msg)
        n_classes = len(parse_task(source.task).classes)
        weights = MassPtWeights.fit(
            kinematics["label"], kinematics["pt"], kinematics["sdmass"], n_classes
        )
        source = dataclasses.replace(source, weights=weights, _kept={})
        record["mass_decorrelation"] = weights.describe()
        log.info(
            "mass decorrelation: %d of %d training jets get weight 0 (outside the grid or "
            "in sparse bins); largest weight %.3g",
            sum(weights.zero_weight_jets),
            len(kinematics["label"]),
            weights.table.max(initial=0.0),
        )
    return source, record


def training_record(kinematics: dict[str, np.ndarray]) -> dict[str, Any]:
    """What ``training_data.json`` records of the training jets' ``kinematics`` (unweighted).

    The jets trained on and the phase space they cover (export writes it into
    the model card; the processors count jets outside it).
    """
    from jetscale.phase_space import PhaseSpace

    return {
        "jets": len(kinematics["label"]),
        "phase_space": (
            PhaseSpace.of_jets(kinematics["pt"], kinematics["eta"]).to_json()
            if len(kinematics["label"])
            else None
        ),
        "mass_decorrelation": None,
    }
