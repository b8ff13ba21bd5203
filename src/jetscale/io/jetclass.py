"""Read and write JetClass-format ROOT files with uproot, chunk by chunk.

A JetClass file holds one jet per entry of the TTree ``tree`` with jagged
``part_*`` branches, one-hot ``label_*`` branches (float, bool or int in the real
files) and scalar ``jet_*`` branches. :func:`iterate_jetclass` yields chunks in the
internal layout of :mod:`jetscale.schema`, so a dataset larger than memory streams.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from jetscale import schema
from jetscale.io.atomic import atomic_path
from jetscale.io.chunks import concatenate_chunks
from jetscale.io.errors import JetFileError, describe, empty_file
from jetscale.io.paths import expand_paths
from jetscale.io.quality import OnInvalid, QualityReport, clean_jets
from jetscale.task import JETCLASS, LABEL_PREFIX, Task

log = logging.getLogger(__name__)

#: Jet-level fields a file must have for the features to be defined.
REQUIRED_JET_FIELDS = ("pt", "eta", "phi", "energy")
DEFAULT_STEP_SIZE = "100 MB"


def iterate_jetclass(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    step_size: int | str = DEFAULT_STEP_SIZE,
    constituent_fields: Sequence[str] | None = None,
    on_invalid: OnInvalid = "drop",
    report: QualityReport | None = None,
    task: Task | None = None,
    view_fields: bool = False,
) -> Iterator[ak.Array]:
    """Yield chunks of jets in the internal layout from JetClass ROOT files.

    ``paths`` may be a path, a glob, a directory, a ``.txt`` file list or a list of
    those. ``step_size`` is entries (int) or memory (``"100 MB"``) per chunk.
    ``constituent_fields`` restricts (and requires) the ``part_*`` branches read;
    by default all sixteen are required. Invalid values are handled as documented
    in :mod:`jetscale.io.quality` and counted in ``report``. ``label`` is the index
    of each jet's class in ``task`` (default: JetClass's ten; see :mod:`jetscale.task`).
    ``view_fields`` also reads the jet fields of re-simulated files
    (:data:`~jetscale.schema.VIEW_JET_FIELDS`); a file without them is a
    :class:`~jetscale.io.errors.JetFileError` naming it.
    """
    fields = (
        tuple(constituent_fields) if constituent_fields is not None else schema.CONSTITUENT_FIELDS
    )
    for field in fields:
        if field not in schema.CONSTITUENT_FIELDS:
            msg = f"unknown constituent field {field!r}; known: {', '.join(schema.CONSTITUENT_FIELDS)}"
            raise ValueError(msg)
    for path in expand_paths(paths):
        yield from _iterate_file(path, step_size, fields, on_invalid, report, task, view_fields)


def read_jetclass(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    constituent_fields: Sequence[str] | None = None,
    on_invalid: OnInvalid = "drop",
    report: QualityReport | None = None,
    task: Task | None = None,
) -> ak.Array:
    """Read whole JetClass files into one array (for small samples; use iterate otherwise)."""
    chunks = iterate_jetclass(
        paths, DEFAULT_STEP_SIZE, constituent_fields, on_invalid, report, task
    )
    return concatenate_chunks(chunks, paths)


def is_resimulated(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a ROOT file of re-simulated views (it has ``jet_group``)."""
    if Path(path).suffix != ".root":
        return False
    return schema.JET_PREFIX + "group" in open_tree(Path(path))


