"""Everything a tagging job leaves behind: the accumulator, ROOT histograms, JSON and plots."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import hist
import numpy as np

from jetscale.io.atomic import atomic_path
from jetscale.plotting.histograms import write_histograms_root
from jetscale.plotting.tagger_plots import plot_tagger

#: Histograms :func:`plot_tagger` draws from (see ``tagger_histograms``).
TAGGER_KEYS = ("score", "discriminant", "jet_pt", "sdmass_vs_discriminant")


def _coffea_save() -> Callable[[Any, str], None]:
    try:
        from coffea.util import save
    except ImportError as err:
        msg = "writing .coffea files needs coffea: pip install 'jetscale[coffea]'"
        raise ImportError(msg) from err
    return save


def _histograms(tree: Mapping[Any, Any], prefix: str = "") -> Iterator[tuple[str, hist.Hist]]:
    """Every ``hist.Hist`` in nested mappings, keyed ``outer/inner``."""
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, hist.Hist):
            yield name, value
        elif isinstance(value, Mapping):
            yield from _histograms(value, f"{name}/")


def _tagger_histograms(accumulator: Mapping[Any, Any]) -> dict[str, hist.Hist]:
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
            for key, h in _tagger_histograms(value).items():
                merged[key] = merged[key] + h if key in merged else h
    return merged


def _jsonable(value: Any) -> Any:
    """``value`` without its histograms, as JSON types (unknown objects as their ``str``)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items() if not isinstance(v, hist.Hist)}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value if not isinstance(v, hist.Hist)]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def write_outputs(
    accumulator: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    experiment: str = "CMS",
    label: str = "Preliminary",
    *,
    com: float = 13,
    background_dataset: str | None = None,
) -> dict[str, Path | list[Path]]:
    """Write a tagging job's accumulator in every form an analysis uses.

    In ``out_dir``: ``tagger.coffea`` (the whole accumulator, ``coffea.util.save``),
    ``histograms.root`` (every ``hist.Hist``, nested mappings as ``outer/inner``,
    see :func:`write_histograms_root`), ``summary.json`` (every other entry:
    counts, skipped files) and ``plots/`` (:func:`plot_tagger`). Returns those
    paths under the keys ``coffea``, ``root``, ``summary`` and ``plots`` (a list).
    Every file is written atomically; the ``.coffea`` file first, so the
    accumulator survives a failure further on.
    """
    save = _coffea_save()  # before writing anything, so a missing coffea leaves no partial output
    out = Path(out_dir)
    coffea_file = out / "tagger.coffea"
    with atomic_path(coffea_file) as tmp:
        save(accumulator, str(tmp))
    root_file = write_histograms_root(out / "histograms.root", dict(_histograms(accumulator)))
    summary_file = out / "summary.json"
    with atomic_path(summary_file) as tmp:
        tmp.write_text(json.dumps(_jsonable(accumulator), indent=2) + "\n")
    plots = plot_tagger(
        _tagger_histograms(accumulator),
        out / "plots",
        experiment,
        label,
        com=com,
        background_dataset=background_dataset,
    )
    return {"coffea": coffea_file, "root": root_file, "summary": summary_file, "plots": plots}
