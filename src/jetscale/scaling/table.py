"""Read a scaling-study results table (CSV or parquet) and check it before any fit.

Every problem is a :class:`~jetscale.scaling.parametric_fit.FitError` whose message
starts with the file and names the column and the first bad row. Rows are counted
as data rows from 1, the header and blank lines not counted: row k is line k + 1 of
a CSV file without blank lines or quoted line breaks, and index k - 1 in pandas.
Problems of the column names say ``header``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from jetscale.scaling.compare import GROUP_COLUMNS
from jetscale.scaling.parametric_fit import FitError

REQUIRED = ("N", "D", "loss")
#: Numeric columns the fits read when present; an empty cell is a missing value (NaN).
OPTIONAL = ("U", "epochs", "C", "isoflop_budget")
#: Optional columns whose given values must be positive and finite; a missing value
#: is checked where a fit uses it (:func:`check_used`).
POSITIVE_WHEN_GIVEN = ("U", "C", "isoflop_budget")


def read_table(
    path: str | os.PathLike[str], required: Sequence[str] = REQUIRED
) -> dict[str, np.ndarray]:
    """Columns of ``path`` (``.parquet``, else CSV in UTF-8): numbers as float64, text as str.

    ``required`` columns must be there with a positive, finite number in every row;
    :data:`OPTIONAL` columns must be numbers where given (``epochs`` >= 1 in every
    row, U, C and isoflop_budget positive); group columns (``feature_set``,
    ``max_particles``) must have no empty cell. Other columns are numeric if every
    cell is a number or empty, else text. Raises :class:`FitError` (see the module
    docstring for how rows are counted).
    """
    path = Path(path)
    header, rows = _parquet_cells(path) if path.suffix == ".parquet" else _csv_cells(path)
    _check_header(path, header)
    missing = [c for c in required if c not in header]
    if missing:
        msg = (
            f"{path}: header: missing column(s) {', '.join(map(repr, missing))} "
            f"(the columns are {', '.join(map(repr, header))})"
        )
        raise FitError(msg)
    numeric = {*required, *OPTIONAL}
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        cells = [row[j] for row in rows]
        if name in GROUP_COLUMNS:
            empty = [i for i, cell in enumerate(cells) if not cell.strip()]
            if empty:
                msg = f"{_where(path, name, empty[0])}: empty cell; every run needs its {name} ({len(empty)} of {len(cells)} rows)"
                raise FitError(msg)
        values = _numbers(path, name, cells, must=name in numeric)
        if values is None:
            out[name] = np.asarray(cells, dtype=str)
            continue
        out[name] = values
        if name in required:
            _check_all(path, name, cells, values, "a positive, finite number", _positive)
        elif name == "epochs":
            _check_all(path, name, cells, values, "a number of epochs >= 1", _epochs)
        elif name in POSITIVE_WHEN_GIVEN:
            _check_all(path, name, cells, values, "a positive, finite number or empty", _given)
    return out


def check_used(
    path: object, columns: dict[str, np.ndarray], name: str, used: np.ndarray, purpose: str
) -> None:
    """Raise :class:`FitError` if ``columns[name]`` is missing in a row of the mask ``used``."""
    bad = used & ~np.isfinite(columns[name])
    if bad.any():
        first = int(np.argmax(bad))
        msg = f"{_where(path, name, first)}: empty cell, but {purpose} needs it ({int(bad.sum())} of {int(used.sum())} rows used)"
        raise FitError(msg)


def _where(path: object, name: str, index: int) -> str:
    """The start of every cell message: file, column and 1-based data row."""
    return f"{path}: column {name!r}, row {index + 1}"


def _read_bytes(path: Path) -> bytes:
    if path.is_dir():
        msg = f"{path}: is a directory, not a results table"
        raise FitError(msg)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise FitError(msg) from None
    except OSError as err:
        msg = f"{path}: cannot be read ({err.strerror or err})"
        raise FitError(msg) from err


def _csv_cells(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV file, each row as long as the header."""
    # Undecodable bytes become lone surrogates, so they are found in their cell below.
    text = _read_bytes(path).decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[list[str]] = []
    try:
        for record in reader:
            if record:  # blank lines are skipped (and not counted)
                records.append(record)
    except csv.Error as err:
        where = f"row {len(records)}" if records else "header"
        msg = f"{path}: {where}: not valid CSV ({err})"
        raise FitError(msg) from None
    if not records:
        msg = f"{path}: the file is empty (no header and no rows)"
        raise FitError(msg)
    header = [name.strip() for name in records[0]]
    for j, name in enumerate(header):
        _check_text(path, f"header, column {j + 1}", name)
    rows = records[1:]
    if not rows:
        msg = f"{path}: the table has a header ({', '.join(map(repr, header))}) but no data rows"
        raise FitError(msg)
    for i, row in enumerate(rows):
        if len(row) < len(header):
            lacking = ", ".join(repr(name) for name in header[len(row) :])
            msg = f"{path}: row {i + 1}: {len(row)} cells for {len(header)} columns; no cell for column(s) {lacking}"
            raise FitError(msg)
        if len(row) > len(header):
            msg = f"{path}: row {i + 1}: {len(row)} cells for {len(header)} columns; extra cell {row[len(header)]!r} after the last column {header[-1]!r}"
            raise FitError(msg)
        for name, cell in zip(header, row, strict=True):
            _check_text(path, f"column {name!r}, row {i + 1}", cell)
    return header, rows


