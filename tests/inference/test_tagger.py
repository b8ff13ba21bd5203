"""OnnxTagger on jetscale models: backends agree, trimming is exact, errors are early and clear."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("coffea")
import onnxruntime as ort

from jetscale.features.reference import build_features_loop
from jetscale.inference import FeatureMismatchError, OnnxTagger, SidecarError
from jetscale.io import jets_from_branches, write_jetclass
from jetscale.shipped import model_card, shipped_model


def as_matrix(scores: ak.Array, names: tuple[str, ...]) -> np.ndarray:
    return np.stack([ak.to_numpy(scores[n]) for n in names], axis=1)


@pytest.fixture(scope="module")
def tagger() -> OnnxTagger:
    return OnnxTagger("full21", batch_size=64)


def reference_scores(jets: ak.Array, model: str) -> np.ndarray:
    """Per-jet loop features padded to the full 128 slots, one plain ORT session call."""
    card = model_card(model)
    x, mask = build_features_loop(jets, card["feature_set"], card["model"]["max_particles"])
    session = ort.InferenceSession(str(shipped_model(model)), providers=["CPUExecutionProvider"])
    (prob,) = session.run(
        ["softmax"],
        {
            "pf_features": np.ascontiguousarray(x.transpose(0, 2, 1)),
            "pf_mask": mask[:, None, :].astype(np.float32),
        },
    )
    return np.asarray(prob)


def test_trimmed_length_buckets_match_full_padding(
    tagger: OnnxTagger, make_jets: Callable[..., ak.Array]
) -> None:
    # Counts from 1 to ~200: batches of 64 sorted jets pad to very different lengths,
    # including beyond the model's 128 slots.
    jets = ak.concatenate(
        [make_jets(150, seed=1, mean_particles=20), make_jets(50, seed=2, mean_particles=150)]
    )
    scores = tagger(jets)
    assert (
        ak.fields(scores) == list(tagger.class_names) == list(model_card("full21")["class_names"])
    )
    got = as_matrix(scores, tagger.class_names)
    np.testing.assert_allclose(got, reference_scores(jets, "full21"), atol=2e-5)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    # A jet's padded length depends on the jet alone: other batch sizes, same bits.
    small_batches = OnnxTagger("full21", batch_size=7)(jets)
    np.testing.assert_array_equal(as_matrix(small_batches, tagger.class_names), got)


def test_eager_virtual_and_dask_give_identical_scores(
    tagger: OnnxTagger, tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    dak = pytest.importorskip("dask_awkward")
    from coffea.nanoevents import BaseSchema, NanoEventsFactory

    jets = make_jets(120, seed=5)
    path = str(write_jetclass(tmp_path / "jets.root", jets))
    eager = as_matrix(tagger(jets), tagger.class_names)

    virtual_events = NanoEventsFactory.from_root(
        {path: "tree"}, schemaclass=BaseSchema, mode="virtual"
    ).events()
    virtual = as_matrix(tagger(jets_from_branches(virtual_events)), tagger.class_names)
    np.testing.assert_array_equal(virtual, eager)

    steps = [[0, 40], [40, 80], [80, 120]]  # three partitions
    dask_events = NanoEventsFactory.from_root(
        {path: {"object_path": "tree", "steps": steps}}, schemaclass=BaseSchema, mode="dask"
    ).events()
    lazy = tagger(jets_from_branches(dask_events))
    # Only the fields the model reads are loaded (column optimization works through us).
    (columns,) = dak.necessary_columns(lazy).values()
    assert "part_d0val" in columns and "jet_tau1" not in columns and "jet_sdmass" not in columns
    np.testing.assert_array_equal(as_matrix(lazy.compute(), tagger.class_names), eager)

    in_memory = dak.from_awkward(jets, npartitions=4)
    np.testing.assert_array_equal(as_matrix(tagger(in_memory).compute(), tagger.class_names), eager)


def test_per_event_jets_keep_their_nesting(
    tagger: OnnxTagger, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(30, seed=7)
    events = ak.unflatten(jets, [3, 0, 12, 15])
    scores = tagger(events)
    assert ak.num(scores, axis=1).tolist() == [3, 0, 12, 15]
    np.testing.assert_array_equal(
        as_matrix(ak.flatten(scores), tagger.class_names),
        as_matrix(tagger(jets), tagger.class_names),
    )


def test_empty_chunks_return_empty_results_of_the_right_type(
    tagger: OnnxTagger, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(5, seed=3)
    flat = tagger(jets[:0])
    assert len(flat) == 0 and ak.fields(flat) == list(tagger.class_names)
    assert str(flat.type.content) == str(tagger(jets).type.content)
    nested = tagger(ak.unflatten(jets[:0], [0, 0]))
    assert ak.num(nested, axis=1).tolist() == [0, 0]
    assert str(nested.type.content) == str(tagger(ak.unflatten(jets, [5])).type.content)


def test_jets_without_constituents_get_nan_and_do_not_disturb_others(
    tagger: OnnxTagger, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(6, seed=4)
    emptied = ak.with_field(
        jets,
        ak.where(np.arange(6) % 2 == 0, jets.constituents[:, :0], jets.constituents),
        "constituents",
    )
    got = as_matrix(tagger(emptied), tagger.class_names)
    assert np.isnan(got[0::2]).all()
    np.testing.assert_array_equal(got[1::2], as_matrix(tagger(jets[1::2]), tagger.class_names))


def test_feature_mismatch_is_refused_before_inference(
    tagger: OnnxTagger, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(4, seed=1)
    kinematic_only = ak.with_field(
        jets,
        jets.constituents[[f for f in ak.fields(jets.constituents) if f not in ("d0val", "dzval")]],
        "constituents",
    )
    with pytest.raises(FeatureMismatchError, match=r"d0val \(for part_d0\).*dzval \(for part_dz\)"):
        tagger(kinematic_only)
    with pytest.raises(FeatureMismatchError, match="NanoAOD v15 PFCand"):
        tagger.check_fields(
            ["px", "py", "pz", "energy", "deta", "dphi", "charge"], "NanoAOD v15 PFCand"
        )
    # The kinpid model needs nothing from tracks: it accepts the same jets.
    OnnxTagger("kinpid").check_fields(ak.fields(kinematic_only.constituents))
    assert len(OnnxTagger("kinpid")(kinematic_only)) == 4


def test_pickling_drops_the_session_and_rebuilds_it(
    tagger: OnnxTagger, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(10, seed=9)
    expected = as_matrix(tagger(jets), tagger.class_names)  # session now exists
    assert tagger._session is not None
    clone = pickle.loads(pickle.dumps(tagger))
    assert clone._session is None
    # coffea unpickles the processor per chunk: the process's session is reused, not rebuilt.
    assert clone.session is tagger.session
    assert OnnxTagger("full21", threads=2, batch_size=64).session is not tagger.session
    np.testing.assert_array_equal(as_matrix(clone(jets), clone.class_names), expected)


def test_bad_models_and_sidecars_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such ONNX model"):
        OnnxTagger(tmp_path / "missing.onnx")
    model = tmp_path / "m" / "model.onnx"
    model.parent.mkdir()
    shutil.copy(shipped_model("kinpid"), model)
    with pytest.raises(SidecarError, match="no preprocess.json sidecar"):
        OnnxTagger(model)
    sidecar = json.loads(shipped_model("kinpid").with_name("preprocess.json").read_text())
    sidecar["pf_features"]["var_names"][2] = "part_mystery"
    (model.parent / "preprocess.json").write_text(json.dumps(sidecar))
    with pytest.raises(SidecarError, match=r"no jetscale formula for variable\(s\) part_mystery"):
        OnnxTagger(model)
    sidecar = json.loads(shipped_model("kinpid").with_name("preprocess.json").read_text())
    sidecar["input_names"] = ["pf_features"]
    (model.parent / "preprocess.json").write_text(json.dumps(sidecar))
    with pytest.raises(SidecarError, match="do not match the sidecar"):
        OnnxTagger(model)
    (model.parent / "preprocess.json").write_text("{not json")
    with pytest.raises(SidecarError, match="cannot read the sidecar as JSON"):
        OnnxTagger(model)


def test_a_new_feature_reading_a_new_jet_field_runs_in_the_tagger(
    tmp_path: Path, make_jets: Callable[..., ak.Array], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One registry entry (and its reference line) is all a new feature needs, inference included.

    The shipped kinpid network reads, in the place of ``part_deta``, a new feature
    ``part_eta`` = deta + jet eta (its own sidecar says so); the tagger must read the
    jets' ``eta``, which no shipped feature uses, and match the per-jet reference.
    """
    from jetscale.features import FEATURES, FeatureSpec, reference

    new = FeatureSpec("part_eta", "part_deta + jet_eta", center=0.0, scale=0.5)
    monkeypatch.setitem(FEATURES, new.name, new)
    monkeypatch.setitem(reference.FORMULAS, new.name, lambda c, jet: c["deta"] + jet["eta"])
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy(shipped_model("kinpid"), model_dir / "model.onnx")
    sidecar = json.loads(shipped_model("kinpid").with_name("preprocess.json").read_text())
    names = sidecar["pf_features"]["var_names"]
    names[names.index("part_deta")] = new.name
    sidecar["pf_features"]["var_infos"][new.name] = {"median": 0.0, "norm_factor": 0.5}
    (model_dir / "preprocess.json").write_text(json.dumps(sidecar))

    tagger = OnnxTagger(model_dir / "model.onnx")
    assert "eta" in tagger.jet_fields
    jets = make_jets(40, seed=9)
    specs = tagger.inputs.specs[: len(names)]
    x, mask = build_features_loop(jets, specs, tagger.inputs.length)
    session = ort.InferenceSession(
        str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (expected,) = session.run(
        ["softmax"],
        {
            "pf_features": np.ascontiguousarray(x.transpose(0, 2, 1)),
            "pf_mask": mask[:, None, :].astype(np.float32),
        },
    )
    got = as_matrix(tagger(jets), tagger.class_names)
    np.testing.assert_allclose(got, expected, atol=2e-5)
    # The new input matters: the shipped model on the same jets gives other scores.
    assert np.abs(got - reference_scores(jets, "kinpid")).max() > 1e-3


def test_corrupt_model_and_short_sidecar_are_named_when_built(tmp_path: Path) -> None:
    """A random model.onnx gave ONNX Runtime's InvalidProtobuf without the path; a sidecar
    declaring 20 variables for a 21-variable graph was accepted and failed mid-run."""
    from jetscale.inference import ModelFileError

    sidecar = shipped_model("full21").with_name("preprocess.json")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "model.onnx").write_bytes(np.random.default_rng(1).bytes(5000))
    shutil.copy(sidecar, corrupt / "preprocess.json")
    with pytest.raises(
        ModelFileError, match=r"corrupt/model.onnx: not a model ONNX Runtime can load"
    ):
        OnnxTagger(corrupt / "model.onnx")

    short = tmp_path / "short"
    short.mkdir()
    shutil.copy(shipped_model("full21"), short / "model.onnx")
    data = json.loads(sidecar.read_text())
    data["pf_features"]["var_names"].pop()  # 20 of the graph's 21 variables
    (short / "preprocess.json").write_text(json.dumps(data))
    with pytest.raises(
        SidecarError, match=r"input 'pf_features' takes 21 variables per particle.*declares 20"
    ):
        OnnxTagger(short / "model.onnx")
