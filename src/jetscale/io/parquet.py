"""Parquet input and output in jetscale's internal layout (or JetClass branch names).

Parquet is the columnar format of choice off the grid (pandas, polars, Spark).
:func:`write_parquet` stores the internal layout; :func:`iterate_parquet` reads it
back one row group at a time, and also accepts files whose columns carry the flat
JetClass branch names (``part_px``, ``jet_pt``, ``label_QCD``...).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from jetscale import schema
from jetscale.io.atomic import atomic_path
from jetscale.io.chunks import concatenate_chunks
from jetscale.io.errors import JetFileError, describe, empty_file
from jetscale.io.paths import expand_paths
from jetscale.io.quality import OnInvalid, QualityReport, clean_jets
from jetscale.task import JETCLASS, Task

#: Parquet metadata key of the class names that the internal layout's ``label`` indexes.
CLASS_NAMES_KEY = "jetscale_class_names"


def write_parquet(
    path: str | os.PathLike[str],
    jets: ak.Array,
    row_group_size: int = 50_000,
    class_names: Sequence[str] = schema.CLASS_NAMES,
) -> Path:
    """Write jets in the internal layout to parquet atomically, ``row_group_size`` jets per group.

    ``jets.label`` indexes ``class_names`` (JetClass's ten by default); other class
    names are stored with the file so that readers map labels by name.
    """
    final = Path(path)
    if tuple(class_names) != schema.CLASS_NAMES:
        jets = ak.with_parameter(jets, CLASS_NAMES_KEY, list(class_names))
    with atomic_path(final) as tmp:
        ak.to_parquet(jets, tmp, row_group_size=row_group_size)
    return final


def iterate_parquet(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    constituent_fields: Sequence[str] | None = None,
    on_invalid: OnInvalid = "drop",
    report: QualityReport | None = None,
    task: Task | None = None,
) -> Iterator[ak.Array]:
    """Yield one chunk per parquet row group, in the internal layout.

    ``label`` indexes ``task``'s classes (default JetClass's ten), as for ROOT files.
    """
    fields = (
        tuple(constituent_fields) if constituent_fields is not None else schema.CONSTITUENT_FIELDS
    )
    for path in expand_paths(paths):
        metadata = parquet_metadata(path)
        for group in range(metadata["num_row_groups"]):
            try:
                raw = ak.from_parquet(path, row_groups=[group])
            except Exception as err:
                raise JetFileError(path, f"corrupt row group {group} ({describe(err)})") from err
            yield clean_jets(
                _to_internal(path, raw, fields, task or JETCLASS), str(path), on_invalid, report
            )


def parquet_metadata(path: str | os.PathLike[str]) -> Any:
    """``ak.metadata_from_parquet`` (``num_rows``, ``num_row_groups``, ...), or a named JetFileError."""
    if empty_file(path):
        raise JetFileError(path, "cannot open as parquet (empty: 0 bytes)")
    try:
        return ak.metadata_from_parquet(path)
    except Exception as err:
        raise JetFileError(path, f"cannot open as parquet ({describe(err)})") from err


def read_parquet(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    constituent_fields: Sequence[str] | None = None,
    on_invalid: OnInvalid = "drop",
    report: QualityReport | None = None,
    task: Task | None = None,
) -> ak.Array:
    """Read whole parquet files into one array."""
    chunks = iterate_parquet(paths, constituent_fields, on_invalid, report, task)
    return concatenate_chunks(chunks, paths)


def _to_internal(path: Path, raw: ak.Array, fields: Sequence[str], task: Task) -> ak.Array:
    top = set(ak.fields(raw))
    if "constituents" in top:
        consts = raw["constituents"]
        present = set(ak.fields(consts))
        get = lambda f: consts[f]  # noqa: E731
        jet_get = lambda f: raw[f]  # noqa: E731
        jet_names = {f: f for f in schema.JET_FIELDS}
        part_name = lambda f: f"constituents.{f}"  # noqa: E731
    else:  # flat JetClass branch names
        present = {b.removeprefix("part_") for b in top if b.startswith("part_")}
        get = lambda f: raw[f"part_{f}"]  # noqa: E731
        jet_get = lambda f: raw[f"jet_{f}"]  # noqa: E731
        jet_names = {f: f"jet_{f}" for f in schema.JET_FIELDS}
        part_name = lambda f: f"part_{f}"  # noqa: E731
    for field in fields:
        if field not in present:
            raise JetFileError(path, "column missing", part_name(field))
    content: dict[str, Any] = {}
    for field, column in jet_names.items():
        if column in top:
            content[field] = ak.to_numpy(jet_get(field)).astype(np.float32)
        elif field in ("pt", "eta", "phi", "energy"):
            raise JetFileError(path, "column missing", column)
    content["label"] = _task_labels(path, raw, top, task)
    content["constituents"] = ak.zip(
        {f: ak.values_astype(get(f), schema.constituent_dtype(f)) for f in fields}
    )
    return ak.zip(content, depth_limit=1)


def _task_labels(path: Path, raw: ak.Array, top: set[str], task: Task) -> np.ndarray:
    """Each jet's class index in ``task`` (-1: unlabelled or outside the task).

    The internal layout's ``label`` indexes the class names stored with the file
    (JetClass's ten if none); flat files carry one-hot ``label_*`` columns.
    """
    from jetscale.io.jetclass import label_branches  # one rule for ROOT and parquet

    index_of = task.class_of_branch()
    if "label" in top:
        stored = ak.parameters(raw).get(CLASS_NAMES_KEY) or schema.CLASS_NAMES
        names = np.array([index_of.get(f"label_{n}", -1) for n in stored], dtype=np.int32)
        label = ak.to_numpy(raw["label"]).astype(np.int64)
        bad = (label < -1) | (label >= len(names))
        if bad.any():
            msg = f"label {int(label[bad][0])} is not an index into the file's {len(names)} classes"
            raise JetFileError(path, msg, "label")
        return np.where(label < 0, -1, names[np.clip(label, 0, None)]).astype(np.int32)
    columns = label_branches(top)
    if task.is_jetclass and columns and not set(schema.LABEL_BRANCHES) <= set(columns):
        missing = sorted(set(schema.LABEL_BRANCHES) - set(columns))
        raise JetFileError(
            path, f"label columns incomplete (missing {', '.join(missing)})", missing[0]
        )
    if not columns:
        return np.full(len(raw), -1, dtype=np.int32)
    onehot = np.stack([ak.to_numpy(raw[b]).astype(np.float64) != 0 for b in columns], axis=1)
    if not (onehot.sum(axis=1) == 1).all():
        raise JetFileError(path, "labels are not one-hot", "label_*")
    classes = np.array([index_of.get(b, -1) for b in columns], dtype=np.int32)
    return classes[np.argmax(onehot, axis=1)]
