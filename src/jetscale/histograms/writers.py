"""Writers of histogram outputs: ROOT (uproot), ``.coffea`` accumulators and summary JSON.

Nothing here draws: coffea workers and batch jobs write histograms without
importing matplotlib. Every file is written atomically.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import hist
import uproot

from jetscale._optional import import_optional
from jetscale.histograms.tagger import TAGGER_KEYS
from jetscale.io.atomic import atomic_path, write_json

#: Axis types uproot cannot write; each of their bins becomes its own ROOT histogram.
CATEGORY_AXES = (hist.axis.StrCategory, hist.axis.IntCategory, hist.axis.Boolean)


def _root_name(value: object) -> str:
    # "/" would open a ROOT directory and ";" a cycle number (NanoAOD dataset
    # names are "/Primary/Processed/TIER").
    return str(value).replace("/", "_").replace(";", "_") or "_"


def _category_slices(name: str, h: hist.Hist) -> Iterator[tuple[str, hist.Hist]]:
    """``(<name>/<cat1>/<cat2>/..., slice)`` for every combination of category bins."""
    categories = [axis for axis in h.axes if isinstance(axis, CATEGORY_AXES)]
    numeric = len(h.axes) - len(categories)
    if not 1 <= numeric <= 3:
        msg = (
            f"histogram {name!r} has {numeric} numeric axes "
            f"({[a.name for a in h.axes]}); ROOT histograms need 1 to 3"
        )
        raise ValueError(msg)
    values: list[list[Any]] = [
        [bool(v) for v in axis] if isinstance(axis, hist.axis.Boolean) else list(axis)
        for axis in categories
    ]
    for combination in itertools.product(*values):
        key = "/".join([name, *(_root_name(v) for v in combination)])
        selection: dict[int | str, Any] = {
            axis.name: hist.loc(v) for axis, v in zip(categories, combination, strict=True)
        }
        yield key, cast(hist.Hist, h[selection])


def write_histograms_root(
    path: str | os.PathLike[str], histograms: Mapping[str, hist.Hist]
) -> Path:
    """Write every histogram to ROOT, one TH1/TH2/TH3 per combination of category bins.

    uproot cannot write category axes, so each combination of the StrCategory,
    IntCategory and Boolean bins (in axis order) becomes a histogram of the
    remaining 1 to 3 numeric axes named ``<histogram>/<cat1>/<cat2>/...``
    (``/`` and ``;`` in category names become ``_``). Flow bins of the numeric
    axes are kept, entries in category overflow bins are not; ``Weight``
    storage keeps its sum of squared weights (``fSumw2``). A histogram with an
    empty growing category axis writes nothing. Written atomically.
    """
    final = Path(path)
    # Check (and name) everything before writing, so a bad histogram fails cleanly.
    slices: dict[str, hist.Hist] = {}
    for name, h in histograms.items():
        for key, sub in _category_slices(name, h):
            if key in slices:
                msg = f"two ROOT histograms would both be named {key!r}"
                raise ValueError(msg)
            slices[key] = sub
    with atomic_path(final) as tmp, uproot.recreate(tmp) as file:
        for key, sub in slices.items():
            file[key] = sub
    return final


def coffea_save() -> Callable[[Any, str], None]:
    """``coffea.util.save``; raises naming the ``coffea`` extra when coffea is missing."""
    util = import_optional("coffea.util", extra="coffea", purpose="writing .coffea files")
    save: Callable[[Any, str], None] = util.save
    return save


def collect_histograms(
    tree: Mapping[Any, Any], prefix: str = ""
) -> Iterator[tuple[str, hist.Hist]]:
    """Every ``hist.Hist`` in nested mappings, keyed ``outer/inner``."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, hist.Hist):
            yield name, value
        elif isinstance(value, Mapping):
            yield from collect_histograms(value, f"{name}/")


def find_tagger_histograms(accumulator: Mapping[Any, Any]) -> dict[str, hist.Hist]:
    """The tagger histograms at the top level or, failing that, summed over nested mappings.

    coffea's ``apply_to_fileset`` returns one processor output per dataset; their
    histograms have growing ``dataset`` axes, so their sum holds every dataset.
    """
    top = {k: v for k, v in accumulator.items() if k in TAGGER_KEYS and isinstance(v, hist.Hist)}
    if top:
        return top
    merged: dict[str, hist.Hist] = {}
    for value in accumulator.values():
        if isinstance(value, Mapping):
            for key, h in find_tagger_histograms(value).items():
                merged[key] = merged[key] + h if key in merged else h
    return merged


def without_histograms(value: Any) -> Any:
    """``value`` with every ``hist.Hist`` left out, in mappings and sequences at any depth."""
    if isinstance(value, Mapping):
        return {k: without_histograms(v) for k, v in value.items() if not isinstance(v, hist.Hist)}
    if isinstance(value, list | tuple | set | frozenset):
        items = [without_histograms(v) for v in value if not isinstance(v, hist.Hist)]
        return type(value)(items) if isinstance(value, set | frozenset) else items
    return value


def write_coffea(accumulator: Any, path: str | os.PathLike[str]) -> Path:
    """Save ``accumulator`` with ``coffea.util.save`` (needs the ``coffea`` extra), atomically."""
    save = coffea_save()
    final = Path(path)
    with atomic_path(final) as tmp:
        save(accumulator, str(tmp))
    return final


def write_summary(accumulator: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Every entry of ``accumulator`` but its histograms, as JSON (see ``io.atomic.json_safe``)."""
    return write_json(path, without_histograms(accumulator))
