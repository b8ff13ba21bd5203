"""Write feature arrays to disk: one compressed ``.npz`` per input file, atomically.

The ``.npz`` holds ``x`` (float32, N x P x F), ``mask`` (bool, N x P), ``label``
(int32, -1 when unlabelled), and the ``feature_names`` and ``class_names`` that give
the axes meaning, so a file describes itself without jetscale installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np

from jetscale.features import DEFAULT_FEATURE_SET, FEATURE_SETS, build_features
from jetscale.io import QualityReport, iterate_jets
from jetscale.io.atomic import atomic_path
from jetscale.schema import CLASS_NAMES


def feature_file_name(source: str | os.PathLike[str], feature_set: str) -> str:
    """``<stem of the input>_<feature set>.npz``: the name every writer of feature files uses."""
    return f"{Path(source).stem}_{feature_set}.npz"


def read_feature_file(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of a feature file (``x``, ``mask``, ``label``, ``feature_names``, ``class_names``)."""
    with np.load(Path(path), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def write_feature_file(
    source: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    feature_set: str = DEFAULT_FEATURE_SET,
    max_particles: int = 128,
    report: QualityReport | None = None,
) -> tuple[Path, int]:
    """Build the features of every jet of one input file; returns (path, number of jets)."""
    xs, masks, labels = [], [], []
    for chunk in iterate_jets(source, report=report):
        x, mask = build_features(chunk, feature_set=feature_set, max_particles=max_particles)
        xs.append(x)
        masks.append(mask)
        labels.append(ak.to_numpy(chunk["label"]).astype(np.int32))
    n_features = len(FEATURE_SETS[feature_set])
    x_all = np.concatenate(xs) if xs else np.zeros((0, max_particles, n_features), np.float32)
    mask_all = np.concatenate(masks) if masks else np.zeros((0, max_particles), bool)
    label_all = np.concatenate(labels) if labels else np.zeros(0, np.int32)
    final = Path(out_path)
    with atomic_path(final) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(
            handle,
            x=x_all,
            mask=mask_all,
            label=label_all,
            feature_names=np.array(FEATURE_SETS[feature_set]),
            class_names=np.array(CLASS_NAMES),
        )
    return final, len(label_all)
