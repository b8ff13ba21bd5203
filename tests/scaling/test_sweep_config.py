"""Sweep files are checked key by key before anything is generated or trained."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from jetscale.scaling.sweep_config import SweepConfig, SweepConfigError

DEMO = Path(__file__).resolve().parents[2] / "analysis_examples" / "scaling_demo"


def demo() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((DEMO / "sweep.yaml").read_text())
    return raw


@pytest.mark.parametrize("name", ["sweep.yaml", "gpu_study.yaml"])
def test_the_shipped_sweeps_parse(name: str) -> None:
    config = SweepConfig.from_file(DEMO / name)
    assert config.studies


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # A misspelt key was ignored: the sweep trained on the default (cms) card.
        ({"detectr": "atlas_like"}, "data.generate has unknown key(s) 'detectr'; known: classes"),
        (
            {"detector": "atlass"},
            "data.generate.detector must be a detector card name (atlas_like, cms, coarse), got 'atlass'",
        ),
        (
            {"train_jets_per_class": "3000"},
            "data.generate.train_jets_per_class must be a positive integer, got '3000'",
        ),
        (
            {"val_jets_per_class": 0},
            "data.generate.val_jets_per_class must be a positive integer, got 0",
        ),
        (
            {"classes": ["QCD", "Hbbb"]},
            "data.generate.classes must be a list of JetClass class names (QCD, Hbb",
        ),
        ({"seed": 1.5}, "data.generate.seed must be an integer, got 1.5"),
    ],
)
def test_bad_generate_keys_are_named(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    raw = demo()
    raw["data"]["generate"].update(change)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SweepConfigError) as info:
        SweepConfig.from_file(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_bad_data_paths_and_shuffle_are_named() -> None:
    raw = demo()
    raw["data"] = {"train": ["a.root", 3]}
    with pytest.raises(SweepConfigError, match=r"data.train must be a path or a list of paths"):
        SweepConfig.from_dict(copy.deepcopy(raw), "s.yaml")
    raw["data"] = {"train": "a.root", "shuffle": "yes"}
    with pytest.raises(SweepConfigError, match=r"data.shuffle must be true or false, got 'yes'"):
        SweepConfig.from_dict(raw, "s.yaml")
