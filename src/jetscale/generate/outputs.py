"""What :func:`~jetscale.generate.generate` writes: unit files, their identity, class files.

Every finished work unit is one parquet file in jetscale's internal layout,
``OUT/units/<Class>_<detector>_s<seed>/unit_00012.parquet`` (with
``_pt<min>-<max>`` appended for a jet pT window other than 500-1000 GeV), written
atomically by the driver as soon as the unit's jets are back from its worker. The
file's awkward ``attrs`` (kept in the parquet metadata) hold the unit's identity:
the class, unit index, jets, ``unit_jets``, seed, the detector's name and the
SHA-256 of its card's parameters (:func:`~jetscale.generate.cards.card_digest`),
the events per batch, the jetscale version and, when it is not the default, the
jet pT window; and what the unit took (events, seconds). The jets' ``label``
indexes the class names stored with the file
(:func:`~jetscale.generate.signals.label_classes`).

A unit is finished when its file exists, reads, holds its number of jets and
carries exactly the identity this run expects. Anything else (a file of another
configuration, such as an edited card under the same name) is generated again
and overwritten, so a restarted run never mixes configurations. A class's ROOT
file is assembled from its unit files, in unit order, once all of them are
finished, and recorded in ``OUT/units/<sample>.assembled.json``; a rerun keeps a
class file that was assembled from exactly its units and is unchanged since.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak

from jetscale import schema
from jetscale._version import __version__
from jetscale.generate.cards import card_digest
from jetscale.generate.jets import DEFAULT_PT_RANGE
from jetscale.generate.resimulate import ViewSpec
from jetscale.generate.signals import label_classes
from jetscale.generate.units import BATCH_EVENTS, UnitResult, WorkUnit
from jetscale.io.atomic import write_json
from jetscale.io.jetclass import write_jetclass_chunks
from jetscale.io.parquet import write_parquet

log = logging.getLogger(__name__)

#: Folder of the unit files, inside the output directory.
UNITS_DIR = "units"
#: Key of the unit's record in the parquet file's awkward attrs.
ATTRS_KEY = "jetscale_unit"
#: Version of the unit record; a change makes earlier unit files unusable.
RECORD_FORMAT = 1
#: Jets appended to a class's ROOT file at a time when it is assembled (bounds memory).
ASSEMBLY_JETS = 20_000


def detector_label(detector: str) -> str:
    """The detector as it appears in file names: a card's name, or a card file's stem."""
    return Path(detector).stem if detector.endswith(".toml") else detector


def sample_file_name(
    class_name: str,
    detector: str,
    seed: int,
    pt_range: tuple[float, float] = DEFAULT_PT_RANGE,
    n_views: int = 0,
) -> str:
    """``<class>_<detector>_s<seed>.root``: the file :func:`generate` writes for a class.

    A jet pT window other than the default 500-1000 GeV is part of the name:
    ``Xbb_m60_cms_s1_pt200-400.root``; so are re-simulated views: ``Hbb_cms_s1_rs4.root``.
    """
    window = (
        "" if tuple(pt_range) == DEFAULT_PT_RANGE else f"_pt{_gev(pt_range[0])}-{_gev(pt_range[1])}"
    )
    views = f"_rs{n_views}" if n_views else ""
    return f"{class_name}_{detector_label(detector)}_s{seed}{window}{views}.root"


def _gev(value: float) -> str:
    """A pT in file names: ``200`` for 200.0 GeV, ``250.5`` otherwise."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class UnitRecord:
    """A finished unit on disk: its file, jets, events and the seconds it took."""

    path: Path
    n_jets: int  # rows: jets, or views of a re-simulated unit
    n_events: int
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)  # re-simulation counts


