"""``jetscale export --with-embedding``: the second ONNX output, its sidecar entry, its parity."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from jetscale.export import check_parity, export_run, parity_differences  # noqa: E402
from jetscale.export.onnx_export import PARITY_JETS, load_model  # noqa: E402
from jetscale.features import build_features  # noqa: E402
from jetscale.io import read_jets, write_jetclass  # noqa: E402
from jetscale.nn import ModelConfig, build_model  # noqa: E402
from jetscale.sidecar import (  # noqa: E402
    SidecarError,
    parse_model_inputs,
    preprocess_json,
    registry_inputs,
    to_preprocess_json,
)
from jetscale.train.checkpoint import save_checkpoint  # noqa: E402

#: (batch, particles): one particle, padding beyond the constituents, truncation.
SHAPES = ((1, 1), (5, 16), (24, 48), (7, 150))


def random_run(base: Path, **model: Any) -> Path:
    """A run directory holding the random-init model of ``model`` as its ``last.pt``."""
    config = ModelConfig(**{"d_model": 32, "n_heads": 4, "ff_ratio": 2, **model})
    torch.manual_seed(3)
    network = build_model(config)
    base.mkdir(parents=True)
    state = {"model_config": config.to_dict(), "model_state": network.state_dict(), "step": 0}
    save_checkpoint(base / "last.pt", state)
    return base


@pytest.fixture(scope="module")
def transformer_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("embedding") / "transformer"
    return random_run(base, n_layers=2, n_class_layers=2, feature_set="full21", max_particles=128)


@pytest.fixture(scope="module")
def exports(transformer_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("onnx")
    plain = export_run(transformer_run, out / "plain" / "model.onnx")
    embedded = export_run(transformer_run, out / "embedded" / "model.onnx", with_embedding=True)
    return {"plain": plain["onnx"], "embedded": embedded["onnx"]}


def graph_outputs(path: Path) -> dict[str, list[int | str]]:
    model = onnx.load(str(path))
    return {
        o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
        for o in model.graph.output
    }


def onnx_inputs(jets: ak.Array, feature_set: str, particles: int) -> dict[str, np.ndarray]:
    x, mask = build_features(jets, feature_set, max_particles=particles)
    return {
        "pf_features": np.ascontiguousarray(x.transpose(0, 2, 1)),
        "pf_mask": mask[:, None, :].astype(np.float32),
    }


def test_the_graph_has_a_second_output_with_dynamic_batch(exports: dict[str, Path]) -> None:
    assert graph_outputs(exports["plain"]) == {"softmax": ["N", 10]}
    assert graph_outputs(exports["embedded"]) == {"softmax": ["N", 10], "embedding": ["N", 32]}
    session = ort.InferenceSession(str(exports["embedded"]), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["softmax", "embedding"]
    jets = read_jets([PARITY_JETS])
    for batch, particles in SHAPES:  # dynamic batch and particle axes
        prob, embedding = session.run(None, onnx_inputs(jets[:batch], "full21", particles))
        assert prob.shape == (min(batch, 24), 10) and embedding.shape == (min(batch, 24), 32)


def test_embedding_is_the_normed_class_token_and_softmax_is_unchanged(
    transformer_run: Path, exports: dict[str, Path]
) -> None:
    """Computed here from the module's parts, not through the export's code path."""
    model, _ = load_model(transformer_run)
    plain = ort.InferenceSession(str(exports["plain"]), providers=["CPUExecutionProvider"])
    embedded = ort.InferenceSession(str(exports["embedded"]), providers=["CPUExecutionProvider"])
    jets = read_jets([PARITY_JETS])
    for batch, particles in SHAPES:
        feeds = onnx_inputs(jets[np.arange(batch) % len(jets)], "full21", particles)
        prob, embedding = embedded.run(None, feeds)
        (plain_prob,) = plain.run(None, feeds)
        np.testing.assert_array_equal(prob, plain_prob)  # the same graph up to the head

        x = torch.from_numpy(feeds["pf_features"]).transpose(1, 2)
        valid = torch.from_numpy(feeds["pf_mask"][:, 0] > 0)
        with torch.no_grad():
            h = model.encode(x, valid)
            with_cls = torch.cat([torch.ones_like(valid[:, :1]), valid], dim=1)
            additive = torch.zeros(with_cls.shape).masked_fill(
                ~with_cls, torch.finfo(torch.float32).min / 2
            )[:, None, None, :]
            cls = model.class_token.expand(len(x), -1, -1)
            for block in model.class_blocks:
                cls = block(cls, h, additive)
            expected = model.norm(cls[:, 0])
            logits = model(x, valid)
        np.testing.assert_allclose(embedding, expected.numpy(), rtol=0, atol=1e-5)
        # and it is what the head reads: head(embedding) gives the model's logits
        np.testing.assert_allclose(
            model.head(torch.from_numpy(embedding)).detach().numpy(), logits.numpy(), atol=1e-5
        )
        assert embedding.std() > 0.5  # a LayerNorm output, not a degenerate vector


def test_pfn_embedding_is_the_input_of_its_last_layer(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    run = random_run(tmp_path / "pfn", architecture="pfn", feature_set="kin", max_particles=64)
    out = export_run(run, tmp_path / "onnx" / "model.onnx", with_embedding=True)
    assert graph_outputs(out["onnx"]) == {"softmax": ["N", 10], "embedding": ["N", 32]}
    model, _ = load_model(run)
    session = ort.InferenceSession(str(out["onnx"]), providers=["CPUExecutionProvider"])
    feeds = onnx_inputs(make_jets(20, seed=4), "kin", 64)
    _, embedding = session.run(None, feeds)
    x = torch.from_numpy(feeds["pf_features"]).transpose(1, 2)
    mask = torch.from_numpy(feeds["pf_mask"][:, 0])
    with torch.no_grad():
        pooled = (model.phi(model.embed(x)) * mask[..., None]).sum(dim=1)
        expected = model.rho[:-1](pooled)
    np.testing.assert_allclose(embedding, expected.numpy(), rtol=1e-6, atol=1e-5)
    assert parity_differences(run, out["onnx"]).keys() == {"softmax", "embedding"}


def test_sidecar_records_the_embedding(transformer_run: Path, exports: dict[str, Path]) -> None:
    plain = json.loads(exports["plain"].with_name("preprocess.json").read_text())
    embedded = json.loads(exports["embedded"].with_name("preprocess.json").read_text())
    assert plain == preprocess_json("full21", 128, 10)  # a plain export's sidecar, as before
    assert plain["output_names"] == ["softmax"] and "embedding" not in plain["jetscale"]
    assert embedded["output_names"] == ["softmax", "embedding"]
    entry = embedded["jetscale"]["embedding"]
    assert (entry["output"], entry["layout"], entry["dim"]) == ("embedding", "(N, D)", 32)
    assert embedded["jetscale"]["layout"]["embedding"] == "(N, D)"
    # everything else is the plain sidecar's: the classes come from the same place
    for key in ("input_names", "pf_features", "pf_mask"):
        assert embedded[key] == plain[key]
    assert embedded["jetscale"]["class_names"] == plain["jetscale"]["class_names"]
    read = parse_model_inputs(embedded, "preprocess.json")
    assert read.embedding_dim == 32 and read.class_names == tuple(plain["jetscale"]["class_names"])
    assert parse_model_inputs(plain, "preprocess.json").embedding_dim is None


def test_sidecar_embedding_round_trip_and_refusal() -> None:
    inputs = registry_inputs("kin", 64, embedding_dim=48)
    data = to_preprocess_json(inputs)
    read = parse_model_inputs(data, "x.json")
    assert read.embedding_dim == 48 and to_preprocess_json(read) == data
    # weaver's flavour lists the class labels as outputs: no embedding there
    assert "embedding" not in json.dumps(to_preprocess_json(inputs, "weaver"))
    data["jetscale"]["embedding"]["dim"] = "48"
    with pytest.raises(SidecarError, match=r"x.json: 'jetscale.embedding.dim' must be a positive"):
        parse_model_inputs(data, "x.json")


def test_parity_covers_the_embedding(transformer_run: Path, exports: dict[str, Path]) -> None:
    plain = parity_differences(transformer_run, exports["plain"])
    embedded = parity_differences(transformer_run, exports["embedded"])
    assert plain.keys() == {"softmax"} and embedded.keys() == {"softmax", "embedding"}
    assert embedded["softmax"] == plain["softmax"] < 1e-4
    assert 0 < embedded["embedding"] < 1e-4  # compared, and close
    assert check_parity(transformer_run, exports["embedded"]) == max(embedded.values())


def test_parity_catches_a_wrong_embedding(
    transformer_run: Path, exports: dict[str, Path], tmp_path: Path
) -> None:
    """A graph whose embedding output is not the model's is caught by the parity check."""
    model = onnx.load(str(exports["embedded"]))
    for node in model.graph.node:  # the head reads "embedding_true", the output is its negative
        for names in (node.input, node.output):
            for k, name in enumerate(names):
                if name == "embedding":
                    names[k] = "embedding_true"
    model.graph.node.append(
        onnx.helper.make_node("Neg", ["embedding_true"], ["embedding"], name="flip")
    )
    wrong = tmp_path / "wrong.onnx"
    onnx.save(model, str(wrong))
    differences = parity_differences(transformer_run, wrong, shapes=[(4, 16)])
    assert differences["softmax"] < 1e-4 and differences["embedding"] > 0.1


