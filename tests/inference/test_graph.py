"""The fewest particle slots an ONNX graph accepts, read from its TopK nodes."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")  # the ml extra; without it see the fallback test
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from jetscale.inference import OnnxTagger  # noqa: E402
from jetscale.inference.graph import minimum_particle_length  # noqa: E402


def topk_model(
    k: str, axis: int = 2, shape: tuple[int | str, ...] = ("N", 1, "n_pf"), opset: int = 17
) -> bytes:
    """``scores (N, 1)`` = the sum of ``TopK(pf_features, K)``'s values.

    K is an initializer of 5 (``"constant"``), the ``k`` attribute of opset 9
    (``"attribute"``) or the length of the TopK axis (``"computed"``).
    """
    nodes, initializers = [], []
    topk_inputs = ["pf_features"]
    attributes: dict[str, Any] = {"axis": axis}
    if k == "constant":
        initializers.append(numpy_helper.from_array(np.array([5], dtype=np.int64), "k"))
        topk_inputs.append("k")
    elif k == "computed":
        initializers.append(numpy_helper.from_array(np.array([axis], dtype=np.int64), "axis"))
        nodes.append(helper.make_node("Shape", ["pf_features"], ["shape"]))
        nodes.append(helper.make_node("Gather", ["shape", "axis"], ["k"]))
        topk_inputs.append("k")
    else:
        attributes["k"] = 5
    nodes.append(helper.make_node("TopK", topk_inputs, ["values", "indices"], **attributes))
    if opset >= 13:  # (N, C, K) -> (N, 1, 1) -> (N, 1)
        initializers.append(numpy_helper.from_array(np.array([1, 2], dtype=np.int64), "axes"))
        nodes.append(helper.make_node("ReduceSum", ["values", "axes"], ["sums"]))
    else:
        nodes.append(helper.make_node("ReduceSum", ["values"], ["sums"], axes=[1, 2]))
    nodes.append(helper.make_node("Flatten", ["sums"], ["scores"], axis=1))
    graph = helper.make_graph(
        nodes,
        "topk",
        [helper.make_tensor_value_info("pf_features", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 1])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    return bytes(model.SerializeToString())


def test_constant_k_on_the_particle_axis_is_the_minimum() -> None:
    need = minimum_particle_length(topk_model("constant"), {"N"})
    assert need.slots == 5
    assert "TopK" in need.source
    assert minimum_particle_length(topk_model("attribute", opset=9), {"N"}).slots == 5  # opset < 10


def test_topk_along_a_fixed_or_the_batch_axis_does_not_count() -> None:
    assert (
        minimum_particle_length(topk_model("constant", axis=1, shape=("N", 8, "n_pf")), {"N"}).slots
        == 1
    )
    assert minimum_particle_length(topk_model("constant", axis=0), {"N"}).slots == 1


def test_a_computed_k_cannot_be_read() -> None:
    need = minimum_particle_length(topk_model("computed"), {"N"})
    assert need.slots is None
    assert "computed" in need.source


def test_without_onnx_only_graphs_with_topk_are_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    assert minimum_particle_length(topk_model("constant"), {"N"}).slots is None
    no_topk = helper.make_model(
        helper.make_graph(
            [helper.make_node("Identity", ["x"], ["y"])],
            "identity",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, "n_pf"])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, "n_pf"])],
        )
    )
    assert minimum_particle_length(no_topk.SerializeToString(), {"N"}).slots == 1


def test_a_graph_whose_minimum_cannot_be_read_gets_every_slot(
    tmp_path: Path, make_jets: Callable[..., ak.Array], caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "model.onnx").write_bytes(topk_model("computed"))
    sidecar = {
        "input_names": ["pf_features"],
        "output_names": ["scores"],
        "pf_features": {
            "var_names": ["part_pt_log"],
            "var_infos": {"part_pt_log": {"median": 1.7, "norm_factor": 0.7}},
            "var_length": 40,
        },
    }
    (tmp_path / "preprocess.json").write_text(json.dumps(sidecar))
    with caplog.at_level(logging.INFO, logger="jetscale.inference.tagger"):
        tagger = OnnxTagger(tmp_path / "model.onnx", class_names=["sum"], buckets=True)
    assert tagger.min_length == 40
    assert "cannot tell the fewest particle slots" in caplog.text
    jets = make_jets(6, seed=2, mean_particles=5.0)
    scores = ak.to_numpy(tagger(jets)["sum"])
    assert np.isfinite(scores).all()
