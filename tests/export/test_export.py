"""ONNX export: checker, dynamic shapes, parity with torch, the weaver-style sidecar, model card."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from jetscale.export import check_parity, export_run  # noqa: E402
from jetscale.export.onnx_export import load_model  # noqa: E402
from jetscale.features import FEATURE_SETS, build_features  # noqa: E402
from jetscale.inference import OnnxTagger  # noqa: E402
from jetscale.io import read_jets, write_jetclass  # noqa: E402
from jetscale.nn import ModelConfig  # noqa: E402
from jetscale.phase_space import PhaseSpace  # noqa: E402
from jetscale.train import TrainConfig, train  # noqa: E402
from jetscale.train.checkpoint import CheckpointError  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]) -> Path:
    synthetic_jets = make_jets
    base = tmp_path_factory.mktemp("export")
    data = write_jetclass(base / "jets.root", synthetic_jets(300, seed=2, mean_particles=20))
    model = ModelConfig(
        d_model=32,
        n_layers=2,
        n_heads=4,
        ff_ratio=2,
        n_class_layers=1,
        feature_set="full21",
        max_particles=128,
    )
    train(
        TrainConfig(
            data=(str(data),),
            out=str(base / "run"),
            model=model,
            epochs=1,
            batch_size=64,
            eval_every=2,
        )
    )
    return base / "run"


@pytest.fixture(scope="module")
def exported(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return export_run(run_dir, tmp_path_factory.mktemp("onnx") / "model.onnx")


def test_onnx_file_is_valid_with_dynamic_axes(exported: dict[str, Path]) -> None:
    model = onnx.load(str(exported["onnx"]))
    onnx.checker.check_model(model, full_check=True)
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    inputs = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in model.graph.input
    }
    assert inputs == {"pf_features": ["N", 21, "P"], "pf_mask": ["N", 1, "P"]}
    assert [o.name for o in model.graph.output] == ["softmax"]


def test_parity_on_generated_jets(run_dir: Path, exported: dict[str, Path], generated) -> None:  # type: ignore[no-untyped-def]
    jets = read_jets(generated.files)
    assert check_parity(run_dir, exported["onnx"], jets=jets) < 1e-4
    # and on a jet with a single constituent, in a batch of one
    one = jets[:1]
    one = ak.with_field(one, one.constituents[:, :1], "constituents")
    assert check_parity(run_dir, exported["onnx"], jets=one, shapes=[(1, 1), (1, 200)]) < 1e-4


def test_probabilities_sum_to_one(exported: dict[str, Path], generated) -> None:  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    jets = read_jets(generated.files)[:50]
    x, mask = build_features(jets, "full21", 128)
    session = ort.InferenceSession(str(exported["onnx"]), providers=["CPUExecutionProvider"])
    (prob,) = session.run(
        None,
        {"pf_features": x.transpose(0, 2, 1).copy(), "pf_mask": mask[:, None].astype(np.float32)},
    )
    assert prob.shape == (50, 10)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-5)


def test_sidecar_reproduces_the_features_the_weaver_way(exported: dict[str, Path]) -> None:
    sidecar = json.loads(exported["preprocess"].read_text())
    assert sidecar["input_names"] == ["pf_features", "pf_mask"]
    assert sidecar["output_names"] == ["softmax"]
    features = sidecar["pf_features"]
    assert features["var_names"] == list(FEATURE_SETS["full21"])
    assert features["var_length"] == 128
    infos = features["var_infos"]
    for name in features["var_names"]:
        assert set(infos[name]) == {
            "median",
            "norm_factor",
            "lower_bound",
            "upper_bound",
            "pad",
            "replace_inf_value",
        }
    assert infos["part_pt_log"] | {} == {
        "median": 1.7,
        "norm_factor": 0.7,
        "lower_bound": -5.0,
        "upper_bound": 5.0,
        "pad": 0.0,
        "replace_inf_value": 0.0,
    }
    assert (infos["part_d0"]["lower_bound"], infos["part_d0"]["upper_bound"]) == (-1e32, 1e32)
    assert (infos["part_d0err"]["lower_bound"], infos["part_d0err"]["upper_bound"]) == (0.0, 1.0)

    # weaver's preprocessing of raw values with the sidecar numbers == build_features
    px, py, energy, deta, dphi = 30.0, 40.0, 70.0, 0.1, -0.2
    jet_pt, jet_energy = 600.0, 800.0
    raw = {
        "part_pt_log": math.log(50.0),
        "part_e_log": math.log(energy),
        "part_logptrel": math.log(50.0 / jet_pt),
        "part_logerel": math.log(energy / jet_energy),
        "part_deltaR": math.hypot(deta, dphi),
        "part_deta": deta,
        "part_dphi": dphi,
    }
    jets = ak.zip(
        {
            "pt": [jet_pt],
            "energy": [jet_energy],
            "constituents": ak.zip(
                {
                    k: ak.values_astype(ak.Array([[v]]), np.float32)
                    for k, v in {
                        "px": px,
                        "py": py,
                        "energy": energy,
                        "deta": deta,
                        "dphi": dphi,
                    }.items()
                }
            ),
        },
        depth_limit=1,
    )
    x, _ = build_features(jets, "kin", max_particles=1)
    for column, name in enumerate(FEATURE_SETS["kin"]):
        info = infos[name]
        weaver = min(
            max((raw[name] - info["median"]) * info["norm_factor"], info["lower_bound"]),
            info["upper_bound"],
        )
        assert x[0, 0, column] == pytest.approx(weaver, abs=2e-6), name


def test_model_card(exported: dict[str, Path]) -> None:
    card = json.loads(exported["model_card"].read_text())
    assert card["feature_set"] == "full21"
    assert card["class_names"][0] == "QCD" and len(card["class_names"]) == 10
    assert card["epochs"] == 1 and card["unique_jets"] == "all"
    assert set(card["final_validation"]) == {
        "val_loss",
        "val_accuracy",
        "val_auc",
        "val_rejection50",
        "val_auc_pt_bins",
        "val_sculpting_jsd",
    }
    assert card["task"] == "jetclass"
    assert card["mass_decorrelation"] == "none"


def test_model_card_states_the_training_phase_space(
    run_dir: Path, exported: dict[str, Path]
) -> None:
    """The card's phase space is the run's training jets' (all but every 10th of the file)."""
    card = json.loads(exported["model_card"].read_text())
    data = json.loads((run_dir / "config.json").read_text())["data"][0]
    with uproot.open(data) as file:
        pt, eta = file["tree"].arrays(["jet_pt", "jet_eta"], library="np").values()
    trained = np.arange(len(pt)) % 10 != 9
    assert card["training_phase_space"] == {
        "pt_gev": [math.floor(pt[trained].min()), math.ceil(pt[trained].max())],
        "abs_eta_max": math.ceil(np.abs(eta[trained]).max() * 100) / 100,
    }
    assert OnnxTagger(exported["onnx"]).phase_space == PhaseSpace.from_json(
        card["training_phase_space"]
    )
    assert card["final_validation"]["val_loss"] > 0
    made_by = card["provenance"]  # of the export; the training's is the checkpoint's
    assert card["git_revision"] == made_by["git_revision"]
    assert made_by["git_revision"] is None or len(made_by["git_revision"]) == 40
    assert made_by["seeds"] == {"train": 1} and made_by["jetscale_version"]
    assert card["training_provenance"]["seeds"] == {"train": 1}


