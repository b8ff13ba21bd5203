"""Build the network a :class:`ModelConfig` describes."""

from __future__ import annotations

from torch import nn

from jetscale.nn.config import ModelConfig
from jetscale.nn.pfn import ParticleFlowNetwork
from jetscale.nn.transformer import JetTransformer


def build_model(config: ModelConfig) -> nn.Module:
    """A :class:`JetTransformer` or, for ``architecture="pfn"``, the particle-flow baseline."""
    if config.architecture == "pfn":
        return ParticleFlowNetwork(config)
    return JetTransformer(config)
