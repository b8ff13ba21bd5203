"""preprocess.json in both flavours: written, read back, and compared with hand-written numbers."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from jetscale.features import FEATURE_SETS, FEATURES
from jetscale.schema import CLASS_NAMES
from jetscale.sidecar import (
    SidecarError,
    parse_model_inputs,
    preprocess_json,
    read_model_inputs,
    to_preprocess_json,
)

#: A sidecar as ``weaver --export-onnx`` writes one for a ParT-style JetClass config, by hand:
#: four inputs, output_names = the labels, +-1e32 = no clip, constants unlike the registry's.
UNCLIPPED = {"lower_bound": -1e32, "upper_bound": 1e32}


def weaver_info(median: float = 0.0, norm: float = 1.0, **bounds: float) -> dict[str, float]:
    return {
        "median": median,
        "norm_factor": norm,
        "replace_inf_value": 0.0,
        **(bounds or UNCLIPPED),
        "pad": 0.0,
    }


WEAVER = {
    "input_names": ["pf_points", "pf_features", "pf_vectors", "pf_mask"],
    "output_names": ["label_QCD", "label_Hbb", "label_Tbqq"],
    "pf_points": {
        "var_names": ["part_deta", "part_dphi"],
        "var_infos": {"part_deta": weaver_info(), "part_dphi": weaver_info()},
        "var_length": 128,
    },
    "pf_features": {
        "var_names": ["part_pt_log", "part_d0err", "part_isPhoton"],
        "var_infos": {
            "part_pt_log": weaver_info(1.5, 0.6, lower_bound=-5.0, upper_bound=5.0),
            "part_d0err": weaver_info(0.0, 1.0, lower_bound=0.0, upper_bound=1.0),
            "part_isPhoton": weaver_info(),
        },
        "var_length": 128,
    },
    "pf_vectors": {
        "var_names": ["part_px", "part_py", "part_pz", "part_energy"],
        "var_infos": {
            name: weaver_info() for name in ("part_px", "part_py", "part_pz", "part_energy")
        },
        "var_length": 128,
    },
    "pf_mask": {
        "var_names": ["part_mask"],
        "var_infos": {"part_mask": weaver_info()},
        "var_length": 128,
    },
}


@pytest.mark.parametrize("feature_set", list(FEATURE_SETS))
def test_jetscale_flavour_round_trip(feature_set: str, tmp_path: Path) -> None:
    written = preprocess_json(feature_set, 64)
    path = tmp_path / "preprocess.json"
    path.write_text(json.dumps(written))
    read = read_model_inputs(path)
    features, mask = read.inputs
    assert (features.name, mask.name) == ("pf_features", "pf_mask")
    assert features.variables == tuple(FEATURES[n] for n in FEATURE_SETS[feature_set])
    assert mask.variables == (FEATURES["part_mask"],)
    assert read.length == 64
    assert read.class_names == tuple(CLASS_NAMES)
    assert read.feature_set == feature_set
    assert to_preprocess_json(read, "jetscale") == written


def test_jetscale_flavour_numbers_by_hand() -> None:
    """ParT's constants for log pT (1.7, 0.7, +-5) and the weaver spelling of "no clip"."""
    written = preprocess_json("kinpid", 128, n_classes=2)
    info = written["pf_features"]["var_infos"]
    assert info["part_pt_log"] == {
        "median": 1.7,
        "norm_factor": 0.7,
        "replace_inf_value": 0.0,
        "lower_bound": -5.0,
        "upper_bound": 5.0,
        "pad": 0.0,
    }
    assert info["part_charge"]["lower_bound"] == -1e32
    assert info["part_charge"]["upper_bound"] == 1e32
    assert written["output_names"] == ["softmax"]
    assert written["jetscale"]["class_names"] == ["QCD", "Hbb"]
    assert written["pf_mask"]["var_length"] == 128


def test_weaver_flavour_round_trip() -> None:
    read = parse_model_inputs(WEAVER, "weaver.json")
    assert [i.name for i in read.inputs] == WEAVER["input_names"]
    assert read.class_names == ("QCD", "Hbb", "Tbqq")
    pt_log = read.inputs[1].variables[0]
    # The sidecar's constants, not the registry's (1.7, 0.7); 1e32 read as "no clip".
    assert (pt_log.center, pt_log.scale, pt_log.lower, pt_log.upper) == (1.5, 0.6, -5.0, 5.0)
    assert read.inputs[0].variables[0].lower == -math.inf
    assert pt_log.formula == FEATURES["part_pt_log"].formula
    assert to_preprocess_json(read, "weaver") == WEAVER


def test_flavours_convert_into_each_other() -> None:
    """A jetscale model written in weaver's flavour reads back to the same inputs."""
    jetscale_inputs = parse_model_inputs(preprocess_json("full21", 80), "jetscale.json")
    as_weaver = to_preprocess_json(jetscale_inputs, "weaver")
    assert as_weaver["output_names"] == [f"label_{c}" for c in CLASS_NAMES]
    assert "jetscale" not in as_weaver
    back = parse_model_inputs(as_weaver, "weaver.json")
    assert back.inputs == jetscale_inputs.inputs
    assert back.class_names == jetscale_inputs.class_names


def test_weaver_flavour_needs_class_names() -> None:
    no_classes = dataclasses.replace(parse_model_inputs(WEAVER, "w.json"), class_names=None)
    with pytest.raises(ValueError, match="none are known"):
        to_preprocess_json(no_classes, "weaver")


def test_bad_sidecars_are_named(tmp_path: Path) -> None:
    with pytest.raises(SidecarError, match=r"missing key 'input_names'"):
        parse_model_inputs({}, "empty.json")
    bad = json.loads(json.dumps(WEAVER))
    bad["pf_features"]["var_names"].append("part_unknown")
    with pytest.raises(SidecarError, match=r"input 'pf_features'.*part_unknown"):
        parse_model_inputs(bad, "bad.json")
    with pytest.raises(SidecarError, match="no preprocess.json sidecar"):
        read_model_inputs(tmp_path / "missing.json")