def test_bad_runs_are_refused(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="last.pt: checkpoint does not exist"):
        export_run(tmp_path, tmp_path / "m.onnx")
    state = torch.load(run_dir / "last.pt", weights_only=True)
    state["model_config"]["d_model"] = 64  # config no longer matches the weights
    torch.save(state, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match="weights do not fit the stored model config"):
        load_model(tmp_path, "last.pt")
    assert not (tmp_path / "m.onnx").exists()


def test_parity_needs_no_generator(
    run_dir: Path, exported: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default parity jets are stored with the package: no Pythia or FastJet is imported."""
    from jetscale.export.onnx_export import PARITY_JETS

    monkeypatch.setitem(sys.modules, "pythia8mc", None)
    monkeypatch.setitem(sys.modules, "fastjet", None)
    stored = read_jets([PARITY_JETS])
    assert len(stored) == 24 and set(ak.to_numpy(stored.label)) == {0, 8}  # QCD and Tbqq
    assert check_parity(run_dir, exported["onnx"]) < 1e-4


def test_export_command_checks_parity_on_the_users_jets(
    run_dir: Path,
    tmp_path: Path,
    make_jets: Callable[..., ak.Array],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jetscale.cli import main

    data = write_jetclass(tmp_path / "mine.root", make_jets(7, seed=11))
    out = tmp_path / "model.onnx"
    assert main(["export", str(run_dir), "--out", str(out), "--parity-data", str(data)]) == 0
    printed = capsys.readouterr().out
    line = next(x for x in printed.splitlines() if x.startswith("max |torch - onnxruntime|"))
    assert "on 7 jets of 1 file(s):" in line
    assert float(line.rsplit(":", 1)[1]) < 1e-4
    assert out.is_file() and out.with_name("preprocess.json").is_file()


def test_export_never_clobbers_another_models_files(run_dir: Path, tmp_path: Path) -> None:
    """A second model exported into the same directory used to overwrite the first one's
    preprocess.json and model_card.json (which then no longer matched its ONNX file)."""
    from jetscale.cli import main
    from jetscale.export.onnx_export import ExportClobberError

    first = export_run(run_dir, tmp_path / "first.onnx")
    before = {k: Path(v).read_bytes() for k, v in first.items()}
    assert json.loads(first["model_card"].read_text())["model_file"] == "first.onnx"
    with pytest.raises(ExportClobberError, match=r"belong to model file 'first.onnx'.*--force"):
        export_run(run_dir, tmp_path / "second.onnx")
    assert not (tmp_path / "second.onnx").exists()
    assert {k: Path(v).read_bytes() for k, v in first.items()} == before  # untouched
    assert (
        main(["export", str(run_dir), "--out", str(tmp_path / "second.onnx"), "--no-parity"]) == 2
    )
    # Re-exporting the same model file is fine; --force takes the directory over.
    export_run(run_dir, tmp_path / "first.onnx")
    export_run(run_dir, tmp_path / "second.onnx", force=True)
    assert json.loads(first["model_card"].read_text())["model_file"] == "second.onnx"
