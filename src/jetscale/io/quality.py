"""Documented, counted handling of unphysical values in jets read from files.

Real files occasionally carry NaN/inf values, zero-energy constituents or jets
with non-positive pT. Feeding those to the feature builder would produce NaN or a
silently clipped number, so readers pass every chunk through :func:`clean_jets`:

* a constituent with any non-finite float field, or with ``pt <= 0`` or
  ``energy <= 0``, is **dropped** (the log features are undefined for it);
* a jet with non-finite or non-positive ``pt``/``energy`` or non-finite
  ``eta``/``phi`` is **dropped** (the relative features are undefined);
* a jet left with zero constituents is **kept**: the features come out fully
  padded with an all-False mask, so jet counts stay aligned with the event.

Every case is counted in a :class:`QualityReport`; with ``on_invalid="raise"``
the first problem raises :class:`~jetscale.io.errors.JetFileError` instead.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Literal

import awkward as ak
import numpy as np

from jetscale.io.errors import JetFileError

OnInvalid = Literal["drop", "raise"]

_JET_POSITIVE = ("pt", "energy")
_JET_FINITE = ("pt", "energy", "eta", "phi")


@dataclasses.dataclass
class QualityReport:
    """Counts of what :func:`clean_jets` removed, summed over chunks and files."""

    jets_read: int = 0
    jets_dropped: int = 0
    constituents_read: int = 0
    constituents_dropped: int = 0
    empty_jets: int = 0
    #: Jets of classes outside the training task (``Hcc`` jets of an ``Hbb,QCD`` task),
    #: left out by the training source (:mod:`jetscale.task`); not unphysical, not in ``clean``.
    jets_outside_task: int = 0
    #: Groups of re-simulated views left with a single view, left out by contrastive
    #: pretraining's source (:mod:`jetscale.train.view_groups`): one jet each, not unphysical.
    single_view_groups: int = 0
    #: ``"file: field: problem" -> count`` for every dropped item.
    problems: Counter[str] = dataclasses.field(default_factory=Counter)

    @property
    def clean(self) -> bool:
        return self.jets_dropped == 0 and self.constituents_dropped == 0

    def summary(self) -> str:
        lines = [
            f"{self.jets_read} jets read, {self.jets_dropped} dropped, "
            f"{self.empty_jets} kept with zero constituents; "
            f"{self.constituents_dropped} of {self.constituents_read} constituents dropped"
        ]
        if self.jets_outside_task:
            lines.append(f"  {self.jets_outside_task} jets of classes outside the task left out")
        if self.single_view_groups:
            lines.append(f"  {self.single_view_groups} groups of views with a single view left out")
        lines += [f"  {key}: {count}" for key, count in sorted(self.problems.items())]
        return "\n".join(lines)


def clean_jets(
    jets: ak.Array,
    source: str = "<memory>",
    on_invalid: OnInvalid = "drop",
    report: QualityReport | None = None,
) -> ak.Array:
    """Drop (and count) unphysical constituents and jets; see the module docstring.

    ``jets`` is in the internal layout (:mod:`jetscale.schema`); ``source`` names the
    file in messages and in the report.
    """
    report = report if report is not None else QualityReport()
    n_jets = len(jets)
    report.jets_read += n_jets
    consts = jets["constituents"]
    counts = ak.num(consts, axis=1)
    report.constituents_read += int(ak.sum(counts))

    # --- constituents -----------------------------------------------------------
    flat_ok = None
    for field in ak.fields(consts):
        flat = ak.to_numpy(ak.flatten(consts[field], axis=1))
        if flat.dtype.kind != "f":
            continue
        bad = ~np.isfinite(flat)
        flat_ok = ~bad if flat_ok is None else flat_ok & ~bad
        _note(report, bad, source, f"part_{field}", "non-finite value", on_invalid)
    if "px" in ak.fields(consts) and "energy" in ak.fields(consts):
        px = ak.to_numpy(ak.flatten(consts["px"], axis=1))
        py = ak.to_numpy(ak.flatten(consts["py"], axis=1))
        energy = ak.to_numpy(ak.flatten(consts["energy"], axis=1))
        with np.errstate(invalid="ignore"):
            bad_pt = ~(np.hypot(px, py) > 0) & np.isfinite(px) & np.isfinite(py)
            bad_e = ~(energy > 0) & np.isfinite(energy)
        _note(report, bad_pt, source, "part_px/part_py", "pt <= 0", on_invalid)
        _note(report, bad_e, source, "part_energy", "energy <= 0", on_invalid)
        pos_ok = ~(bad_pt | bad_e)
        flat_ok = pos_ok if flat_ok is None else flat_ok & pos_ok
    if flat_ok is not None and not flat_ok.all():
        keep = ak.unflatten(flat_ok, counts)
        report.constituents_dropped += int((~flat_ok).sum())
        jets = ak.with_field(jets, consts[keep], "constituents")

    # --- jets -------------------------------------------------------------------
    jet_ok = np.ones(n_jets, dtype=bool)
    for field in _JET_FINITE:
        if field not in ak.fields(jets):
            continue
        values = ak.to_numpy(jets[field]).astype(np.float64)
        bad = ~np.isfinite(values)
        if field in _JET_POSITIVE:
            with np.errstate(invalid="ignore"):
                bad_sign = ~(values > 0) & ~bad
            _note(report, bad_sign, source, f"jet_{field}", f"{field} <= 0", on_invalid)
            bad |= bad_sign
        _note(report, ~np.isfinite(values), source, f"jet_{field}", "non-finite value", on_invalid)
        jet_ok &= ~bad
    if not jet_ok.all():
        report.jets_dropped += int((~jet_ok).sum())
        jets = jets[jet_ok]
    report.empty_jets += int(ak.sum(ak.num(jets["constituents"], axis=1) == 0))
    return jets


def _note(
    report: QualityReport,
    bad: np.ndarray,
    source: str,
    branch: str,
    problem: str,
    on_invalid: OnInvalid,
) -> None:
    n_bad = int(bad.sum())
    if n_bad == 0:
        return
    if on_invalid == "raise":
        first = int(np.flatnonzero(bad)[0])
        raise JetFileError(
            source, f"{problem} in {n_bad} entries (first at flat index {first})", branch
        )
    report.problems[f"{source}: {branch}: {problem}"] += n_bad
