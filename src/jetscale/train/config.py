"""Everything a training run depends on, saved with every checkpoint and in ``config.json``."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jetscale._fields import check_fields
from jetscale.nn.config import ModelConfig
from jetscale.task import parse_task
from jetscale.train.reweight import METHODS as MASS_DECORRELATION_METHODS


class ConfigFileError(ValueError):
    """A run configuration file that cannot be used; the message starts with the file's path."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A training run. Defaults give a small model that trains on a laptop CPU."""

    data: tuple[str, ...]  # training files (paths, globs, directories, .txt lists)
    out: str  # run directory: config.json, metrics.jsonl, checkpoints
    val_data: tuple[str, ...] = ()  # validation files; empty: hold out val_fraction of data
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    epochs: int = 1  # passes over the U unique jets
    max_jets: int | None = None  # U: unique training jets (first U in file order); None = all
    val_fraction: float = 0.1  # used only without val_data: every k-th jet is held out
    val_max_jets: int = 20_000  # validation set size cap (fixed set, evaluated in full)
    batch_size: int = 256
    lr: float = 1e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    warmup_steps: int = 100
    weight_decay: float = 0.05  # decoupled (AdamW); not applied to norms, biases, tokens
    grad_clip: float = 1.0
    seed: int = 1
    eval_every: int = 200  # steps between evaluations (and checkpoints)
    chunk_jets: int = 20_000  # jets read and shuffled together (bounds memory)
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    task: str = (
        "jetclass"  # the classes: label branches or groups (jetscale.task); the head follows
    )
    #: "none", or "flat-pt-msd": weight every class flat in (pT, m_SD) (jetscale.train.reweight)
    mass_decorrelation: str = "none"

    def __post_init__(self) -> None:
        check_fields(self)  # types first: lr = "1e-3" would fail below without its key
        task = parse_task(self.task)
        object.__setattr__(self, "task", task.spec)  # one written form per task
        if not task.is_jetclass and self.model.n_classes != len(task.classes):
            if self.model.n_classes != ModelConfig().n_classes:
                msg = (
                    f"model.n_classes = {self.model.n_classes} but task {task.spec!r} has "
                    f"{len(task.classes)} classes (leave n_classes out: the head follows the task)"
                )
                raise ValueError(msg)
            model = dataclasses.replace(self.model, n_classes=len(task.classes))
            object.__setattr__(self, "model", model)
        for name in ("epochs", "batch_size", "eval_every", "chunk_jets", "val_max_jets"):
            if getattr(self, name) < 1:
                msg = f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}"
                raise ValueError(msg)
        if self.mass_decorrelation not in MASS_DECORRELATION_METHODS:
            msg = (
                f"TrainConfig.mass_decorrelation must be one of "
                f"{', '.join(MASS_DECORRELATION_METHODS)}, got {self.mass_decorrelation!r}"
            )
            raise ValueError(msg)
        if self.max_jets is not None and self.max_jets < 1:
            msg = f"TrainConfig.max_jets must be >= 1, got {self.max_jets}"
            raise ValueError(msg)
        if not self.data:
            msg = "TrainConfig.data is empty: give at least one training file"
            raise ValueError(msg)
        if not 0.0 < self.val_fraction < 1.0:
            msg = f"val_fraction must be in (0, 1), got {self.val_fraction}"
            raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model"] = self.model.to_dict()
        data["data"], data["val_data"] = list(self.data), list(self.val_data)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from plain data: ``model`` a mapping of ModelConfig fields, paths a str or list."""
        data = dict(data)
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            msg = f"unknown TrainConfig keys: {', '.join(unknown)} (known: {', '.join(known)})"
            raise ValueError(msg)
        model = data.pop("model", {})
        if not isinstance(model, ModelConfig | Mapping):
            msg = f"model must be a mapping of ModelConfig fields, got {model!r}"
            raise ValueError(msg)
        data["model"] = model if isinstance(model, ModelConfig) else ModelConfig.from_dict(model)
        for key in ("data", "val_data"):
            if isinstance(data.get(key), str):
                data[key] = (data[key],)  # one path; a list is checked (and made a tuple) as given
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a TOML or JSON config file; ``overrides`` (e.g. from the CLI) win.

        Every problem (unreadable or unparsable file, unknown key, wrong type or
        value, here or in the model table) is a :class:`ConfigFileError` naming ``path``.
        """
        path = Path(path)
        table = "[model]" if path.suffix == ".toml" else "model"
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            msg = f"{path}: cannot read the config file ({err})"
            raise ConfigFileError(msg) from err
        try:
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
            msg = f"{path}: cannot parse config ({err})"
            raise ConfigFileError(msg) from err
        if not isinstance(data, dict):
            msg = f"{path}: a config file is a mapping of TrainConfig fields, got {data!r}"
            raise ConfigFileError(msg)
        model = data.pop("model", {})
        if not isinstance(model, Mapping):
            msg = f"{path}: {table} must be a table of ModelConfig fields, got {model!r}"
            raise ConfigFileError(msg)
        model = {**model, **overrides.pop("model", {})}
        data.update(overrides)
        try:
            data["model"] = ModelConfig.from_dict(model)
        except ValueError as err:
            msg = f"{path}: {table}: {err}"
            raise ConfigFileError(msg) from err
        try:
            return cls.from_dict(data)
        except ValueError as err:
            msg = f"{path}: {err}"
            raise ConfigFileError(msg) from err
