"""weaver-core's own exports run in OnnxTagger and score jets as weaver-core's ``--predict`` does.

A weaver-core user writes a data configuration (JetClass's inputs ``pf_points``,
``pf_features``, ``pf_vectors``, ``pf_mask``) and a network configuration
(``get_model(data_config, **kwargs)`` returning the model and its
``model_info``, as the Particle Transformer repository's example networks do),
trains, exports with ``weaver --export-onnx`` and predicts with ``weaver
--predict``. Here weaver-core itself exports and predicts, through its command
line, for randomly initialized ParticleNet, ParticleTransformer and PFN
networks; jetscale's scores on the same JetClass-format file must equal the
scores of weaver's ``--predict-output`` jet by jet.

Agreement to 1e-4 in probability (measured: 2e-6 at most): weaver computes the
variables with NumPy on the file's float32 branches and standardizes in float32,
jetscale computes them in float64 and rounds once, and weaver's ``--predict``
runs the torch model (ParticleTransformer's sparse pair features, the sequence
trimmer) where jetscale runs the ONNX export (dense pair features). Inputs
differ by about an ulp, which the networks (final-layer gains raised, so scores
spread over [0, 1]) amplify to about 1e-6; other CPUs and libraries may round
differently, hence the margin. A padding or standardization error moves scores
by 1e-2 or more (the wrong pad mode below: 0.3-0.8).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from jetscale.inference import OnnxTagger, SidecarError, parse_model_inputs, read_model_inputs
from jetscale.inference.tagger import BUCKET_STEP
from jetscale.io import read_jetclass, write_jetclass
from jetscale.schema import CLASS_NAMES, LABEL_BRANCHES
from jetscale.sidecar import registry_inputs, to_preprocess_json

#: Written beside the per-network code: weaver-core's model_info convention.
MODEL_INFO = '''
import torch


def model_info(data_config):
    """What weaver --export-onnx needs: input names and shapes, outputs, dynamic axes."""
    return {
        "input_names": list(data_config.input_names),
        "input_shapes": {k: ((1,) + s[1:]) for k, s in data_config.input_shapes.items()},
        "output_names": ["softmax"],
        "dynamic_axes": {
            **{k: {0: "N", 2: "n_" + k.split("_")[0]} for k in data_config.input_names},
            "softmax": {0: "N"},
        },
    }


def get_loss(data_config, **kwargs):
    return torch.nn.CrossEntropyLoss()
'''

#: Network configurations as weaver-core users write them (get_model/get_loss).
NETWORKS = {
    "particlenet": """
from weaver.nn.model.ParticleNet import ParticleNet


