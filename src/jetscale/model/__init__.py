"""The set-Transformer jet tagger: config, torch module, exact parameter and FLOP counts.

Needs the ``ml`` extra (torch). Install ``torch==2.13.0`` first on CPU-only machines.
"""

from __future__ import annotations

from jetscale.model.config import ModelConfig
from jetscale.model.counting import count_parameters, forward_flops
from jetscale.model.factory import build_model
from jetscale.model.pfn import ParticleFlowNetwork
from jetscale.model.transformer import JetTransformer

__all__ = [
    "JetTransformer",
    "ModelConfig",
    "ParticleFlowNetwork",
    "build_model",
    "count_parameters",
    "forward_flops",
]
