"""Every way a results table can be bad: a FitError naming the file, the column and the row.

Rows are data rows counted from 1 (header and blank lines not counted). Each case
plants one bad cell (or header, or row) in a good table and computes the expected
column and row from where it planted it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from jetscale.cli import main
from jetscale.scaling import FitError
from jetscale.scaling.table import read_table

HEADER = ["N", "D", "loss", "U", "epochs", "C", "isoflop_budget", "feature_set", "max_particles"]


def good_rows() -> list[list[str]]:
    """Eight valid runs as CSV cells, in the column order of HEADER."""
    rows = []
    for i in range(8):
        n, u, epochs = 1e4 * 2**i, 1e5 * 3**i, 1 + i % 2
        rows.append(
            [
                f"{n:g}",
                f"{u * epochs:g}",
                f"{2.0 - 0.1 * i:g}",
                f"{u:g}",
                str(epochs),
                f"{6 * n * u * epochs * 20:g}",
                "" if i % 3 else "1e15",  # pandas writes NaN as an empty cell
                "full21" if i < 5 else "kin",
                "32",
            ]
        )
    return rows


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(",".join(cells) for cells in [header, *rows]) + "\n"


def replaced(column: str, row: int, value: str) -> Callable[[Path], tuple[Path, str, str]]:
    """A table with ``value`` in ``column`` at data row ``row`` (1-based)."""

    def make(tmp: Path) -> tuple[Path, str, str]:
        rows = good_rows()
        rows[row - 1][HEADER.index(column)] = value
        path = tmp / "runs.csv"
        path.write_text(csv_text(HEADER, rows))
        return path, column, f"row {row}"

    return make


def written(
    text: str | bytes, column: str, where: str, name: str = "runs.csv"
) -> Callable[[Path], tuple[Path, str, str]]:
    def make(tmp: Path) -> tuple[Path, str, str]:
        path = tmp / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path, column, where

    return make


def _without_column(name: str) -> str:
    keep = [j for j, c in enumerate(HEADER) if c != name]
    return csv_text([HEADER[j] for j in keep], [[r[j] for j in keep] for r in good_rows()])


def _duplicated_header() -> str:
    header = [*HEADER[:-1], "N"]  # max_particles renamed N: two columns called N
    return csv_text(header, good_rows())


def _too_many_cells(row: int) -> str:
    rows = good_rows()
    rows[row - 1].append("7")
    return csv_text(HEADER, rows)


def _too_few_cells(row: int, missing: int) -> str:
    rows = good_rows()
    rows[row - 1] = rows[row - 1][:-missing]
    return csv_text(HEADER, rows)


def _latin1(row: int) -> bytes:
    rows = good_rows()
    rows[row - 1][HEADER.index("feature_set")] = "caf\u00e9"
    return csv_text(HEADER, rows).encode("latin-1")  # e9 alone is not UTF-8


def _blank_lines_then_bad(row: int) -> str:
    rows = good_rows()
    rows[row - 1][HEADER.index("loss")] = "-1"
    lines = csv_text(HEADER, rows).splitlines()
    return "\n".join([lines[0], "", *lines[1:3], "", "", *lines[3:]]) + "\n"


CASES = {
    "missing required column": (written(_without_column("D"), "D", "header"), "missing column"),
    "missing loss column": (written(_without_column("loss"), "loss", "header"), "missing column"),
    "text in N": (replaced("N", 3, "abc"), "'abc' is not a number"),
    "text in D": (replaced("D", 8, "1e5 jets"), "'1e5 jets' is not a number"),
    "text in optional C": (replaced("C", 2, "1e9x"), "'1e9x' is not a number"),
    "text in epochs": (replaced("epochs", 5, "two"), "'two' is not a number"),
    "text in isoflop_budget": (replaced("isoflop_budget", 4, "big"), "'big' is not a number"),
    "zero N": (replaced("N", 4, "0"), "'0' is not a positive, finite number"),
    "negative D": (replaced("D", 2, "-5"), "'-5' is not a positive, finite number"),
    "nan loss": (replaced("loss", 6, "nan"), "'nan' is not a positive, finite number"),
    "infinite loss": (replaced("loss", 1, "inf"), "'inf' is not a positive, finite number"),
    "empty loss": (replaced("loss", 7, ""), "an empty cell is not a positive, finite number"),
    "negative U": (replaced("U", 2, "-1"), "'-1' is not a positive, finite number or empty"),
    "zero C": (replaced("C", 5, "0"), "'0' is not a positive, finite number or empty"),
    "infinite C": (replaced("C", 3, "inf"), "'inf' is not a positive, finite number or empty"),
    "negative budget": (replaced("isoflop_budget", 4, "-1e15"), "is not a positive"),
    "zero epochs": (replaced("epochs", 2, "0"), "'0' is not a number of epochs >= 1"),
    "empty epochs": (replaced("epochs", 8, ""), "an empty cell is not a number of epochs"),
    "empty group cell": (replaced("feature_set", 3, ""), "every run needs its feature_set"),
    "empty numeric group cell": (replaced("max_particles", 6, " "), "every run needs its"),
    "duplicated column": (written(_duplicated_header(), "N", "header"), "appears twice"),
    "too many cells": (written(_too_many_cells(3), "max_particles", "row 3"), "extra cell '7'"),
    "too few cells": (written(_too_few_cells(2, 2), "feature_set", "row 2"), "no cell for"),
    "non-UTF-8 cell": (written(_latin1(4), "feature_set", "row 4"), "not UTF-8 text (byte 0xe9)"),
    "blank lines not counted": (
        written(_blank_lines_then_bad(5), "loss", "row 5"),
        "'-1' is not a positive",
    ),
}


def check_message(message: str, path: Path, column: str | None, where: str) -> None:
    """The message names the file, the column (if any) and the row or the header."""
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    if column is not None:
        assert f"'{column}'" in message, message
    assert re.search(rf"\b{where}\b", message), message


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_table_names_file_column_and_row(
    tmp_path: Path, case: tuple[Callable[[Path], tuple[Path, str, str]], str]
) -> None:
    make, what = case
    path, column, where = make(tmp_path)
    with pytest.raises(FitError) as info:
        read_table(path)
    check_message(str(info.value), path, column, where)
    assert what in str(info.value)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_table_is_one_line_on_the_command_line(
    tmp_path: Path,
    case: tuple[Callable[[Path], tuple[Path, str, str]], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    make, what = case
    path, column, where = make(tmp_path)
    assert main(["fit", str(path), "--out", str(tmp_path / "out"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    prefix = "jetscale fit: error: "
    assert err.startswith(prefix)
    check_message(err[len(prefix) :].rstrip("\n"), path, column, where)
    assert what in err
    assert not (tmp_path / "out").exists()  # nothing written for a bad table


@pytest.mark.parametrize(
    ("content", "what"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        (",".join(HEADER) + "\n", "has a header ('N', 'D', 'loss'"),
    ],
    ids=["empty", "blank lines only", "header only"],
)
def test_empty_and_header_only_files(tmp_path: Path, content: str, what: str) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(content)
    with pytest.raises(FitError) as info:
        read_table(path)
    assert str(info.value).startswith(f"{path}: ")
    assert what in str(info.value)


def test_missing_file_and_directory_are_named(tmp_path: Path) -> None:
    absent = tmp_path / "absent.csv"
    with pytest.raises(FitError, match=re.escape(f"{absent}: no such file")):
        read_table(absent)
    with pytest.raises(FitError, match=re.escape(f"{tmp_path}: is a directory")):
        read_table(tmp_path)
    for table in (absent, tmp_path):
        assert main(["fit", str(table), "--out", str(tmp_path / "out")]) == 2


def test_header_with_non_utf8_bytes_names_the_header(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_bytes(b"N,D,loss,\xffx\n1,2,3,4\n")
    with pytest.raises(FitError) as info:
        read_table(path)
    check_message(str(info.value), path, None, "header, column 4")
    assert "byte 0xff" in str(info.value)


def test_utf8_bom_and_padded_names_are_read(tmp_path: Path) -> None:
    """Excel writes a byte-order mark; without stripping it the first column was '\\ufeffN'."""
    path = tmp_path / "runs.csv"
    path.write_bytes(b"\xef\xbb\xbfN, D ,loss\n10, 20 ,0.5\n")
    table = read_table(path)
    assert list(table) == ["N", "D", "loss"]
    np.testing.assert_array_equal(table["D"], [20.0])


def test_text_columns_outside_the_fits_stay_text(tmp_path: Path) -> None:
    rows = good_rows()
    path = tmp_path / "runs.csv"
    path.write_text(
        csv_text([*HEADER, "note"], [[*r, "ok" if i else "x"] for i, r in enumerate(rows)])
    )
    table = read_table(path)
    assert table["note"].tolist() == ["x"] + ["ok"] * 7
    assert table["feature_set"].tolist() == [r[7] for r in rows]
    assert table["isoflop_budget"].dtype == np.float64


def test_loss_column_other_than_loss_is_the_checked_one(tmp_path: Path) -> None:
    rows = good_rows()
    path = tmp_path / "runs.csv"
    path.write_text(
        csv_text(
            [*HEADER, "best_loss"], [[*r, "-0.5" if i == 2 else "1.5"] for i, r in enumerate(rows)]
        )
    )
    read_table(path)  # best_loss is not required here: a text-free numeric column
    with pytest.raises(FitError) as info:
        read_table(path, required=("N", "D", "best_loss"))
    check_message(str(info.value), path, "best_loss", "row 3")


def _parquet(path: Path, columns: dict[str, list[object]], names: list[str] | None = None) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    arrays = [pa.array(v) for v in columns.values()]
    pq.write_table(pa.Table.from_arrays(arrays, names=names or list(columns)), path)
    return path


def test_parquet_tables_get_the_same_checks(tmp_path: Path) -> None:
    good = {"N": [1e4, 2e4, 4e4], "D": [1e5, 1e5, 1e5], "loss": [1.0, 0.9, 0.8]}
    table = read_table(_parquet(tmp_path / "good.parquet", good))
    np.testing.assert_array_equal(table["N"], good["N"])

    null_loss = _parquet(tmp_path / "null.parquet", {**good, "loss": [1.0, None, 0.8]})
    with pytest.raises(FitError) as info:
        read_table(null_loss)
    check_message(str(info.value), null_loss, "loss", "row 2")

    text_n = _parquet(tmp_path / "text.parquet", {**good, "N": ["1e4", "2e4", "many"]})
    with pytest.raises(FitError) as info:
        read_table(text_n)
    check_message(str(info.value), text_n, "N", "row 3")

    twice = _parquet(tmp_path / "twice.parquet", {**good, "x": [1, 2, 3]}, ["N", "D", "loss", "D"])
    with pytest.raises(FitError) as info:
        read_table(twice)
    check_message(str(info.value), twice, "D", "header")

    not_parquet = tmp_path / "csv.parquet"
    not_parquet.write_text("N,D,loss\n1,2,3\n")
    with pytest.raises(FitError, match=re.escape(f"{not_parquet}: not a readable parquet file")):
        read_table(not_parquet)

    empty = _parquet(tmp_path / "empty.parquet", {"N": [], "D": [], "loss": []})
    with pytest.raises(FitError, match=re.escape(f"{empty}: the table has columns")):
        read_table(empty)
