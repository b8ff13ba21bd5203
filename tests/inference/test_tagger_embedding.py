"""OnnxTagger.embed and score_and_embed on a model exported with ``--with-embedding``."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("coffea")
pytest.importorskip("torch")
pytest.importorskip("onnx")
import onnxruntime as ort
import torch

from jetscale.export import export_run
from jetscale.export.onnx_export import PARITY_JETS
from jetscale.features.reference import build_features_loop
from jetscale.inference import OnnxTagger
from jetscale.inference.tagger import NoEmbeddingError
from jetscale.io import jets_from_branches, read_jets, write_jetclass
from jetscale.nn import ModelConfig, build_model
from jetscale.shipped import shipped_model
from jetscale.train.checkpoint import save_checkpoint

D_MODEL = 24


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init Transformer (full21, 128 slots) exported with its embedding."""
    base = tmp_path_factory.mktemp("embedding")
    config = ModelConfig(
        d_model=D_MODEL, n_layers=2, n_heads=4, ff_ratio=2, feature_set="full21", max_particles=128
    )
    torch.manual_seed(7)
    network = build_model(config)
    state = {"model_config": config.to_dict(), "model_state": network.state_dict(), "step": 0}
    save_checkpoint(base / "run" / "last.pt", state)
    return export_run(base / "run", base / "model" / "model.onnx", with_embedding=True)["onnx"]


@pytest.fixture(scope="module")
def tagger(model_path: Path) -> OnnxTagger:
    return OnnxTagger(model_path, batch_size=64)


@pytest.fixture(scope="module")
def mixed_jets(make_jets: Callable[..., ak.Array]) -> ak.Array:
    """1 to ~200 constituents: many length buckets, some beyond the model's 128 slots."""
    return ak.concatenate(
        [make_jets(150, seed=1, mean_particles=20), make_jets(50, seed=2, mean_particles=150)]
    )


def as_matrix(scores: ak.Array, names: tuple[str, ...]) -> np.ndarray:
    return np.stack([ak.to_numpy(scores[n]) for n in names], axis=1)