class UnitStore:
    """The unit files of one configuration (``unit_jets`` and card) under ``out/units``."""

    def __init__(self, out: Path, unit_jets: int, card_text: str) -> None:
        self.out = out
        self.unit_jets = unit_jets
        self.card_sha256 = card_digest(card_text)

    def folder(self, unit: WorkUnit) -> Path:
        sample = sample_file_name(
            unit.class_name, unit.detector, unit.seed, unit.pt_range, len(unit.views)
        )
        return self.out / UNITS_DIR / sample.removesuffix(".root")

    def path(self, unit: WorkUnit) -> Path:
        return self.folder(unit) / f"unit_{unit.unit_index:05d}.parquet"

    def identity(self, unit: WorkUnit) -> dict[str, Any]:
        """Everything a unit's jets depend on: equal identities, equal jets.

        The jet pT window is recorded only when it is not the default, so that the
        units of the default window keep the identity they had before it was an option.
        """
        identity: dict[str, Any] = {
            "format": RECORD_FORMAT,
            "class": unit.class_name,
            "unit_index": unit.unit_index,
            "n_jets": unit.n_jets,
            "unit_jets": self.unit_jets,
            "seed": unit.seed,
            "detector": detector_label(unit.detector),  # ./my.toml and my.toml alike
            "card_sha256": self.card_sha256,
            "batch_events": BATCH_EVENTS,
            "jetscale": __version__,
        }
        if tuple(unit.pt_range) != DEFAULT_PT_RANGE:
            identity["pt_range"] = [float(v) for v in unit.pt_range]  # as JSON gives it back
        if unit.views:  # n_jets counts groups
            identity["views"] = [view.identity() for view in unit.views]
        return identity

    def finished(self, unit: WorkUnit) -> UnitRecord | None:
        """The unit's record if its file is finished for this configuration, else None."""
        path = self.path(unit)
        if not path.is_file():
            return None
        try:
            head = ak.from_parquet(path, columns=["label"])  # one small column and the attrs
            record = dict(head.attrs[ATTRS_KEY])
        except Exception as err:  # any unreadable file is made again, never used
            log.warning("%s cannot be read (%s); generating it again", path, err)
            return None
        expected = self.identity(unit)
        # A re-simulated unit has n_jets groups of up to K views: its record says how many rows.
        if record.get("identity") != expected or len(head) != record.get("n_rows", unit.n_jets):
            found = record.get("identity") or {}
            differ = sorted(k for k in expected if found.get(k) != expected[k])
            log.warning(
                "%s was made with another configuration (%s differ); generating it again",
                path,
                ", ".join(differ) or "jets",
            )
            return None
        return UnitRecord(
            path,
            len(head),
            int(record["n_events"]),
            float(record["seconds"]),
            dict(record.get("counts", {})),
        )

    def write(self, result: UnitResult) -> UnitRecord:
        """Write a unit's jets and record atomically; from then on it counts as finished."""
        record: dict[str, Any] = {
            "identity": self.identity(result.unit),
            "n_events": result.n_events,
            "seconds": result.seconds,
        }
        if result.unit.views:
            record |= {"n_rows": len(result.jets), "counts": result.counts}
        path = self.path(result.unit)
        jets = ak.Array(result.jets, attrs={ATTRS_KEY: record})
        write_parquet(path, jets, class_names=label_classes(result.unit.class_name))
        return UnitRecord(path, len(result.jets), result.n_events, result.seconds, result.counts)

    def _stamp(self, path: Path) -> Path:
        """Where the record of how the class file ``path`` was assembled is kept."""
        return self.out / UNITS_DIR / path.name.replace(".root", ".assembled.json")

    def assembled_from(self, path: Path, units: list[WorkUnit]) -> bool:
        """Whether the class file ``path`` is, unchanged, the one assembled from ``units``."""
        stamp = self._stamp(path)
        if not (path.is_file() and stamp.is_file()):
            return False
        try:
            recorded = json.loads(stamp.read_text())
        except (OSError, ValueError):
            return False
        stat = path.stat()
        return bool(
            recorded.get("units") == [self.identity(u) for u in units]
            and recorded.get("bytes") == stat.st_size
            and recorded.get("mtime_ns") == stat.st_mtime_ns
        )

    def mark_assembled(self, path: Path, units: list[WorkUnit]) -> None:
        """Record that the class file ``path`` was just assembled from ``units``."""
        stat = path.stat()
        record = {
            "units": [self.identity(u) for u in units],
            "bytes": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        write_json(self._stamp(path), record)

    def remove_temporaries(self, units: list[WorkUnit]) -> None:
        """Temporaries of unit files a killed driver left (the caller holds the directory lock)."""
        for folder in {self.folder(u) for u in units}:
            if folder.is_dir():
                for leftover in folder.glob(".unit_*.parquet.tmp*"):
                    leftover.unlink(missing_ok=True)


def assemble_class_file(
    path: Path,
    records: list[UnitRecord],
    class_names: Sequence[str] = schema.CLASS_NAMES,
    views: Sequence[ViewSpec] = (),
) -> Path:
    """Write the class file ``path`` from its unit files (in the order given), atomically.

    The jets' ``label`` indexes ``class_names``: the file gets JetClass's ten
    ``label_*`` branches and one per further name (``label_Xbb_m60``). A
    re-simulated file also gets its ``views`` described beside the tree
    (:data:`~jetscale.schema.VIEWS_KEY`: each view's variation name, in view
    order, and the re-simulation counts summed over units).
    """
    metadata = None
    if views:
        totals: dict[str, int] = {}
        for record in records:
            for key, value in record.counts.items():
                totals[key] = totals.get(key, 0) + int(value)
        metadata = {schema.VIEWS_KEY: {"views": [v.name for v in views], "counts": totals}}

    def chunks() -> Iterator[ak.Array]:
        pending: list[ak.Array] = []
        size = 0
        for record in records:
            jets = ak.from_parquet(record.path)
            pending.append(jets)
            size += len(jets)
            if size >= ASSEMBLY_JETS:
                yield ak.concatenate(pending)
                pending, size = [], 0
        if pending:
            yield ak.concatenate(pending)

    return write_jetclass_chunks(path, chunks(), class_names=class_names, metadata=metadata)
