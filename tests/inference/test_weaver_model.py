"""A model exported the way weaver-core exports ParT runs through OnnxTagger unchanged.

The test builds its own weaver-style model: four inputs ``pf_points`` (2 vars),
``pf_features`` (17 ParT vars), ``pf_vectors`` (px, py, pz, E in GeV) and
``pf_mask``, each ``(N, C, P)`` with dynamic N and P, output ``softmax``, and a
``preprocess.json`` in weaver's layout (``output_names`` = the label list,
+-1e32 for "no clip") with standardization constants that differ from
jetscale's registry, so using the registry instead of the sidecar would fail.
The reference inputs are computed here, per jet, with plain NumPy formulas.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("coffea")

from jetscale.inference import OnnxTagger  # noqa: E402

LABELS = ["label_QCD", "label_Hbb", "label_Tbqq"]
#: name -> (median, norm_factor, lower, upper) as weaver's JetClass ParT config would write them,
#: with some constants changed on purpose (None: unstandardized, weaver writes 0/1/+-1e32).
FEATURES = {
    "part_pt_log": (1.5, 0.6, -5.0, 5.0),
    "part_e_log": (2.0, 0.7, -5.0, 5.0),
    "part_logptrel": (-4.0, 0.8, -5.0, 5.0),
    "part_logerel": (-4.7, 0.7, -5.0, 5.0),
    "part_deltaR": (0.2, 4.0, -5.0, 5.0),
    "part_charge": None,
    "part_isChargedHadron": None,
    "part_isNeutralHadron": None,
    "part_isPhoton": None,
    "part_isElectron": None,
    "part_isMuon": None,
    "part_d0": None,
    "part_d0err": (0.0, 1.0, 0.0, 1.0),
    "part_dz": None,
    "part_dzerr": (0.0, 1.0, 0.0, 1.0),
    "part_deta": None,
    "part_dphi": None,
}
POINTS = ["part_deta", "part_dphi"]
VECTORS = ["part_px", "part_py", "part_pz", "part_energy"]
LENGTH = 128


def raw_values(c: dict[str, np.ndarray], jet_pt: float, jet_e: float) -> dict[str, np.ndarray]:
    """weaver's JetClass config formulas, one jet, float64."""
    pt = np.hypot(c["px"], c["py"])
    return {
        "part_pt_log": np.log(pt),
        "part_e_log": np.log(c["energy"]),
        "part_logptrel": np.log(pt / jet_pt),
        "part_logerel": np.log(c["energy"] / jet_e),
        "part_deltaR": np.hypot(c["deta"], c["dphi"]),
        "part_charge": c["charge"],
        "part_isChargedHadron": c["isChargedHadron"],
        "part_isNeutralHadron": c["isNeutralHadron"],
        "part_isPhoton": c["isPhoton"],
        "part_isElectron": c["isElectron"],
        "part_isMuon": c["isMuon"],
        "part_d0": np.tanh(c["d0val"]),
        "part_d0err": c["d0err"],
        "part_dz": np.tanh(c["dzval"]),
        "part_dzerr": c["dzerr"],
        "part_deta": c["deta"],
        "part_dphi": c["dphi"],
        "part_px": c["px"],
        "part_py": c["py"],
        "part_pz": c["pz"],
        "part_energy": c["energy"],
        "part_mask": np.ones_like(pt),
    }


def reference_inputs(jets: ak.Array) -> dict[str, np.ndarray]:
    names = {
        "pf_points": POINTS,
        "pf_features": list(FEATURES),
        "pf_vectors": VECTORS,
        "pf_mask": ["part_mask"],
    }
    out = {k: np.zeros((len(jets), len(v), LENGTH), dtype=np.float32) for k, v in names.items()}
    for j, jet in enumerate(ak.to_list(jets)):
        c = {
            k: np.array([p[k] for p in jet["constituents"]], dtype=np.float64)
            for k in jet["constituents"][0]
        }
        order = np.argsort(-(c["px"] ** 2 + c["py"] ** 2), kind="stable")[:LENGTH]
        raw = raw_values({k: v[order] for k, v in c.items()}, jet["pt"], jet["energy"])
        for key, variables in names.items():
            for row, name in enumerate(variables):
                constants = FEATURES.get(name)
                value = raw[name]
                if constants is not None:
                    median, norm, lower, upper = constants
                    value = np.clip((value - median) * norm, lower, upper)
                out[key][j, row, : len(order)] = value
    return out


