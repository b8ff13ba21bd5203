"""Flat NumPy views of jagged constituent fields, with as little awkward overhead as possible.

A coffea chunk or an inference batch is small (a few thousand jets), so the
dozen-plus high-level awkward calls per field (``ak.flatten``, ``ak.to_numpy``)
cost as much as the feature kernel itself. For the common layout (a
``ListOffsetArray`` of a ``RecordArray`` of NumPy buffers, which uproot, parquet
and our generator produce) the buffers are read directly, zero-copy; anything
else (sliced ``ListArray``, indexed or virtual layouts) takes the general path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import awkward as ak
import numpy as np


def flat_columns(
    constituents: Any, fields: Iterable[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(offsets, {field: flat values})`` with offsets starting at 0, int64."""
    fields = list(fields)
    layout = ak.to_layout(constituents)
    fast = _fast_path(layout, fields)
    if fast is not None:
        return fast
    counts = np.asarray(ak.to_numpy(ak.num(constituents, axis=1)), dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    columns = {
        f: np.asarray(ak.to_numpy(ak.flatten(_field(constituents, f), axis=1))) for f in fields
    }
    return offsets, columns


def _field(array: Any, field: str) -> Any:
    if field in ak.fields(array):
        return array[field]
    msg = f"jets.constituents has no field {field!r} (fields: {', '.join(ak.fields(array))})"
    raise ValueError(msg)


def _fast_path(layout: Any, fields: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    if not isinstance(layout, ak.contents.ListOffsetArray):
        return None
    record = layout.content
    if not isinstance(record, ak.contents.RecordArray) or layout.backend.name != "cpu":
        return None
    raw_offsets = layout.offsets.data
    if not isinstance(raw_offsets, np.ndarray):
        return None
    start, stop = int(raw_offsets[0]), int(raw_offsets[-1])
    columns = {}
    for field in fields:
        if not record.has_field(field):
            _field(ak.Array(layout), field)  # raises the friendly error
        content = record.content(field)
        if not isinstance(content, ak.contents.NumpyArray) or not isinstance(
            content.data, np.ndarray
        ):
            return None
        if content.data.ndim != 1:
            return None
        columns[field] = content.data[start:stop]
    offsets = raw_offsets.astype(np.int64, copy=False) - start
    return offsets, columns
