"""The JetClass feature processor inside coffea's Runner, with independent cross-checks."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from jetscale.features import FEATURE_SETS, build_features
from jetscale.io import write_jetclass
from jetscale.schema import CLASS_NAMES

processor = pytest.importorskip("coffea.processor")
from coffea.nanoevents import BaseSchema  # noqa: E402

from jetscale.processors import JetClassFeatureProcessor  # noqa: E402


def run(fileset: dict, executor: object, chunksize: int) -> dict:
    runner = processor.Runner(executor=executor, schema=BaseSchema, chunksize=chunksize)
    return runner(
        fileset, processor_instance=JetClassFeatureProcessor(feature_set="full21", max_particles=64)
    )


def test_histograms_match_numpy_and_do_not_depend_on_executor_or_chunks(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    a, b = make_jets(70, seed=1), make_jets(45, seed=2)
    fileset = {
        "a": {"files": {str(write_jetclass(tmp_path / "a.root", a)): "tree"}},
        "b": {"files": {str(write_jetclass(tmp_path / "b.root", b)): "tree"}},
    }
    reference = run(fileset, processor.IterativeExecutor(), chunksize=1000)
    assert reference["jets"] == {"a": 70, "b": 45}

    # Independent check: soft-drop mass counts per class with numpy.histogram.
    h = reference["jet_sdmass"]
    for cls_index, cls in enumerate(CLASS_NAMES):
        expected, _ = np.histogram(
            ak.to_numpy(a.sdmass[a.label == cls_index]), bins=50, range=(0, 250)
        )
        np.testing.assert_array_equal(h[{"dataset": "a", "jet_class": cls}].values(), expected)
    # Feature histogram equals a histogram of build_features' unpadded entries.
    x, mask = build_features(b, "full21", 64)
    column = FEATURE_SETS["full21"].index("part_deltaR")
    expected, _ = np.histogram(x[..., column][mask], bins=50, range=(-1.0, 3.0))
    got = reference["feature_part_deltaR"][{"dataset": "b"}].project("part_deltaR").values()
    np.testing.assert_array_equal(got, expected)

    for executor, chunksize in (
        (processor.IterativeExecutor(), 13),
        (processor.FuturesExecutor(workers=2), 29),
    ):
        other = run(fileset, executor, chunksize)
        for key, value in reference.items():
            if key == "jets":
                assert other[key] == value
            else:
                np.testing.assert_array_equal(
                    other[key].values(flow=True), value.values(flow=True), err_msg=key
                )


def test_processor_is_picklable_and_validates_its_configuration() -> None:
    proc = pickle.loads(pickle.dumps(JetClassFeatureProcessor(feature_set="kinpid")))
    assert proc.feature_set == "kinpid"
    with pytest.raises(ValueError, match="unknown feature set 'nope'"):
        JetClassFeatureProcessor(feature_set="nope")
