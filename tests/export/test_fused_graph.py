"""The fused-attention export: ONNX Runtime's attention operators, the same function as torch."""

from __future__ import annotations

import collections
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from random_runs import random_run  # noqa: E402

from jetscale.export import export_run  # noqa: E402
from jetscale.export.onnx_export import (  # noqa: E402
    GRAPH_FUSED,
    GRAPH_STANDARD,
    PARITY_JETS,
    SoftmaxTagger,
    export_onnx,
    load_model,
)
from jetscale.features import build_features  # noqa: E402
from jetscale.inference import OnnxTagger  # noqa: E402
from jetscale.io import read_jets  # noqa: E402
from jetscale.nn import ModelConfig, ParticleFlowNetwork, build_model  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_run(tmp_path_factory.mktemp("fused") / "run", max_particles=64)


@pytest.fixture(scope="module")
def exports(run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("fused-onnx")
    fused = export_run(run, out / "fused" / "model.onnx")["onnx"]
    standard = export_run(run, out / "standard" / "model.onnx", fused=False)["onnx"]
    return {"fused": fused, "standard": standard}


def op_counts(path: Path) -> collections.Counter[tuple[str, str]]:
    return collections.Counter((n.domain, n.op_type) for n in onnx.load(str(path)).graph.node)


def test_attention_runs_as_the_fused_operators(exports: dict[str, Path]) -> None:
    ops = op_counts(exports["fused"])
    assert ops[("com.microsoft", "Attention")] == 2  # one per self-attention block
    assert ops[("com.microsoft", "MultiHeadAttention")] == 2  # one per class-attention block
    assert ops[("", "Softmax")] == 1  # only the output's: no attention spelled out
    assert ops[("", "Gemm")] >= 6  # linear layers on token matrices, bias inside
    standard = op_counts(exports["standard"])
    assert not {domain for domain, _ in standard} - {"", "ai.onnx"}
    assert standard[("", "Softmax")] == 5  # 4 attention softmaxes and the output


def test_cards_name_the_graph(exports: dict[str, Path]) -> None:
    import json

    cards = {k: json.loads(p.with_name("model_card.json").read_text()) for k, p in exports.items()}
    assert cards["fused"]["graph"] == GRAPH_FUSED and cards["standard"]["graph"] == GRAPH_STANDARD
    assert cards["fused"]["precision"] == "float32" and cards["fused"]["quantization"] is None


@pytest.mark.parametrize(("batch", "particles"), [(1, 1), (4, 9), (16, 64), (3, 150)])
def test_fused_graph_computes_the_torch_model(
    run: Path, exports: dict[str, Path], batch: int, particles: int
) -> None:
    """Against the torch model itself, on Pythia jets, with padding and truncation."""
    model, _ = load_model(run)
    jets = read_jets([PARITY_JETS])
    take = jets[np.arange(batch) % len(jets)]
    x, mask = build_features(take, "full21", max_particles=particles)
    features = np.ascontiguousarray(x.transpose(0, 2, 1))
    mask_input = mask[:, None, :].astype(np.float32)
    with torch.no_grad():
        expected = SoftmaxTagger(model)(torch.from_numpy(features), torch.from_numpy(mask_input))
    session = ort.InferenceSession(str(exports["fused"]), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"pf_features": features, "pf_mask": mask_input})
    assert got.shape == (batch, 10)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5, rtol=0)


def test_a_jets_fused_score_does_not_depend_on_its_chunk(exports: dict[str, Path]) -> None:
    jets = read_jets([PARITY_JETS])
    tagger = OnnxTagger(exports["fused"], batch_size=5)
    together = tagger(jets)
    alone = ak.concatenate([tagger(jets[i : i + 1]) for i in range(len(jets))])
    reordered = tagger(jets[::-1])[::-1]
    for name in tagger.class_names:
        assert np.array_equal(ak.to_numpy(together[name]), ak.to_numpy(alone[name]))
        assert np.array_equal(ak.to_numpy(together[name]), ak.to_numpy(reordered[name]))


