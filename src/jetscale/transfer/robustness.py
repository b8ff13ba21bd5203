"""How much a tagger's score moves when only the simulation of a jet changes.

``jetscale generate --resimulate K --variations nominal,fsr_up,...`` simulates one
hard-process object several times (parton shower, hadronisation, MPI, detector
response), each time a *view*, possibly with a named variation of the simulation.
Views of one object share a ``group`` id (unique within a file). Comparing a
tagger's discriminant between views of the same object isolates what the
variation does to the score, free of the spread between different hard
processes that a comparison of two independent samples would carry.

**Reference.** In each group the first view (lowest view index) named
:data:`NOMINAL` is the reference; every other view of the group is paired with it.
A group without a nominal view (its nominal jets dropped by the readers'
cleaning) has no pairs and is counted. A file whose view list has no nominal view
is an error naming it.

**The noise floor.** Two nominal views differ by the re-simulation alone (another
shower, hadronisation and detector response of the same hard process), so the
``nominal`` row, the other nominal views against the reference, is the spread a
variation must exceed to matter. The spread of a variation's shifts always
includes that noise; its mean shift is the systematic effect, with its standard
error.

**Per variation** (a name of the files' view lists, ``nominal`` included):
over the groups that have the reference and views of that variation, the number
of pairs and the mean, standard deviation (``ddof=1``), standard error and mean
absolute value of the shift ``s_view - s_reference``, separately for signal and
background jets (a pair's class is its reference jet's); and the AUC of signal
against background on the variation's views against the AUC on the reference
views of the same groups (:func:`jetscale.metrics.roc_auc`), and their difference.

Pure NumPy on per-jet arrays: no files, no models (:mod:`jetscale.jobs.robustness`
scores the jets).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from jetscale.metrics import roc_auc

#: The variation name of the unvaried simulation; the first such view of a group is its reference.
NOMINAL = "nominal"


@dataclasses.dataclass(frozen=True)
class ShiftSummary:
    """Score shifts ``s_view - s_reference`` of one class of jets under one variation.

    Shifts are in units of the discriminant (dimensionless, in [-1, 1] for one in
    [0, 1]). NaN where there are too few pairs (no pair; one pair for ``std`` and
    ``mean_error``).
    """

    pairs: int
    mean: float
    std: float  # sample standard deviation, ddof=1
    mean_error: float  # std / sqrt(pairs): the standard error of ``mean``
    mean_abs: float

    @classmethod
    def of(cls, shifts: np.ndarray, clusters: np.ndarray | None = None) -> ShiftSummary:
        """The summary of an array of shifts.

        ``clusters`` (one id per shift: its reference view) makes ``mean_error``
        the cluster-robust standard error, sqrt(G/(G-1) sum_g (sum_{i in g} d_i)^2) / n
        over G clusters with d_i the deviations from the mean: shifts that share a
        reference view (a variation twice in a group) are correlated, and
        ``std / sqrt(n)`` would understate the error. With one shift per cluster it
        is exactly ``std / sqrt(n)``.
        """
        n = len(shifts)
        if n == 0:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        std = float(np.std(shifts, ddof=1)) if n > 1 else math.nan
        mean = float(np.mean(shifts))
        error = std / math.sqrt(n)
        if clusters is not None and n > 1:
            _, cluster = np.unique(clusters, return_inverse=True)
            per_cluster = np.bincount(cluster.reshape(-1), weights=shifts - mean)
            g = len(per_cluster)
            error = (
                math.sqrt(g / (g - 1) * float(np.sum(per_cluster**2))) / n if g > 1 else math.nan
            )
        return cls(
            pairs=n,
            mean=mean,
            std=std,
            mean_error=error,
            mean_abs=float(np.mean(np.abs(shifts))),
        )


@dataclasses.dataclass(frozen=True, eq=False)
class VariationSensitivity:
    """What one variation does to the scores, against the nominal reference of each group."""

    variation: str
    groups: int  # groups with the reference and at least one view of this variation
    signal_shifts: np.ndarray  # (pairs,) s_view - s_reference of signal jets
    background_shifts: np.ndarray  # (pairs,) of background jets
    auc: float  # signal vs background on this variation's views (NaN: a class absent)
    auc_reference: float  # on the reference views of the same groups
    #: the reference jet of each shift (its cluster for the standard error)
    signal_references: np.ndarray | None = None
    background_references: np.ndarray | None = None

    @property
    def signal(self) -> ShiftSummary:
        return ShiftSummary.of(self.signal_shifts, self.signal_references)

    @property
    def background(self) -> ShiftSummary:
        return ShiftSummary.of(self.background_shifts, self.background_references)

    @property
    def delta_auc(self) -> float:
        """``auc - auc_reference``: negative when the variation makes the tagger worse."""
        return self.auc - self.auc_reference

    def summary(self) -> dict[str, Any]:
        """The numbers as JSON-able values (NaN stays NaN: the JSON writer makes it null)."""
        return {
            "variation": self.variation,
            "groups": self.groups,
            "signal": dataclasses.asdict(self.signal),
            "background": dataclasses.asdict(self.background),
            "auc": {
                "variation": self.auc,
                "reference": self.auc_reference,
                "delta": self.delta_auc,
            },
        }


@dataclasses.dataclass(frozen=True, eq=False)
class Sensitivity:
    """Every variation's :class:`VariationSensitivity`, nominal first, and the groups counted."""

    variations: tuple[VariationSensitivity, ...]
    groups: int  # groups with a reference view
    groups_without_reference: int  # groups whose jets include no nominal view

    def __getitem__(self, variation: str) -> VariationSensitivity:
        for result in self.variations:
            if result.variation == variation:
                return result
        msg = f"no variation {variation!r}; known: {', '.join(self.names)}"
        raise KeyError(msg)

    @property
    def names(self) -> list[str]:
        return [v.variation for v in self.variations]