class WeaverStyleTagger(torch.nn.Module):
    """A masked per-particle MLP with mean pooling, called like weaver's ParT wrapper."""

    def __init__(self) -> None:
        super().__init__()
        self.phi = torch.nn.Sequential(
            torch.nn.Linear(2 + 17 + 4, 32), torch.nn.GELU(), torch.nn.Linear(32, 32)
        )
        self.rho = torch.nn.Linear(32, len(LABELS))

    def forward(
        self,
        points: torch.Tensor,
        features: torch.Tensor,
        vectors: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        x = torch.cat(
            [points, features, torch.log1p(vectors.abs()) * torch.sign(vectors)], dim=1
        )  # (N, 23, P)
        h = self.phi(x.transpose(1, 2)) * mask.transpose(1, 2)  # (N, P, 32)
        pooled = h.sum(dim=1) / mask.sum(dim=(1, 2)).clamp(min=1.0)[:, None]  # (N, 32)
        return torch.softmax(self.rho(pooled), dim=1)


def export_weaver_model(directory: Path) -> WeaverStyleTagger:
    torch.manual_seed(0)
    model = WeaverStyleTagger().eval()
    input_names = ["pf_points", "pf_features", "pf_vectors", "pf_mask"]
    example = (
        torch.zeros(1, 2, 10),
        torch.zeros(1, 17, 10),
        torch.ones(1, 4, 10),
        torch.ones(1, 1, 10),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            example,
            str(directory / "model.onnx"),
            input_names=input_names,
            output_names=["softmax"],
            dynamic_axes={
                **{k: {0: "N", 2: "n_" + k.split("_")[0]} for k in input_names},
                "softmax": {0: "N"},
            },
            opset_version=17,
            dynamo=False,
        )

    def info(name: str) -> dict[str, float]:
        constants = FEATURES.get(name)
        if constants is None:
            return {
                "median": 0,
                "norm_factor": 1,
                "replace_inf_value": 0,
                "lower_bound": -1e32,
                "upper_bound": 1e32,
                "pad": 0,
            }
        median, norm, lower, upper = constants
        return {
            "median": median,
            "norm_factor": norm,
            "replace_inf_value": 0,
            "lower_bound": lower,
            "upper_bound": upper,
            "pad": 0,
        }

    sidecar: dict[str, object] = {"output_names": LABELS, "input_names": input_names}
    for key, variables in (
        ("pf_points", POINTS),
        ("pf_features", list(FEATURES)),
        ("pf_vectors", VECTORS),
        ("pf_mask", ["part_mask"]),
    ):
        sidecar[key] = {
            "var_names": variables,
            "var_infos": {v: info(v) for v in variables},
            "var_length": LENGTH,
        }
    (directory / "preprocess.json").write_text(json.dumps(sidecar, indent=2))
    return model


def test_weaver_exported_model_runs_unchanged(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    model = export_weaver_model(tmp_path)
    jets = make_jets(60, seed=21, mean_particles=50)
    tagger = OnnxTagger(tmp_path / "model.onnx", batch_size=16)
    assert tagger.class_names == ("QCD", "Hbb", "Tbqq")  # from weaver's label list
    assert [i.name for i in tagger.inputs.inputs] == [
        "pf_points",
        "pf_features",
        "pf_vectors",
        "pf_mask",
    ]

    scores = tagger(jets)
    got = np.stack([ak.to_numpy(scores[n]) for n in tagger.class_names], axis=1)
    inputs = reference_inputs(jets)
    with torch.no_grad():
        expected = model(
            *(
                torch.from_numpy(inputs[k])
                for k in ("pf_points", "pf_features", "pf_vectors", "pf_mask")
            )
        ).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-6)
    # The sidecar's constants matter: jetscale's registry constants give other inputs.
    assert tagger.inputs.inputs[1].variables[0].center == 1.5

    # Without the vectors the model cannot run: refused with the variables named.
    no_energy = ak.with_field(
        jets, jets.constituents[["px", "py", "pz", "deta", "dphi"]], "constituents"
    )
    with pytest.raises(ValueError, match="energy"):
        tagger(no_energy)