class ParticleNetWrapper(torch.nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.mod = ParticleNet(**kwargs)

    def forward(self, points, features, lorentz_vectors, mask):
        return self.mod(points, features, mask)


def get_model(data_config, **kwargs):
    model = ParticleNetWrapper(
        input_dims=len(data_config.input_dicts["pf_features"]),
        num_classes=len(data_config.label_value),
        conv_params=[(16, (32, 32, 32)), (16, (64, 64, 64))],  # k = 16 neighbours
        fc_params=[(64, 0.1)],
        **kwargs,
    )
    return model, model_info(data_config)
""",
    "particle_transformer": """
from weaver.nn.model.ParticleTransformer import ParticleTransformer


class ParticleTransformerWrapper(torch.nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.mod = ParticleTransformer(**kwargs)

    def forward(self, points, features, lorentz_vectors, mask):
        return self.mod(features, v=lorentz_vectors, mask=mask)


def get_model(data_config, **kwargs):
    model = ParticleTransformerWrapper(
        input_dim=len(data_config.input_dicts["pf_features"]),
        num_classes=len(data_config.label_value),
        embed_dims=(32, 64, 32),
        pair_embed_dims=(16, 16, 16),
        num_heads=4,
        num_layers=2,
        fc_params=(),
        **kwargs,
    )
    return model, model_info(data_config)
""",
    "pfn": '''
class ParticleFlowNetwork(torch.nn.Module):
    """A particle-flow network; without the mask it sums over padded slots too."""

    def __init__(self, input_dims, num_classes, use_mask=True, for_inference=False):
        super().__init__()
        self.input_bn = torch.nn.BatchNorm1d(input_dims)
        self.phi = torch.nn.Sequential(
            torch.nn.Conv1d(input_dims, 32, kernel_size=1), torch.nn.ReLU(),
            torch.nn.Conv1d(32, 32, kernel_size=1), torch.nn.ReLU(),
        )
        layers = [torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, num_classes)]
        if for_inference:
            layers.append(torch.nn.Softmax(dim=1))
        self.fc = torch.nn.Sequential(*layers)
        self.use_mask = use_mask

    def forward(self, points, features, lorentz_vectors, mask):
        x = self.phi(self.input_bn(features))  # (N, 32, P)
        if self.use_mask:
            x = x * mask
        return self.fc(x.sum(dim=-1) / 32.0)


def get_model(data_config, **kwargs):
    model = ParticleFlowNetwork(
        len(data_config.input_dicts["pf_features"]), len(data_config.label_value), **kwargs
    )
    return model, model_info(data_config)
''',
}

#: particle_transformer's data/JetClass/JetClass_full.yaml, with the pad mode as a parameter.
DATA_CONFIG = """
selection:

new_variables:
   part_mask: ak.ones_like(part_energy)
   part_pt: np.hypot(part_px, part_py)
   part_pt_log: np.log(part_pt)
   part_e_log: np.log(part_energy)
   part_logptrel: np.log(part_pt/jet_pt)
   part_logerel: np.log(part_energy/jet_energy)
   part_deltaR: np.hypot(part_deta, part_dphi)
   part_d0: np.tanh(part_d0val)
   part_dz: np.tanh(part_dzval)

preprocess:
  method: manual
  data_fraction: 0.5

inputs:
   pf_points:
      length: 128
      pad_mode: {pad_mode}
      vars:
         - [part_deta, null]
         - [part_dphi, null]
   pf_features:
      length: 128
      pad_mode: {pad_mode}
      vars:
         - [part_pt_log, 1.7, 0.7]
         - [part_e_log, 2.0, 0.7]
         - [part_logptrel, -4.7, 0.7]
         - [part_logerel, -4.7, 0.7]
         - [part_deltaR, 0.2, 4.0]
         - [part_charge, null]
         - [part_isChargedHadron, null]
         - [part_isNeutralHadron, null]
         - [part_isPhoton, null]
         - [part_isElectron, null]
         - [part_isMuon, null]
         - [part_d0, null]
         - [part_d0err, 0, 1, 0, 1]
         - [part_dz, null]
         - [part_dzerr, 0, 1, 0, 1]
         - [part_deta, null]
         - [part_dphi, null]
   pf_vectors:
      length: 128
      pad_mode: {pad_mode}
      vars:
         - [part_px, null]
         - [part_py, null]
         - [part_pz, null]
         - [part_energy, null]
   pf_mask:
      length: 128
      pad_mode: constant
      vars:
         - [part_mask, null]

labels:
   type: simple
   value: [{labels}]

observers:
   - jet_pt
   - jet_eta
   - jet_phi
   - jet_energy
   - jet_nparticles
   - jet_sdmass
   - jet_tau1
   - jet_tau2
   - jet_tau3
   - jet_tau4

weights:
"""

#: Final-layer gain per network, so that random networks give scores spread over [0, 1].
GAINS = {"particlenet": 100.0, "particle_transformer": 1.0, "pfn": 10.0}


@dataclasses.dataclass(frozen=True)
class Case:
    """One weaver-core model and data configuration, and what jetscale must make of it."""

    network: str  # key of NETWORKS
    options: dict[str, Any]  # weaver --network-option
    pad_mode: str  # of the data configuration's pf_points, pf_features, pf_vectors
    fed: tuple[str, ...]  # the graph's inputs: what torch kept
    min_length: int  # particle slots the graph needs
    buckets: bool  # the graph reads the mask


CASES = {
    # Masked: padded slots do not matter, and jets are padded to max(bucket, 17) for the kNN.
    "ParticleNet-constant": Case(
        "particlenet", {}, "constant", ("pf_points", "pf_features", "pf_mask"), 17, True
    ),
    # JetClass's configuration: wrap (its pair features take logs of the padded four-vectors).
    "ParticleTransformer-wrap": Case(
        "particle_transformer", {}, "wrap", ("pf_features", "pf_vectors", "pf_mask"), 1, True
    ),
    # No mask: the sum runs over padded slots, so their content and number both matter.
    "PFN-unmasked-wrap": Case("pfn", {"use_mask": False}, "wrap", ("pf_features",), 1, False),
    "PFN-unmasked-constant": Case(
        "pfn", {"use_mask": False}, "constant", ("pf_features",), 1, False
    ),
}


@dataclasses.dataclass(frozen=True)
class Configs:
    directory: Path
    networks: dict[str, Path]  # network -> network configuration file
    data: dict[str, Path]  # pad mode -> data configuration file


@dataclasses.dataclass(frozen=True)
class WeaverRuns:
    jets_file: Path
    exports: dict[str, Path]  # network -> directory with model.onnx and preprocess.json
    predictions: dict[str, Path]  # case -> weaver's --predict-output ROOT file


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> Configs:
    directory = tmp_path_factory.mktemp("weaver_configs")
    networks = {}
    for name, code in NETWORKS.items():
        networks[name] = directory / f"example_{name}.py"
        networks[name].write_text(MODEL_INFO + code)
    data = {}
    for pad_mode in ("constant", "wrap"):
        data[pad_mode] = directory / f"JetClass_full_{pad_mode}.yaml"
        data[pad_mode].write_text(
            DATA_CONFIG.format(pad_mode=pad_mode, labels=", ".join(LABEL_BRANCHES))
        )
    return Configs(directory, networks, data)


def jetclass_jets(make_jets: Callable[..., ak.Array]) -> ak.Array:
    """Jets as JetClass holds them: constituents by descending pT (weaver reads file order).

    Typical jets, a few with 1-6 constituents (fewer than ParticleNet's 17 kNN
    slots) and a few with more than the 128 slots, shuffled so every batch of
    weaver's mixes them (its trimmer cuts a batch to its longest jet).
    """
    jets = ak.concatenate(
        [
            make_jets(120, seed=31, mean_particles=40.0),
            make_jets(10, seed=32, mean_particles=2.0),
            make_jets(5, seed=33, mean_particles=150.0),
        ]
    )
    jets = jets[np.random.default_rng(34).permutation(len(jets))]
    px = ak.values_astype(jets.constituents.px, np.float64)
    py = ak.values_astype(jets.constituents.py, np.float64)
    order = ak.argsort(-(px * px + py * py), axis=1, stable=True)  # jetscale's sort key
    return ak.with_field(jets, jets.constituents[order], "constituents")


def load_network(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_network_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def random_network(configs: Configs, case: Case, **options: Any) -> tuple[Any, dict[str, Any]]:
    """The case's network with random weights, batch-norm statistics and a raised output gain."""
    import torch
    from weaver.utils.data.config import DataConfig

    data_config = DataConfig.load(
        str(configs.data[case.pad_mode]), load_observers=False, load_reweight_info=False
    )
    torch.manual_seed(7)
    model, info = load_network(configs.networks[case.network]).get_model(
        data_config, **case.options, **options
    )
    generator = torch.Generator().manual_seed(8)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.copy_(
                    0.5 * torch.randn(module.num_features, generator=generator)
                )
                module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=generator))
        outputs = [
            m
            for m in model.modules()
            if isinstance(m, torch.nn.Linear) and m.out_features == len(CLASS_NAMES)
        ]
        outputs[-1].weight.mul_(GAINS[case.network])
    return model, info


