"""Build the network a :class:`ModelConfig` describes."""

from __future__ import annotations

from torch import nn

from jetscale.model.config import ModelConfig
from jetscale.model.pfn import ParticleFlowNetwork
from jetscale.model.transformer import JetTransformer


def build_model(config: ModelConfig) -> nn.Module:
    """A :class:`JetTransformer` or, for ``architecture="pfn"``, the particle-flow baseline."""
    if config.architecture == "pfn":
        return ParticleFlowNetwork(config)
    return JetTransformer(config)
