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
            "data.generate.detector must be a detector card name (atlas_like, cms, cms_parametric, coarse), got 'atlass'",
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
    raw["data"] = {"train": "a.root", "shuffle": True}
    with pytest.raises(SweepConfigError, match=r"s.yaml: data.shuffle is no longer a setting"):
        SweepConfig.from_dict(raw, "s.yaml")


@pytest.mark.parametrize("name", ["sweep.yaml", "gpu_study.yaml"])
def test_the_shipped_sweeps_expand(name: str) -> None:
    points, _ = SweepConfig.from_file(DEMO / name).points(lambda p: 10.0, 10**9)
    assert points


SWEEP = """\
data: {{train: [a.root]}}
base:
  n_heads: 2
{base}
studies:
  sizes:
{study}
"""


def sweep_file(tmp_path: Path, base: str = "", study: str = "") -> Path:
    """A sweep file written as text: yaml.safe_dump would quote 1e-3 and hide the trap."""
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.format(base=base, study=study or "    grid: {d_model: [8]}"))
    return path


def test_a_text_number_in_base_names_file_key_value_and_spelling(tmp_path: Path) -> None:
    # It used to fail deep in the first point with "'<' not supported between ...".
    path = sweep_file(tmp_path, base="  lr: 1e-3")
    with pytest.raises(SweepConfigError) as info:
        SweepConfig.from_file(path)
    assert str(info.value) == (
        f"{path}: base: lr must be a number (float), got '1e-3' "
        "(a string; YAML reads 1e-3 without a decimal point as text: write 1.0e-3)"
    )


def test_a_bad_grid_value_names_the_study_and_the_point(tmp_path: Path) -> None:
    path = sweep_file(tmp_path, study="    grid: {d_model: [8], batch_size: [32, '64']}")
    with pytest.raises(SweepConfigError) as info:
        SweepConfig.from_file(path)
    assert str(info.value) == (
        f"{path}: study 'sizes': point {{'d_model': 8, 'batch_size': '64'}}: batch_size must "
        "be an integer (int), got '64' (a string: write the number without quotes)"
    )


@pytest.mark.parametrize(
    ("study", "message"),
    [
        (
            "    points: [{d_model: 8, epochs: true}]",
            "study 'sizes': point {'d_model': 8, 'epochs': True}: epochs must be an integer (int), got True",
        ),
        (
            "    isoflop: {budgets: [1e9], d_model: [8]}",
            "study 'sizes': isoflop budget must be a number (float), got '1e9' (a string; YAML "
            "reads 1e9 without a decimal point as text: write 1.0e+9)",
        ),
        (
            "    isoflop: {budgets: [-1.0e+9], d_model: [8]}",
            "study 'sizes': isoflop budget must be a positive number of FLOPs, got -1000000000.0",
        ),
        # isoflop shapes are checked without data (the budget's jets need it)
        (
            "    isoflop: {budgets: [1.0e+9], d_model: ['8']}",
            "study 'sizes': point {'d_model': '8', 'max_jets': 1, 'epochs': 1}: d_model must be an integer",
        ),
        (
            "    grid: [8, 16]",
            "study 'sizes': 'grid' must be a mapping of setting -> list of values",
        ),
        ("    isoflop: [1.0e+9]", "study 'sizes': 'isoflop' must be a mapping with budgets"),
    ],
)
def test_bad_study_settings_are_named_before_any_data(
    tmp_path: Path, study: str, message: str
) -> None:
    path = sweep_file(tmp_path, study=study)
    with pytest.raises(SweepConfigError) as info:
        SweepConfig.from_file(path)  # no data, no tokens_per_jet: checked at once
    assert str(info.value).startswith(f"{path}: {message}")