def weaver(arguments: list[str], cwd: Path) -> None:
    """Run weaver-core's command line (``weaver`` is ``python -m weaver.train``)."""
    result = subprocess.run(
        [sys.executable, "-m", "weaver.train", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        pytest.fail(f"weaver {' '.join(arguments)} exited with {result.returncode}:\n{output}")


@pytest.fixture(scope="module")
def weaver_runs(
    configs: Configs,
    make_jets: Callable[..., ak.Array],
    tmp_path_factory: pytest.TempPathFactory,
) -> WeaverRuns:
    """weaver --export-onnx of each network and weaver --predict of each case, two at a time."""
    import torch

    directory = tmp_path_factory.mktemp("weaver_runs")
    jets_file = write_jetclass(directory / "jets.root", jetclass_jets(make_jets))
    jobs, exports, predictions = [], {}, {}
    for name, case in CASES.items():
        weights = directory / f"{case.network}.pt"
        common = [
            "--data-config",
            str(configs.data[case.pad_mode]),
            "--network-config",
            str(configs.networks[case.network]),
            "--model-prefix",
            str(weights),
        ]
        for option, value in case.options.items():
            common += ["--network-option", option, repr(value)]
        if case.network not in exports:  # one export per network: pad modes share it
            torch.save(random_network(configs, case)[0].state_dict(), weights)
            exports[case.network] = directory / case.network
            jobs.append(["--export-onnx", str(exports[case.network] / "model.onnx"), *common])
        predictions[name] = directory / f"predict_{name}.root"
        jobs.append(
            [
                "--predict",
                "--data-test",
                str(jets_file),
                *common,
                "--gpus",
                "",
                "--batch-size",
                "32",
                "--num-workers",
                "0",
                "--predict-output",
                str(predictions[name]),
            ]
        )
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda arguments: weaver(arguments, directory), jobs))
    return WeaverRuns(jets_file, exports, predictions)


