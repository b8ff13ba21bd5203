"""Read a scaling-study results table (CSV or parquet) and check it before any fit."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jetscale.scaling.parametric_fit import FitError

REQUIRED = ("N", "D", "loss")
OPTIONAL = ("U", "epochs", "C")


def read_table(
    path: str | os.PathLike[str], required: Sequence[str] = REQUIRED
) -> dict[str, np.ndarray]:
    """Numeric columns of ``path`` (``.csv`` or ``.parquet``); extra text columns are kept as strings.

    Empty cells are missing values (NaN). Raises :class:`FitError` naming the file
    and the column for a missing column, a non-numeric value, or a missing or
    non-positive one in N, D, loss, U or C (with the first bad row).
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no such table"
        raise FitError(msg)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        raw = {k: np.asarray(v) for k, v in pq.read_table(path).to_pydict().items()}
    else:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            msg = f"{path}: the table has no rows"
            raise FitError(msg)
        raw = {k: np.asarray([row[k] for row in rows]) for k in rows[0]}
    missing = [c for c in required if c not in raw]
    if missing:
        msg = f"{path}: missing column(s) {', '.join(missing)} (columns: {', '.join(raw)})"
        raise FitError(msg)
    out: dict[str, np.ndarray] = {}
    for name, values in raw.items():
        if values.dtype.kind in "US":
            # An empty cell is a missing value (pandas writes NaN as ""): NaN, so the
            # column stays numeric (e.g. isoflop_budget, empty for non-IsoFLOP runs).
            values = np.where(np.char.strip(values.astype(str)) == "", "nan", values)
        try:
            out[name] = values.astype(np.float64)
        except ValueError:
            if name in (*REQUIRED, *OPTIONAL):
                msg = f"{path}: column {name!r} has non-numeric values"
                raise FitError(msg) from None
            out[name] = values.astype(str)
    for name in ("N", "D", "loss", "U", "C"):
        if name in out:
            bad = ~(np.isfinite(out[name]) & (out[name] > 0))
            if bad.any():
                msg = f"{path}: column {name!r} has {int(bad.sum())} non-positive or non-finite values (first at row {int(np.argmax(bad)) + 1})"
                raise FitError(msg)
    return out
