"""The jets of a sweep: generated once or given as files, merged into one shuffled file.

Training reads the *first* U jets of its files (``TrainConfig.max_jets``).
JetClass files, real or generated, hold one class each, so the first U jets of
the raw files would be one class. Merging the inputs into one file in a seeded
random order makes every U a random, class-mixed subset, and the subsets nest
(the U = 1,000 jets are among the U = 2,000), which lowers the variance of
data-scaling fits. The merge is in memory: for inputs larger than memory,
pre-shuffle them and set ``shuffle: false``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import awkward as ak
import numpy as np

from jetscale.io import expand_paths, read_jets, write_jetclass
from jetscale.io.atomic import write_json
from jetscale.io.reader import count_entries
from jetscale.scaling.sweep_config import DataSpec

log = logging.getLogger(__name__)

SHUFFLE_SEED = 20220  # fixed, so every sweep over the same files sees the same order


def prepare_data(
    spec: DataSpec, out_dir: Path, workers: int = 1
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Training and validation files of the sweep in ``out_dir / "data"``; made once, reused after."""
    data_dir = out_dir / "data"
    if spec.generate is not None:
        train, val = _generated(spec, data_dir, workers)
    else:
        train = tuple(str(p) for p in expand_paths(spec.train))
        val = tuple(str(p) for p in expand_paths(spec.val)) if spec.val else ()
    if not spec.shuffle:
        return train, val
    merged_train = _merged(train, data_dir / "train.root")
    merged_val = _merged(val, data_dir / "val.root") if val else ()
    return merged_train, merged_val


def _generated(
    spec: DataSpec, data_dir: Path, workers: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from jetscale.generate import generate, sample_file_name

    settings = dict(spec.generate or {})
    classes = list(settings["classes"])
    detector = str(settings.get("detector", "cms"))
    seed = int(settings.get("seed", 1))
    paths = []
    for split, jets, split_seed in (
        ("train", int(settings["train_jets_per_class"]), seed),
        ("val", int(settings["val_jets_per_class"]), seed + 1),
    ):
        where = data_dir / f"generated_{split}"
        marker = where / "generated.json"
        wanted = {
            "classes": classes,
            "jets_per_class": jets,
            "detector": detector,
            "seed": split_seed,
        }
        if not (marker.exists() and json.loads(marker.read_text()) == wanted):
            log.info("generating %s jets: %s", split, wanted)
            summary = generate(
                where, classes, jets, detector=detector, seed=split_seed, workers=workers
            )
            log.info(
                "generated %d jets at %.1f jets/s",
                sum(summary.jets_per_class.values()),
                summary.jets_per_second,
            )
            write_json(marker, wanted)
        paths.append(tuple(str(where / sample_file_name(c, detector, split_seed)) for c in classes))
    return paths[0], paths[1]


def _merged(paths: Sequence[str], target: Path) -> tuple[str, ...]:
    """One file with the jets of ``paths`` in a seeded random order (rebuilt if the inputs change)."""
    marker = target.with_suffix(".json")
    sources = sorted(str(Path(p).resolve()) for p in paths)
    stamp = {"sources": sources, "sizes": [Path(p).stat().st_size for p in sources]}
    if target.exists() and marker.exists() and json.loads(marker.read_text()) == stamp:
        return (str(target),)
    jets = read_jets(sources)
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(jets))
    write_jetclass(target, jets[order])  # atomic
    write_json(marker, stamp)
    log.info("merged %d jets from %d files into %s", len(jets), len(sources), target)
    return (str(target),)


def count_jets(paths: Sequence[str]) -> int:
    """Jets in the files, from their metadata (no branch is read); bad files are named."""
    return sum(count_entries(path) for path in paths)


def tokens_per_jet(paths: Sequence[str]) -> Callable[[int], float]:
    """``f(max_particles)``: mean constituents per jet the model sees (padding excluded).

    The compute convention C = 6 N D n_bar counts constituents as tokens, so an
    IsoFLOP budget becomes jets through this mean.
    """
    counts = np.concatenate(
        [ak.to_numpy(ak.num(read_jets(p, constituent_fields=("px",)).constituents)) for p in paths]
    )
    if not len(counts):
        msg = f"no jets in {', '.join(paths)}"
        raise ValueError(msg)
    return lambda max_particles: float(np.minimum(counts, max_particles).mean())