def as_matrix(scores: ak.Array, names: tuple[str, ...]) -> np.ndarray:
    return np.stack([ak.to_numpy(scores[name]) for name in names], axis=1)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_scores_equal_weaver_predict(name: str, weaver_runs: WeaverRuns) -> None:
    case = CASES[name]
    jets = read_jetclass(weaver_runs.jets_file)
    tagger = OnnxTagger(weaver_runs.exports[case.network] / "model.onnx", pad_mode=case.pad_mode)
    assert tagger.class_names == CLASS_NAMES  # weaver's output_names: the label branches
    assert tuple(i.name for i in tagger.inputs.inputs) == case.fed
    assert tagger.min_length == case.min_length
    assert tagger.buckets is case.buckets

    got = as_matrix(tagger(jets), tagger.class_names)
    output = uproot.open(weaver_runs.predictions[name])["Events"].arrays(library="np")
    expected = np.stack([output[f"score_label_{c}"] for c in tagger.class_names], axis=1)
    # The same jets in the same order, and a network whose scores are not all alike.
    np.testing.assert_array_equal(output["jet_pt"], ak.to_numpy(jets.pt))
    assert expected.max() > 0.5
    assert expected.std(axis=0).max() > 0.02
    assert np.abs(got - expected).max() < 1e-4

    if not case.buckets:  # padded slots matter: the other pad mode gives other scores
        other = "constant" if case.pad_mode == "wrap" else "wrap"
        wrong = as_matrix(OnnxTagger(tagger.model_path, pad_mode=other)(jets), CLASS_NAMES)
        assert np.abs(wrong - expected).max() > 0.01


@pytest.mark.slow
def test_particle_transformer_without_wrap_padding_gives_nan_and_says_why(
    weaver_runs: WeaverRuns, caplog: pytest.LogCaptureFixture
) -> None:
    """weaver-core's ParT export takes logs of padded four-vectors: zeros give NaN."""
    jets = read_jetclass(weaver_runs.jets_file)
    tagger = OnnxTagger(weaver_runs.exports["particle_transformer"] / "model.onnx")
    assert tagger.pad_mode == "constant"  # weaver's sidecar does not record the pad mode
    with caplog.at_level(logging.WARNING, logger="jetscale.inference.tagger"):
        scores = as_matrix(tagger(jets), tagger.class_names)
    counts = ak.to_numpy(ak.num(jets.constituents))
    padded = (counts % BUCKET_STEP != 0) & (counts < 128)
    assert np.isnan(scores[padded]).all()
    assert "pad_mode='wrap'" in caplog.text


# -- the checks of a weaver-core export, on one exported in-process as weaver does ---------