def reference_outputs(jets: ak.Array, model_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-jet loop features padded to the full 128 slots, one plain ORT session call."""
    x, mask = build_features_loop(jets, "full21", 128)
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    prob, embedding = session.run(
        ["softmax", "embedding"],
        {
            "pf_features": np.ascontiguousarray(x.transpose(0, 2, 1)),
            "pf_mask": mask[:, None, :].astype(np.float32),
        },
    )
    return np.asarray(prob), np.asarray(embedding)


def test_embed_on_stored_pythia_jets(tagger: OnnxTagger, model_path: Path) -> None:
    jets = read_jets([PARITY_JETS])  # 24 Pythia jets with the CMS card, stored with jetscale
    embedding = tagger.embed(jets)
    assert tagger.embedding_dim == D_MODEL
    assert str(embedding.type) == f"24 * {D_MODEL} * float32"
    values = ak.to_numpy(embedding)
    assert values.dtype == np.float32 and values.shape == (24, D_MODEL)
    assert np.isfinite(values).all()
    _, expected = reference_outputs(jets, model_path)
    np.testing.assert_allclose(values, expected, atol=2e-5)


def test_embedding_does_not_depend_on_chunk_or_batch(
    tagger: OnnxTagger, model_path: Path, mixed_jets: ak.Array
) -> None:
    whole = ak.to_numpy(tagger.embed(mixed_jets))
    _, expected = reference_outputs(mixed_jets, model_path)
    np.testing.assert_allclose(whole, expected, atol=2e-5)  # buckets agree with full padding
    # A jet's padded length depends on the jet alone: other chunks and batches, same bits.
    chunks = [mixed_jets[:37], mixed_jets[37:140], mixed_jets[140:]]
    chunked = np.concatenate([ak.to_numpy(tagger.embed(chunk)) for chunk in chunks])
    np.testing.assert_array_equal(chunked, whole)
    small_batches = OnnxTagger(model_path, batch_size=7).embed(mixed_jets)
    np.testing.assert_array_equal(ak.to_numpy(small_batches), whole)
    shuffled = np.random.default_rng(3).permutation(len(mixed_jets))
    np.testing.assert_array_equal(ak.to_numpy(tagger.embed(mixed_jets[shuffled])), whole[shuffled])


def test_jets_without_constituents_get_nan_rows(
    tagger: OnnxTagger, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(6, seed=4)
    emptied = ak.with_field(
        jets,
        ak.where(np.arange(6) % 2 == 0, jets.constituents[:, :0], jets.constituents),
        "constituents",
    )
    got = ak.to_numpy(tagger.embed(emptied))
    assert got.shape == (6, D_MODEL)
    assert np.isnan(got[0::2]).all()
    np.testing.assert_array_equal(got[1::2], ak.to_numpy(tagger.embed(jets[1::2])))
    scores = as_matrix(tagger(emptied), tagger.class_names)  # the same rows as the scores
    np.testing.assert_array_equal(np.isnan(got).all(axis=1), np.isnan(scores).all(axis=1))


def test_score_and_embed_is_one_run_with_the_same_results(
    tagger: OnnxTagger, mixed_jets: ak.Array
) -> None:
    class CountingSession:
        def __init__(self, session: Any) -> None:
            self.session, self.runs = session, 0

        def run(self, *args: Any, **kwargs: Any) -> Any:
            self.runs += 1
            return self.session.run(*args, **kwargs)

    counting = pickle.loads(pickle.dumps(tagger))
    counting._session = CountingSession(tagger.session)
    scores, embedding = counting.score_and_embed(mixed_jets)
    runs_both = counting._session.runs
    counting(mixed_jets)
    assert counting._session.runs == 2 * runs_both  # scores alone: as many runs as both
    assert ak.fields(scores) == list(tagger.class_names)
    np.testing.assert_array_equal(
        as_matrix(scores, tagger.class_names), as_matrix(tagger(mixed_jets), tagger.class_names)
    )
    np.testing.assert_array_equal(ak.to_numpy(embedding), ak.to_numpy(tagger.embed(mixed_jets)))


def test_per_event_jets_and_empty_chunks(
    tagger: OnnxTagger, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(30, seed=7)
    events = ak.unflatten(jets, [3, 0, 12, 15])
    embedding = tagger.embed(events)
    assert ak.num(embedding, axis=1).tolist() == [3, 0, 12, 15]
    assert str(embedding.type) == f"4 * var * {D_MODEL} * float32"
    np.testing.assert_array_equal(
        ak.to_numpy(ak.flatten(embedding, axis=1)), ak.to_numpy(tagger.embed(jets))
    )
    scores, both = tagger.score_and_embed(events)
    assert ak.num(scores, axis=1).tolist() == ak.num(both, axis=1).tolist() == [3, 0, 12, 15]
    assert ak.to_list(both) == ak.to_list(embedding)

    flat = tagger.embed(jets[:0])
    assert str(flat.type) == f"0 * {D_MODEL} * float32"
    nested = tagger.embed(ak.unflatten(jets[:0], [0, 0]))
    assert ak.num(nested, axis=1).tolist() == [0, 0]
    assert str(nested.type.content) == str(embedding.type.content)


def test_virtual_and_dask_jets_give_identical_embeddings(
    tagger: OnnxTagger, tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    dak = pytest.importorskip("dask_awkward")
    from coffea.nanoevents import BaseSchema, NanoEventsFactory

    jets = make_jets(90, seed=5)
    path = str(write_jetclass(tmp_path / "jets.root", jets))
    eager = ak.to_numpy(tagger.embed(jets))

    virtual_events = NanoEventsFactory.from_root(
        {path: "tree"}, schemaclass=BaseSchema, mode="virtual"
    ).events()
    virtual = tagger.embed(jets_from_branches(virtual_events))
    np.testing.assert_array_equal(ak.to_numpy(virtual), eager)

    steps = [[0, 30], [30, 60], [60, 90]]
    dask_events = NanoEventsFactory.from_root(
        {path: {"object_path": "tree", "steps": steps}}, schemaclass=BaseSchema, mode="dask"
    ).events()
    lazy = tagger.embed(jets_from_branches(dask_events))
    (columns,) = dak.necessary_columns(lazy).values()
    assert "part_d0val" in columns and "jet_sdmass" not in columns
    np.testing.assert_array_equal(ak.to_numpy(lazy.compute()), eager)

    scores, embedding = tagger.score_and_embed(dak.from_awkward(jets, npartitions=3))
    np.testing.assert_array_equal(ak.to_numpy(embedding.compute()), eager)
    np.testing.assert_array_equal(
        as_matrix(scores.compute(), tagger.class_names),
        as_matrix(tagger(jets), tagger.class_names),
    )


def test_pickled_tagger_embeds(tagger: OnnxTagger, make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(10, seed=9)
    clone = pickle.loads(pickle.dumps(tagger))
    assert clone._session is None and clone.embedding_dim == D_MODEL
    np.testing.assert_array_equal(ak.to_numpy(clone.embed(jets)), ak.to_numpy(tagger.embed(jets)))


def test_a_model_without_embedding_is_named(make_jets: Callable[..., ak.Array]) -> None:
    plain = OnnxTagger("kinpid")
    assert plain.embedding_dim is None
    path = str(shipped_model("kinpid"))
    with pytest.raises(NoEmbeddingError, match=rf"{re.escape(path)}: the model has no 'embedding'"):
        plain.embed(make_jets(3, seed=1))
    with pytest.raises(NoEmbeddingError, match="--with-embedding"):
        plain.score_and_embed(make_jets(3, seed=1))