def _check_text(path: Path, where: str, cell: str) -> None:
    """Refuse a cell that held bytes that are not UTF-8 (decoded as lone surrogates)."""
    for char in cell:
        if "\udc80" <= char <= "\udcff":
            msg = f"{path}: {where}: not UTF-8 text (byte 0x{ord(char) - 0xDC00:02x}); save the table as UTF-8"
            raise FitError(msg)


def _parquet_cells(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a parquet file as text cells, so CSV and parquet share every check."""
    _read_bytes(path)  # the same errors as CSV for a missing file or a directory
    import pyarrow.parquet as pq

    try:
        # ParquetFile, not read_table: the dataset reader refuses duplicated column
        # names with a message that does not say which; _check_header names them.
        table = pq.ParquetFile(path).read()
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        reason = " ".join(str(err).split())  # one line
        msg = f"{path}: not a readable parquet file ({reason})"
        raise FitError(msg) from None
    header = [str(name) for name in table.column_names]
    if table.num_rows == 0:
        msg = f"{path}: the table has columns ({', '.join(map(repr, header))}) but no rows"
        raise FitError(msg)
    columns = [
        ["" if v is None else str(v) for v in table.column(j).to_pylist()]
        for j in range(len(header))
    ]
    return header, [list(row) for row in zip(*columns, strict=True)]


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            msg = f"{path}: header: column {name!r} appears twice (columns {seen[name] + 1} and {j + 1})"
            raise FitError(msg)
        seen[name] = j


def _numbers(path: Path, name: str, cells: list[str], *, must: bool) -> np.ndarray | None:
    """The cells as float64 (empty: NaN); None for a text column unless it ``must`` be numeric."""
    values = np.empty(len(cells))
    for i, cell in enumerate(cells):
        text = cell.strip()
        if not text:
            # pandas writes NaN as an empty cell (e.g. isoflop_budget of non-IsoFLOP runs).
            values[i] = np.nan
            continue
        try:
            values[i] = float(text)
        except ValueError:
            if must:
                msg = f"{_where(path, name, i)}: {cell!r} is not a number"
                raise FitError(msg) from None
            return None
    return values


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def _epochs(value: float) -> bool:
    return math.isfinite(value) and value >= 1


def _given(value: float) -> bool:
    return math.isnan(value) or _positive(value)


def _check_all(
    path: Path,
    name: str,
    cells: list[str],
    values: np.ndarray,
    wanted: str,
    good: Callable[[float], bool],
) -> None:
    bad = [i for i, value in enumerate(values) if not good(float(value))]
    if bad:
        first = bad[0]
        shown = repr(cells[first]) if cells[first].strip() else "an empty cell"
        msg = f"{_where(path, name, first)}: {shown} is not {wanted} ({len(bad)} of {len(values)} rows)"
        raise FitError(msg)