def read_views(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The description of a re-simulated file's views (:data:`~jetscale.schema.VIEWS_KEY`).

    ``{"views": [variation name of view 0, 1, ...], ...}``; a
    :class:`~jetscale.io.errors.JetFileError` naming the file if it has none.
    """
    open_tree(Path(path))  # a JetClass file at all
    with uproot.open(path) as file:
        if schema.VIEWS_KEY not in file:
            msg = f"no {schema.VIEWS_KEY!r} metadata: not a re-simulated file"
            raise JetFileError(Path(path), msg, schema.VIEWS_KEY)
        try:
            return dict(json.loads(str(file[schema.VIEWS_KEY])))
        except ValueError as err:
            raise JetFileError(Path(path), f"{schema.VIEWS_KEY!r} is not JSON ({err})") from err


def open_tree(path: Path) -> Any:
    """The JetClass ``tree`` of ``path``; :class:`JetFileError` naming the file if it cannot be had."""
    if empty_file(path):
        raise JetFileError(path, "cannot open as a ROOT file (empty: 0 bytes)")
    try:
        file = uproot.open(path)
    except Exception as err:
        raise JetFileError(path, f"cannot open as a ROOT file ({describe(err)})") from err
    if schema.TREE_NAME not in file:
        names = {k.split(";")[0] for k in file.keys()}  # noqa: SIM118 (an uproot directory, not a dict)
        keys = ", ".join(sorted(names)) or "none"
        raise JetFileError(path, f"no TTree {schema.TREE_NAME!r} (keys: {keys})")
    try:
        tree = file[schema.TREE_NAME]
    except Exception as err:
        raise JetFileError(
            path, f"cannot read TTree {schema.TREE_NAME!r} ({describe(err)})"
        ) from err
    if not isinstance(tree, uproot.TTree):
        kind = "an RNTuple" if "RNTuple" in type(tree).__name__ else type(tree).__name__
        raise JetFileError(
            path, f"{schema.TREE_NAME!r} is {kind}, not a TTree (JetClass files hold a TTree)"
        )
    return tree


def _iterate_file(
    path: Path,
    step_size: int | str,
    fields: Sequence[str],
    on_invalid: OnInvalid,
    report: QualityReport | None,
    task: Task | None,
    view_fields: bool = False,
) -> Iterator[ak.Array]:
    tree = open_tree(path)
    available = set(tree.keys())
    wanted = [f"part_{f}" for f in fields] + list(schema.JET_BRANCHES)
    branches = [b for b in wanted if b in available] + label_branches(available)
    views = [schema.JET_PREFIX + f for f in schema.VIEW_JET_FIELDS] if view_fields else []
    if missing := [b for b in views if b not in available]:
        msg = (
            f"no {', '.join(missing)}: not a re-simulated file "
            "(make one with jetscale generate --resimulate K)"
        )
        raise JetFileError(path, msg, missing[0])
    # The checks every reader shares (check_branch_types), on the types of zero
    # entries: a missing or mistyped branch is named before any data is read.
    check_branch_types(_zero_entries(path, tree, branches), fields, path, task)
    try:
        for arrays in tree.iterate(branches + views, step_size=step_size, library="ak"):
            jets = jets_from_branches(arrays, fields, source=path, task=task)
            for branch in views:
                jets = ak.with_field(jets, arrays[branch], branch.removeprefix(schema.JET_PREFIX))
            yield clean_jets(jets, str(path), on_invalid, report)
    except JetFileError:
        raise
    except Exception as err:
        raise JetFileError(path, f"corrupt or truncated data ({describe(err)})") from err


def _zero_entries(path: Path, tree: Any, branches: Sequence[str]) -> ak.Array:
    """``branches`` of ``tree`` with no entries: their awkward types, without reading data."""
    for branch in branches:
        interpretation = tree[branch].interpretation
        if isinstance(interpretation, uproot.interpretation.identify.UnknownInterpretation):
            raise JetFileError(
                path, f"cannot be read as an array (ROOT type {tree[branch].typename!r})", branch
            )
    try:
        return tree.arrays(branches, entry_stop=0, library="ak")
    except Exception as err:
        raise JetFileError(path, f"cannot read the branches ({describe(err)})") from err


def label_branches(names: Iterable[str]) -> list[str]:
    """The ``label_*`` branches among ``names``: JetClass's ten in order, then others sorted."""
    present = {n for n in names if n.startswith(LABEL_PREFIX)}
    ten = [b for b in schema.LABEL_BRANCHES if b in present]
    return ten + sorted(present - set(ten))


def jets_from_branches(
    arrays: Any,
    constituent_fields: Sequence[str] | None = None,
    *,
    source: object = "input",
    task: Task | None = None,
) -> Any:
    """Map JetClass branches (``part_*``, ``jet_*``, ``label_*``) to the internal layout.

    Pure awkward, so it works on eager arrays, coffea's virtual arrays (e.g.
    ``NanoEventsFactory.from_root({path: "tree"}, schemaclass=BaseSchema)``),
    typetracers and dask-awkward collections alike. Labels become an int32 index
    into ``task``'s classes (default JetClass's ten): -1 when the input carries no
    ``label_*`` branches, or for jets of a class outside the task (see
    :mod:`jetscale.task`; a task branch the input lacks holds no jet of it).

    Every reader of JetClass branches goes through the same checks here, before
    any value is used: the branches are present, ``part_*`` are jagged numeric,
    ``jet_*`` and ``label_*`` numeric scalars (from the array types, so lazily for
    every backend), and, where values are at hand (eager and coffea-virtual
    arrays), every jet is one-hot over all its ``label_*`` branches (the ten and any
    others, such as a generated ``label_Xbb_m60``). A failure raises
    :class:`~jetscale.io.errors.JetFileError` naming ``source`` (the file), the
    branch and the problem.
    """
    fields = (
        tuple(constituent_fields) if constituent_fields is not None else schema.CONSTITUENT_FIELDS
    )
    task = task or JETCLASS
    present = set(ak.fields(arrays))
    check_branch_types(arrays, fields, source, task)
    labels_present = label_branches(present)
    if labels_present and _has_values(arrays):
        _check_one_hot(source, arrays, labels_present)
    constituents = {
        field: ak.values_astype(
            arrays[f"part_{field}"],
            schema.constituent_dtype(field),
        )
        for field in fields
    }
    content: dict[str, Any] = {
        field: ak.values_astype(arrays[branch], np.float32)
        for field, branch in zip(schema.JET_FIELDS, schema.JET_BRANCHES, strict=True)
        if branch in present
    }
    # One-hot labels: the sum of (class index + 1) over the set task branches, minus 1,
    # is the class index, or -1 where no task branch is set.
    label = ak.values_astype(ak.zeros_like(arrays["jet_pt"]), np.int32) - 1
    for branch, index in task.class_of_branch().items():
        if branch in present:
            label = label + ak.values_astype(arrays[branch] != 0, np.int32) * (index + 1)
    content["label"] = label
    content["constituents"] = ak.zip(constituents)
    return ak.zip(content, depth_limit=1)


_NUMERIC_PRIMITIVES = frozenset(
    {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
    | {"float16", "float32", "float64"}
)


def check_branch_types(
    arrays: Any, constituent_fields: Sequence[str], source: object, task: Task | None = None
) -> None:
    """Refuse missing or mistyped branches from the array types alone (no values are read).

    ``part_<field>`` for each of ``constituent_fields`` and ``jet_pt``, ``jet_eta``,
    ``jet_phi``, ``jet_energy`` must be present, and, for JetClass's ten-class task,
    either all ten ``label_*`` branches or none (other tasks read a missing branch as
    "no jet of this class here", see :mod:`jetscale.task`); ``part_*`` must be jagged numeric lists, ``jet_*`` and ``label_*``
    numeric scalars per jet. Works for eager, coffea-virtual, typetracer and
    dask-awkward arrays, and is the one check of every reader: the file reader runs
    it on zero entries before reading, the coffea processors on each chunk.
    """
    present = set(ak.fields(arrays))
    required = [f"part_{f}" for f in constituent_fields] + [f"jet_{f}" for f in REQUIRED_JET_FIELDS]
    for branch in required:
        if branch not in present:
            raise JetFileError(source, "branch missing", branch)
    labels = [b for b in schema.LABEL_BRANCHES if b in present]
    if (task is None or task.is_jetclass) and labels and len(labels) != len(schema.LABEL_BRANCHES):
        # Some labels but not all: the jets of the missing classes would be taken as
        # another class or as unlabelled.
        missing = sorted(set(schema.LABEL_BRANCHES) - set(labels))
        raise JetFileError(
            source, f"label branches incomplete (missing {', '.join(missing)})", missing[0]
        )
    for branch in sorted(present):
        if branch.startswith("part_") and branch.removeprefix("part_") in constituent_fields:
            jagged = True
        elif branch in schema.JET_BRANCHES or branch.startswith(LABEL_PREFIX):
            jagged = False
        else:
            continue
        form = _form(arrays[branch])
        if jagged:
            if not isinstance(form, ak.forms.ListOffsetForm | ak.forms.ListForm):
                raise JetFileError(
                    source, f"expected a jagged list per jet, found {_type_name(form)}", branch
                )
            form = form.content
        if not (isinstance(form, ak.forms.NumpyForm) and form.inner_shape == ()) or (
            form.primitive not in _NUMERIC_PRIMITIVES
        ):
            what = "a jagged numeric list" if jagged else "one number per jet"
            raise JetFileError(source, f"expected {what}, found {_type_name(form)}", branch)


def _form(array: Any) -> Any:
    """The awkward form of an eager, virtual, typetracer or dask-awkward array."""
    if type(array).__module__.startswith("dask_awkward"):
        return array.form
    return ak.to_layout(array).form


def _type_name(form: Any) -> str:
    """The awkward type of a form, as a user reads it (``float32``, ``var * float32``)."""
    return str(form.type)


def _has_values(arrays: Any) -> bool:
    """Whether values can be checked here: eager or coffea-virtual, not typetracer or dask."""
    if type(arrays).__module__.startswith("dask_awkward"):
        return False
    return bool(ak.backend(arrays) != "typetracer")


def _check_one_hot(path: object, arrays: Any, label_branches: Sequence[str]) -> None:
    """Every jet must have exactly one ``label_*`` set (any numeric dtype)."""
    set_per_jet = np.zeros(len(arrays), dtype=np.int64)
    for branch in label_branches:
        set_per_jet += ak.to_numpy(arrays[branch]).astype(np.float64) != 0
    bad = np.flatnonzero(set_per_jet != 1)
    if bad.size:
        msg = f"{bad.size} jets are not one-hot over label_* (first entry {int(bad[0])} has {int(set_per_jet[bad[0]])} labels set)"
        raise JetFileError(path, msg, "label_*")


def write_jetclass(
    path: str | os.PathLike[str],
    jets: ak.Array,
    label_dtype: str = "bool",
    class_names: Sequence[str] = schema.CLASS_NAMES,
) -> Path:
    """Write jets in the internal layout as a JetClass ROOT file, atomically.

    Branch names, tree name and jagged layout are JetClass's; uproot adds the
    counter branch ``npart`` that every jagged TTree needs. Constituent floats are
    float32, PID flags int32, jet-level values float32, labels ``label_dtype``.
    ``jets.label`` indexes ``class_names``; the file gets JetClass's ten
    ``label_*`` branches and one more for each other class (``label_Xbb_m60``),
    so it stays a JetClass file that also names the new class.
    """
    return write_jetclass_chunks(path, [jets], label_dtype, class_names)


def write_jetclass_chunks(
    path: str | os.PathLike[str],
    chunks: Iterable[ak.Array],
    label_dtype: str = "bool",
    class_names: Sequence[str] = schema.CLASS_NAMES,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """:func:`write_jetclass` of the concatenated ``chunks``, one chunk in memory at a time.

    Each chunk is appended to the tree as it comes (one basket per branch and
    chunk), so a file larger than memory can be assembled; the file appears under
    its name only once every chunk is written. ``chunks`` must not be empty.
    ``metadata`` maps keys to JSON-able values, each stored beside the tree as a
    JSON ``TObjString`` (readers of JetClass files see only the tree).
    Jets with the fields of :data:`~jetscale.schema.VIEW_JET_FIELDS` (re-simulated
    views) get them as ``jet_*`` branches too.
    """
    final = Path(path)
    with atomic_path(final) as tmp, uproot.recreate(tmp) as file:
        for key, value in (metadata or {}).items():
            file[key] = json.dumps(value, sort_keys=True)
        tree = None
        for jets in chunks:
            data = _branches(jets, label_dtype, class_names)
            if tree is None:
                tree = file.mktree(schema.TREE_NAME, {k: _branch_type(v) for k, v in data.items()})
            if len(jets):
                tree.extend(data)
        if tree is None:
            msg = f"{final}: no chunks of jets to write"
            raise ValueError(msg)
    return final


def _branches(jets: ak.Array, label_dtype: str, class_names: Sequence[str]) -> dict[str, Any]:
    """The JetClass branches of jets in the internal layout."""
    data: dict[str, Any] = {}
    consts = jets["constituents"]
    data["part"] = ak.zip(
        {
            f: ak.values_astype(consts[f], schema.constituent_dtype(f))
            for f in schema.CONSTITUENT_FIELDS
        }
    )
    labels = ak.to_numpy(jets["label"]).astype(np.int64)
    index_of = {name: k for k, name in enumerate(class_names)}
    for name in dict.fromkeys((*schema.CLASS_NAMES, *class_names)):
        data[LABEL_PREFIX + name] = (labels == index_of.get(name, -2)).astype(label_dtype)
    for field, branch in zip(schema.JET_FIELDS, schema.JET_BRANCHES, strict=True):
        data[branch] = ak.to_numpy(jets[field]).astype(np.float32)
    for field, dtype in schema.VIEW_JET_FIELDS.items():  # re-simulated files only
        if field in ak.fields(jets):
            data[schema.JET_PREFIX + field] = ak.to_numpy(jets[field]).astype(dtype)
    return data


def _branch_type(values: Any) -> Any:
    return values.type if isinstance(values, ak.Array) else values.dtype