def test_an_empty_jet_attends_uniformly_as_in_torch(run: Path, exports: dict[str, Path]) -> None:
    """All particles masked: the model's finite mask gives a defined output, and the graph the same."""
    model, _ = load_model(run)
    rng = np.random.default_rng(2)
    features = rng.normal(size=(2, 21, 8)).astype(np.float32)
    mask_input = np.zeros((2, 1, 8), dtype=np.float32)
    mask_input[1, 0, :3] = 1
    with torch.no_grad():
        expected = SoftmaxTagger(model)(torch.from_numpy(features), torch.from_numpy(mask_input))
    session = ort.InferenceSession(str(exports["fused"]), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"pf_features": features, "pf_mask": mask_input})
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5, rtol=0)
    none = np.zeros_like(mask_input)  # a batch without a single particle
    with torch.no_grad():
        expected = SoftmaxTagger(model)(torch.from_numpy(features), torch.from_numpy(none))
    (got,) = session.run(None, {"pf_features": features, "pf_mask": none})
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5, rtol=0)


def test_a_pfn_has_no_attention_and_exports_as_before(tmp_path: Path) -> None:
    config = ModelConfig(architecture="pfn", d_model=16, feature_set="kinpid", max_particles=32)
    model = build_model(config).eval()
    assert isinstance(model, ParticleFlowNetwork)
    export_onnx(model, config.n_features, tmp_path / "pfn.onnx")
    assert {domain for domain, _ in op_counts(tmp_path / "pfn.onnx")} <= {"", "ai.onnx"}


def test_fused_embedding_is_the_models(run: Path, tmp_path: Path) -> None:
    """The second output of a fused export is the head's input, as EmbeddingTagger gives it."""
    from jetscale.export.onnx_export import EmbeddingTagger

    path = export_run(run, tmp_path / "embedded" / "model.onnx", with_embedding=True)["onnx"]
    assert op_counts(path)[("com.microsoft", "Attention")] == 2
    model, _ = load_model(run)
    x, mask = build_features(read_jets([PARITY_JETS]), "full21", max_particles=40)
    features = np.ascontiguousarray(x.transpose(0, 2, 1))
    mask_input = mask[:, None, :].astype(np.float32)
    with torch.no_grad():
        prob, embedding = EmbeddingTagger(model)(
            torch.from_numpy(features), torch.from_numpy(mask_input)
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got_prob, got_embedding = session.run(None, {"pf_features": features, "pf_mask": mask_input})
    np.testing.assert_allclose(got_prob, prob.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(got_embedding, embedding.numpy(), atol=1e-4, rtol=0)


def test_parity_counts_a_nan_as_a_failure(run: Path, tmp_path: Path) -> None:
    """A graph that returns NaN must not pass the parity check as a difference of 0."""
    import onnx.helper

    path = export_run(run, tmp_path / "nan" / "model.onnx")["onnx"]
    graph = onnx.load(str(path))
    (output,) = graph.graph.output
    produced = next(n for n in graph.graph.node if output.name in n.output)
    produced.output[0] = "before_nan"
    nan = onnx.helper.make_tensor("nan", onnx.TensorProto.FLOAT, [], [float("nan")])
    graph.graph.initializer.append(nan)
    graph.graph.node.append(onnx.helper.make_node("Mul", ["before_nan", "nan"], [output.name]))
    onnx.save(graph, str(path))
    from jetscale.export import parity_differences

    assert parity_differences(run, path, checkpoint="last.pt")["softmax"] == np.inf


def test_export_leaves_the_model_in_eval_mode(tmp_path: Path) -> None:
    model = build_model(ModelConfig(d_model=8, n_heads=2, max_particles=8)).eval()
    export_onnx(model, 21, tmp_path / "model.onnx")
    assert not any(module.training for module in model.modules())


def test_the_fused_graph_refuses_a_model_in_training_mode() -> None:
    from jetscale.export.fused_graph import FusedTransformerTagger

    model = build_model(ModelConfig(d_model=8, n_heads=2, max_particles=8))
    with pytest.raises(ValueError, match="eval mode"):
        FusedTransformerTagger(model.train())  # type: ignore[arg-type]
