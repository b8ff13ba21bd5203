"""Run configurations are typed and strict: every bad value is named with its key (and file)."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

from jetscale.nn import ModelConfig
from jetscale.train.config import ConfigFileError, TrainConfig

ROOT = Path(__file__).resolve().parents[2]
REQUIRED: dict[str, Any] = {"data": ("a.root",), "out": "run"}
MODEL_KEYS = ", ".join(f.name for f in dataclasses.fields(ModelConfig))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # PyYAML reads 1e-3 (no decimal point) as text: it used to fail in a comparison,
        # "'<' not supported between instances of 'str' and 'int'", without the key.
        (
            {"lr": "1e-3"},
            "lr must be a number (float), got '1e-3' (a string; YAML reads 1e-3 without a "
            "decimal point as text: write 1.0e-3)",
        ),
        (
            {"batch_size": "64"},
            "batch_size must be an integer (int), got '64' (a string: write the number without quotes)",
        ),
        ({"epochs": True}, "epochs must be an integer (int), got True (a boolean)"),
        ({"warmup_steps": 10.0}, "warmup_steps must be an integer (int), got 10.0 (a float)"),
        (
            {"max_jets": "all"},
            "max_jets must be an integer (int) or None (null), got 'all' (a string)",
        ),
        ({"val_fraction": None}, "val_fraction must be a number (float), got None"),
        ({"grad_clip": False}, "grad_clip must be a number (float), got False (a boolean)"),
        ({"device": 0}, "device must be a string (str), got 0 (an integer)"),
        ({"data": 3}, "data must be a list of strings, got 3 (an integer)"),
        ({"val_data": ["v.root", 2]}, "val_data must be a list of strings, got ['v.root', 2]"),
        ({"model": "big"}, "model must be a mapping of ModelConfig fields, got 'big'"),
        ({"model": {"d_model": "64"}}, "d_model must be an integer (int), got '64'"),
        ({"model": {"dropout": True}}, "dropout must be a number (float), got True (a boolean)"),
        ({"model": {"feature_set": 21}}, "feature_set must be a string (str), got 21 (an integer)"),
    ],
)
def test_from_dict_names_key_value_and_expected_type(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        TrainConfig.from_dict({**REQUIRED, **change})


def test_every_construction_path_is_checked() -> None:
    # The dataclass constructors themselves check: sweeps and the API build them directly.
    with pytest.raises(ValueError, match=r"^batch_size must be an integer \(int\), got '64'"):
        TrainConfig(data=("a",), out="o", batch_size="64")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^n_layers must be an integer \(int\), got True"):
        ModelConfig(n_layers=True)
    # Numbers where numbers belong still work, an int for a float included.
    config = TrainConfig.from_dict({**REQUIRED, "lr": 1, "model": {"dropout": 0}})
    assert config.lr == 1 and config.model.dropout == 0
    # A list of paths becomes the tuple a frozen config needs.
    assert TrainConfig(data=["a", "b"], out="o").data == ("a", "b")  # type: ignore[arg-type]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "string_lr.toml",
            'data = ["a.root"]\nout = "run"\nlr = "1e-3"\n',
            "lr must be a number (float), got '1e-3' (a string; YAML reads",
        ),
        (
            "bool_epochs.toml",
            'data = ["a.root"]\nout = "run"\nepochs = true\n',
            "epochs must be an integer (int), got True (a boolean)",
        ),
        (
            "bad_value.toml",
            'data = ["a.root"]\nout = "run"\nepochs = 0\n',
            "TrainConfig.epochs must be >= 1, got 0",
        ),
        (
            "unknown.toml",
            'data = ["a.root"]\nout = "run"\nlearning_rate = 0.1\n',
            "unknown TrainConfig keys: learning_rate (known: data, out, val_data, model, epochs",
        ),
        (
            "model_key.toml",
            'data = ["a.root"]\nout = "run"\n[model]\nwidth = 3\n',
            f"[model]: unknown ModelConfig keys: width (known: {MODEL_KEYS})",
        ),
        (
            "model_type.toml",
            'data = ["a.root"]\nout = "run"\n[model]\nd_model = "48"\n',
            "[model]: d_model must be an integer (int), got '48'",
        ),
        (
            "model_value.toml",
            'data = ["a.root"]\nout = "run"\n[model]\nd_model = 12\nn_heads = 8\n',
            "[model]: d_model=12 is not divisible by n_heads=8",
        ),
        (
            "model_scalar.toml",
            'data = ["a.root"]\nout = "run"\nmodel = 3\n',
            "[model] must be a table of ModelConfig fields, got 3",
        ),
        ("broken.toml", "lr = = 1\n", "cannot parse config (Invalid value"),
        (
            "model_list.json",
            '{"data": ["a.root"], "out": "run", "model": [16]}',
            "model must be a table of ModelConfig fields, got [16]",
        ),
        ("list.json", '["a.root"]', "a config file is a mapping of TrainConfig fields"),
        ("broken.json", '{"lr": 0.1,', "cannot parse config (Expecting"),
    ],
)
def test_every_config_file_error_names_the_file(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigFileError) as info:
        TrainConfig.from_file(path)
    assert str(info.value).startswith(f"{path}: {message}")
    assert isinstance(info.value, ValueError)  # the CLI's one-line error, exit code 2


def test_unreadable_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigFileError, match=r"missing.toml: cannot read the config file"):
        TrainConfig.from_file(missing)
    binary = write(tmp_path, "binary.json", "")
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigFileError, match=r"binary.json: cannot read the config file"):
        TrainConfig.from_file(binary)


def test_cli_reports_a_bad_config_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jetscale.cli import main

    path = write(tmp_path, "run.toml", 'data = ["a.root"]\nout = "run"\nbatch_size = "64"\n')
    assert main(["train", "--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert error == (
        f"jetscale train: error: {path}: batch_size must be an integer (int), got '64' "
        "(a string: write the number without quotes)\n"
    )


@pytest.mark.parametrize("recipe", sorted((ROOT / "recipes").rglob("*.toml")), ids=lambda p: p.name)
def test_the_shipped_recipes_load(recipe: Path) -> None:
    config = TrainConfig.from_file(recipe, data=["a.root"], out="run")
    raw = tomllib.loads(recipe.read_text())
    model = raw.pop("model")
    assert {k: getattr(config, k) for k in raw} == raw
    assert {k: getattr(config.model, k) for k in model} == model


def test_a_saved_config_json_reads_back(tmp_path: Path) -> None:
    config = TrainConfig.from_dict(
        {**REQUIRED, "val_data": ["v.root"], "max_jets": 100, "model": {"d_model": 16}}
    )
    path = write(tmp_path, "config.json", json.dumps(config.to_dict()))
    assert TrainConfig.from_file(path) == config