@pytest.fixture(scope="module")
def particlenet_export(configs: Configs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ParticleNet (k = 16) exported as ``weaver --export-onnx`` does (train.py's ``onnx``)."""
    import torch
    from weaver.utils.data.config import DataConfig

    case = CASES["ParticleNet-constant"]
    model, info = random_network(configs, case, for_inference=True)
    directory = tmp_path_factory.mktemp("particlenet_export")
    inputs = tuple(torch.ones((2, *info["input_shapes"][k][1:])) for k in info["input_names"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings
        torch.onnx.export(
            model.eval(),
            inputs,
            str(directory / "model.onnx"),
            input_names=info["input_names"],
            output_names=info["output_names"],
            dynamic_axes=info["dynamic_axes"],
            opset_version=15,
            dynamo=False,
        )
    data_config = DataConfig.load(
        str(configs.data[case.pad_mode]), load_observers=False, load_reweight_info=False
    )
    data_config.export_json(str(directory / "preprocess.json"))
    return directory


def edited_copy(export: Path, target: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of an export whose preprocess.json ``edit`` changed; returns its model.onnx."""
    shutil.copytree(export, target)
    sidecar = json.loads((target / "preprocess.json").read_text())
    edit(sidecar)
    (target / "preprocess.json").write_text(json.dumps(sidecar))
    return target / "model.onnx"


def test_sidecar_inputs_absent_from_the_graph_are_not_fed(
    particlenet_export: Path,
    make_jets: Callable[..., ak.Array],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sidecar = json.loads((particlenet_export / "preprocess.json").read_text())
    assert sidecar["input_names"] == ["pf_points", "pf_features", "pf_vectors", "pf_mask"]
    with caplog.at_level(logging.INFO, logger="jetscale.inference.tagger"):
        tagger = OnnxTagger(particlenet_export / "model.onnx")
        tagger(make_jets(5, seed=3))
    assert tagger.unused_inputs == ("pf_vectors",)
    assert [i.name for i in tagger.inputs.inputs] == ["pf_points", "pf_features", "pf_mask"]
    dropped = [
        r.getMessage() for r in caplog.records if "not inputs of the ONNX graph" in r.message
    ]
    assert len(dropped) == 1  # once, at construction
    assert "pf_vectors" in dropped[0]
    assert str(particlenet_export / "model.onnx") in dropped[0]


def test_graph_input_missing_from_the_sidecar_is_an_error(
    particlenet_export: Path, tmp_path: Path
) -> None:
    def drop_mask(sidecar: dict[str, Any]) -> None:
        sidecar["input_names"].remove("pf_mask")

    model = edited_copy(particlenet_export, tmp_path / "m", drop_mask)
    with pytest.raises(SidecarError, match="needs \\['pf_mask'\\]") as error:
        OnnxTagger(model)
    assert str(model) in str(error.value)


def test_sidecar_matching_no_graph_input_is_an_error(
    particlenet_export: Path, tmp_path: Path
) -> None:
    def rename(sidecar: dict[str, Any]) -> None:
        sidecar["input_names"] = ["sv_features"]
        sidecar["sv_features"] = sidecar["pf_features"]

    model = edited_copy(particlenet_export, tmp_path / "m", rename)
    with pytest.raises(SidecarError, match="none of the inputs \\['sv_features'\\]") as error:
        OnnxTagger(model)
    assert str(model) in str(error.value)


def test_graph_input_of_unknown_rank_is_an_error(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    features = helper.make_tensor_value_info("pf_features", TensorProto.FLOAT, None)
    scores = helper.make_tensor_value_info("softmax", TensorProto.FLOAT, None)
    node = helper.make_node("Identity", ["pf_features"], ["softmax"])
    graph = helper.make_graph([node], "unknown_rank", [features], [scores])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    (tmp_path / "model.onnx").write_bytes(model.SerializeToString())
    sidecar = {
        "input_names": ["pf_features"],
        "output_names": ["softmax"],
        "pf_features": {
            "var_names": ["part_pt_log"],
            "var_infos": {"part_pt_log": {"median": 1.7, "norm_factor": 0.7}},
            "var_length": 128,
        },
    }
    (tmp_path / "preprocess.json").write_text(json.dumps(sidecar))
    with pytest.raises(SidecarError, match="'pf_features' has no declared shape") as error:
        OnnxTagger(tmp_path / "model.onnx")
    assert str(tmp_path / "model.onnx") in str(error.value)


def test_knn_needs_17_slots_and_a_jet_of_3_constituents_scores(
    particlenet_export: Path, make_jets: Callable[..., ak.Array]
) -> None:
    tagger = OnnxTagger(particlenet_export / "model.onnx")
    assert tagger.min_length == 17  # ParticleNet's TopK: k + 1 = 17
    jets = make_jets(40, seed=5, mean_particles=2.0)
    three = jets[ak.to_numpy(ak.num(jets.constituents)) == 3][:1]
    assert len(three) == 1
    scores = as_matrix(tagger(three), tagger.class_names)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    # Padded to 17 slots or to all 128, a masked ParticleNet gives the same scores.
    full = as_matrix(OnnxTagger(tagger.model_path, buckets=False)(three), tagger.class_names)
    np.testing.assert_allclose(scores, full, atol=1e-6)


def test_minimum_length_above_var_length_is_an_error(
    particlenet_export: Path, tmp_path: Path
) -> None:
    def sixteen_slots(sidecar: dict[str, Any]) -> None:
        for name in sidecar["input_names"]:
            sidecar[name]["var_length"] = 16

    model = edited_copy(particlenet_export, tmp_path / "m", sixteen_slots)
    with pytest.raises(SidecarError, match="at least 17 particle slots.*model's 16") as error:
        OnnxTagger(model)
    assert str(model) in str(error.value)


def test_only_jetscale_sidecars_record_the_pad_mode(particlenet_export: Path) -> None:
    # weaver-core's export_json writes no pad mode: its models read as weaver's default.
    assert read_model_inputs(particlenet_export / "preprocess.json").pad_mode == "constant"
    wrapped = dataclasses.replace(registry_inputs("kin", 64), pad_mode="wrap")
    data = to_preprocess_json(wrapped)
    assert parse_model_inputs(data, "wrapped").pad_mode == "wrap"
    data["jetscale"]["pad_mode"] = "reflect"
    with pytest.raises(SidecarError, match="'jetscale.pad_mode' must be 'constant' or 'wrap'"):
        parse_model_inputs(data, "wrapped")
