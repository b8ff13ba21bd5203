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


def write_parquet(
    path: str | os.PathLike[str], jets: ak.Array, row_group_size: int = 50_000
) -> Path:
    """Write jets in the internal layout to parquet atomically, ``row_group_size`` jets per group."""
    final = Path(path)
    with atomic_path(final) as tmp:
        ak.to_parquet(jets, tmp, row_group_size=row_group_size)
    return final


def iterate_parquet(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    constituent_fields: Sequence[str] | None = None,
    on_invalid: OnInvalid = "drop",
    report: QualityReport | None = None,
) -> Iterator[ak.Array]:
    """Yield one chunk per parquet row group, in the internal layout."""
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
            yield clean_jets(_to_internal(path, raw, fields), str(path), on_invalid, report)


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
) -> ak.Array:
    """Read whole parquet files into one array."""
    return concatenate_chunks(iterate_parquet(paths, constituent_fields, on_invalid, report), paths)


def _to_internal(path: Path, raw: ak.Array, fields: Sequence[str]) -> ak.Array:
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
    if "label" in top:
        content["label"] = ak.to_numpy(raw["label"]).astype(np.int32)
    elif all(b in top for b in schema.LABEL_BRANCHES):
        onehot = np.stack(
            [ak.to_numpy(raw[b]).astype(np.float64) != 0 for b in schema.LABEL_BRANCHES], axis=1
        )
        if not (onehot.sum(axis=1) == 1).all():
            raise JetFileError(path, "labels are not one-hot", "label_*")
        content["label"] = np.argmax(onehot, axis=1).astype(np.int32)
    else:
        content["label"] = np.full(len(raw), -1, dtype=np.int32)
    content["constituents"] = ak.zip(
        {f: ak.values_astype(get(f), schema.constituent_dtype(f)) for f in fields}
    )
    return ak.zip(content, depth_limit=1)
