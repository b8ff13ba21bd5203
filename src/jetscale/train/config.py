"""Everything a training run depends on, saved with every checkpoint and in ``config.json``."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

from jetscale.nn.config import ModelConfig


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

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_every", "chunk_jets", "val_max_jets"):
            if getattr(self, name) < 1:
                msg = f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}"
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
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            msg = f"unknown TrainConfig keys: {', '.join(unknown)}"
            raise ValueError(msg)
        model = data.pop("model", {})
        data["model"] = model if isinstance(model, ModelConfig) else ModelConfig.from_dict(model)
        for key in ("data", "val_data"):
            if key in data:
                value = data[key]
                data[key] = (value,) if isinstance(value, str) else tuple(value)
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """Read a TOML or JSON config file; ``overrides`` (e.g. from the CLI) win."""
        path = Path(path)
        text = path.read_text()
        try:
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
            msg = f"{path}: cannot parse config ({err})"
            raise ValueError(msg) from err
        model = dict(data.pop("model", {}))
        model.update(overrides.pop("model", {}))
        data.update(overrides)
        data["model"] = model
        return cls.from_dict(data)
