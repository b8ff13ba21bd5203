"""The tagger's configuration: everything needed to rebuild the network, nothing else."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from jetscale._fields import check_fields
from jetscale.features.registry import FEATURE_SETS
from jetscale.schema import CLASS_NAMES


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shape of a :class:`~jetscale.nn.JetTransformer` (saved in every checkpoint)."""

    d_model: int = 128  # width of every particle token
    n_layers: int = 4  # particle self-attention blocks
    n_heads: int = 8  # attention heads (d_model must divide evenly)
    ff_ratio: int = 4  # feed-forward hidden width = ff_ratio * d_model
    n_class_layers: int = 2  # class-attention blocks (CaiT-style readout)
    dropout: float = 0.0  # on attention weights and residual branches
    n_classes: int = len(CLASS_NAMES)
    feature_set: str = "full21"  # which registry set the inputs are
    max_particles: int = 128  # constituents per jet the model was trained with
    architecture: str = "transformer"  # or "pfn": the particle-flow (Deep Sets) baseline

    def __post_init__(self) -> None:
        check_fields(self)  # types first: a string "64" would fail below without its key
        if self.feature_set not in FEATURE_SETS:
            msg = f"unknown feature set {self.feature_set!r}; known: {', '.join(FEATURE_SETS)}"
            raise ValueError(msg)
        for name in ("d_model", "n_layers", "n_heads", "ff_ratio", "n_classes", "max_particles"):
            if getattr(self, name) < 1:
                msg = f"ModelConfig.{name} must be >= 1, got {getattr(self, name)}"
                raise ValueError(msg)
        if self.architecture not in ("transformer", "pfn"):
            msg = f"unknown architecture {self.architecture!r}; choose 'transformer' or 'pfn'"
            raise ValueError(msg)
        if self.n_class_layers < 1:
            msg = f"ModelConfig.n_class_layers must be >= 1, got {self.n_class_layers}"
            raise ValueError(msg)
        if self.d_model % self.n_heads:
            msg = f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}"
            raise ValueError(msg)
        if not 0.0 <= self.dropout < 1.0:
            msg = f"dropout must be in [0, 1), got {self.dropout}"
            raise ValueError(msg)

    @property
    def n_features(self) -> int:
        return len(FEATURE_SETS[self.feature_set])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            msg = f"unknown ModelConfig keys: {', '.join(unknown)} (known: {', '.join(known)})"
            raise ValueError(msg)
        return cls(**data)