def test_export_command_with_embedding(
    transformer_run: Path,
    tmp_path: Path,
    make_jets: Callable[..., ak.Array],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jetscale.cli import build_parser, main

    assert build_parser().parse_args(["export", "x", "--out", "y"]).with_embedding is False
    data = write_jetclass(tmp_path / "mine.root", make_jets(9, seed=12))
    out = tmp_path / "model.onnx"
    argv = ["export", str(transformer_run), "--out", str(out), "--with-embedding"]
    assert main([*argv, "--parity-data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    parity = [x for x in lines if x.startswith("max |torch - onnxruntime|")]
    assert parity[0].startswith("max |torch - onnxruntime| on 9 jets of 1 file(s):")
    assert parity[1].startswith("max |torch - onnxruntime| of the embedding on 9 jets")
    assert all(float(line.rsplit(":", 1)[1]) < 1e-4 for line in parity)
    assert graph_outputs(out) == {"softmax": ["N", 10], "embedding": ["N", 32]}
    assert json.loads(out.with_name("preprocess.json").read_text())["jetscale"]["embedding"]


def test_export_help_mentions_the_embedding(capsys: pytest.CaptureFixture[str]) -> None:
    from jetscale.cli import main

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "--with-embedding" in capsys.readouterr().out


def test_a_network_without_a_known_head_is_refused(tmp_path: Path) -> None:
    from jetscale.export.onnx_export import export_onnx

    class Mean(torch.nn.Module):
        def forward(self, x: Any, mask: Any) -> Any:
            return x.mean(dim=1)

    with pytest.raises(TypeError, match="no jet embedding defined for a Mean"):
        export_onnx(Mean(), 7, tmp_path / "m.onnx", with_embedding=True)
