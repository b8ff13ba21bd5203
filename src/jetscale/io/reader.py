"""One entry point that reads any supported jet file by its suffix."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import awkward as ak

from jetscale.io.chunks import concatenate_chunks
from jetscale.io.errors import JetFileError
from jetscale.io.jetclass import DEFAULT_STEP_SIZE, iterate_jetclass, open_tree
from jetscale.io.parquet import iterate_parquet, parquet_metadata
from jetscale.io.paths import expand_paths
from jetscale.io.quality import OnInvalid, QualityReport
from jetscale.task import Task


def iterate_jets(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    step_size: int | str = DEFAULT_STEP_SIZE,
    constituent_fields: Sequence[str] | None = None,
    on_invalid: OnInvalid = "drop",
    report: QualityReport | None = None,
    task: Task | None = None,
) -> Iterator[ak.Array]:
    """Yield internal-layout chunks from ``.root`` (JetClass) and ``.parquet`` files.

    ``label`` indexes ``task``'s classes (default JetClass's ten; :mod:`jetscale.task`).
    """
    for path in expand_paths(paths):
        if path.suffix == ".parquet":
            yield from iterate_parquet(path, constituent_fields, on_invalid, report, task)
        elif path.suffix == ".root":
            yield from iterate_jetclass(
                path, step_size, constituent_fields, on_invalid, report, task
            )
        else:
            raise JetFileError(path, "unsupported file type (expected .root or .parquet)")


def read_jets(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    constituent_fields: Sequence[str] | None = None,
    on_invalid: OnInvalid = "drop",
    report: QualityReport | None = None,
    task: Task | None = None,
) -> ak.Array:
    """Read all jets of small files into memory in the internal layout."""
    chunks = iterate_jets(paths, DEFAULT_STEP_SIZE, constituent_fields, on_invalid, report, task)
    return concatenate_chunks(chunks, paths)


def count_entries(path: str | os.PathLike[str]) -> int:
    """Jets in one file from its metadata (no branch is read), through the readers' openers.

    A missing, corrupt or treeless file raises :class:`JetFileError` naming it.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        return int(parquet_metadata(path)["num_rows"])
    if path.suffix == ".root":
        return int(open_tree(path).num_entries)
    raise JetFileError(path, "unsupported file type (expected .root or .parquet)")


def label_branches_of(path: str | os.PathLike[str]) -> list[str]:
    """The ``label_*`` branches (ROOT) or label columns (parquet) of one file, from metadata.

    An internal-layout parquet file's ``label`` column names its classes by the
    class names stored with it; one whose first row group is all -1 is unlabelled.
    """
    from jetscale import schema
    from jetscale.io.jetclass import label_branches
    from jetscale.io.parquet import CLASS_NAMES_KEY

    path = Path(path)
    if path.suffix == ".root":
        return label_branches(open_tree(path).keys())
    head = (
        ak.from_parquet(path, row_groups=[0]) if parquet_metadata(path)["num_row_groups"] else None
    )
    if head is None:
        return []
    if "label" in ak.fields(head):
        if (ak.to_numpy(head["label"]) < 0).all():
            return []  # written unlabelled (label -1), as from NanoAOD
        names = ak.parameters(head).get(CLASS_NAMES_KEY) or schema.CLASS_NAMES
        return [f"label_{n}" for n in names]
    return label_branches(ak.fields(head))