def variation_names(view_names: Sequence[Sequence[str]]) -> list[str]:
    """Every variation of the files' view lists, :data:`NOMINAL` first, then in order of appearance."""
    names = dict.fromkeys([NOMINAL, *(name for views in view_names for name in views)])
    return list(names)


def check_views(view_names: Sequence[Sequence[str]], file_names: Sequence[str]) -> None:
    """Refuse a file whose views include no :data:`NOMINAL` one: it has no reference."""
    for views, name in zip(view_names, file_names, strict=True):
        if NOMINAL not in views:
            msg = (
                f"{name}: no {NOMINAL!r} view among its views ({', '.join(views) or 'none'}): "
                f"the shifts are measured against a nominal view of each group "
                f"(generate with --variations {NOMINAL},...)"
            )
            raise ValueError(msg)


def variation_sensitivity(
    scores: np.ndarray,
    is_signal: np.ndarray,
    file: np.ndarray,
    group: np.ndarray,
    view: np.ndarray,
    view_names: Sequence[Sequence[str]],
    file_names: Sequence[str] | None = None,
) -> Sensitivity:
    """The score shifts and AUCs of every variation (see the module docstring).

    Per jet, all ``(N,)``: ``scores`` (the discriminant, finite), ``is_signal``
    (True: signal, False: background; leave other classes out), ``file`` (index
    into ``view_names``), ``group`` (unique within its file) and ``view`` (index
    into its file's ``view_names``). ``view_names[f]`` names file f's views in
    order; ``file_names[f]`` names the file in errors (default: ``file f``).
    Raises ValueError naming the file for a file without a nominal view, a view
    index outside its file's views or a view that occurs twice in a group.
    """
    scores = np.asarray(scores, dtype=np.float64)
    is_signal = np.asarray(is_signal, dtype=bool)
    file = np.asarray(file, dtype=np.int64)
    group = np.asarray(group, dtype=np.int64)
    view = np.asarray(view, dtype=np.int64)
    names = (
        list(file_names)
        if file_names is not None
        else [f"file {f}" for f in range(len(view_names))]
    )
    if len({len(a) for a in (scores, is_signal, file, group, view)}) != 1:
        msg = (
            "scores, is_signal, file, group and view must have one length each, got "
            f"{[len(a) for a in (scores, is_signal, file, group, view)]}"
        )
        raise ValueError(msg)
    if len(names) != len(view_names):
        msg = f"{len(view_names)} view lists but {len(names)} file names"
        raise ValueError(msg)
    if not np.isfinite(scores).all():
        msg = f"{int((~np.isfinite(scores)).sum())} scores are not finite: leave those jets out"
        raise ValueError(msg)
    if len(file) and (file.min() < 0 or file.max() >= len(view_names)):
        msg = f"file indices must be in [0, {len(view_names)}), got {file.min()}..{file.max()}"
        raise ValueError(msg)
    check_views(view_names, names)
    n_views = np.array([len(v) for v in view_names], dtype=np.int64)
    outside = (view < 0) | (view >= n_views[file])
    if outside.any():
        f = int(file[outside][0])
        msg = (
            f"{names[f]}: view {int(view[outside][0])} of group {int(group[outside][0])} is not "
            f"one of its {n_views[f]} views ({', '.join(view_names[f])})"
        )
        raise ValueError(msg)

    all_names = variation_names(view_names)
    code_of = {name: k for k, name in enumerate(all_names)}
    # Variation code of each (file, view), then of each jet.
    offsets = np.concatenate([[0], np.cumsum(n_views)])
    codes_by_view = np.array(
        [code_of[name] for views in view_names for name in views], dtype=np.int64
    )
    variation = codes_by_view[offsets[file] + view] if len(file) else np.zeros(0, np.int64)

    # One integer per (file, group); jets sorted by it, then by view.
    _, key = np.unique(np.stack([file, group], axis=1), axis=0, return_inverse=True)
    key = key.reshape(-1)
    order = np.lexsort((view, key))
    repeated = (np.diff(key[order]) == 0) & (np.diff(view[order]) == 0)
    if repeated.any():
        jet = order[np.flatnonzero(repeated)[0]]
        msg = (
            f"{names[file[jet]]}: view {int(view[jet])} occurs twice in group {int(group[jet])} "
            "(the same file given twice?)"
        )
        raise ValueError(msg)
    n_groups = int(key.max()) + 1 if len(key) else 0
    # The reference of each group: its first nominal view in view order (-1: none).
    reference = np.full(n_groups, -1, dtype=np.int64)
    nominal_sorted = order[variation[order] == code_of[NOMINAL]]
    first = np.unique(key[nominal_sorted], return_index=True)
    reference[first[0]] = nominal_sorted[first[1]]

    ref_of_jet = reference[key]
    paired = (ref_of_jet >= 0) & (ref_of_jet != np.arange(len(key)))
    results = []
    for name in all_names:
        jets = np.flatnonzero(paired & (variation == code_of[name]))
        refs = ref_of_jet[jets]
        shifts = scores[jets] - scores[refs]
        signal = is_signal[refs]
        unique_refs = np.unique(refs)
        results.append(
            VariationSensitivity(
                variation=name,
                groups=len(unique_refs),
                signal_shifts=shifts[signal],
                background_shifts=shifts[~signal],
                auc=roc_auc(scores[jets], is_signal[jets]),
                auc_reference=roc_auc(scores[unique_refs], is_signal[unique_refs]),
                signal_references=refs[signal],
                background_references=refs[~signal],
            )
        )
    with_reference = int((reference >= 0).sum())
    return Sensitivity(tuple(results), with_reference, n_groups - with_reference)
