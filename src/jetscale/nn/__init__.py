"""The torch networks: the set-Transformer tagger and a particle-flow baseline.

:class:`ModelConfig` and the exact parameter and FLOP counts need no torch (the
scaling sweeps size their models with them); the networks themselves need the
``ml`` extra (install ``torch==2.13.0`` first on CPU-only machines) and load when
first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jetscale._optional import lazy_attributes
from jetscale.nn.config import ModelConfig
from jetscale.nn.counting import count_parameters, forward_flops, training_flops

if TYPE_CHECKING:  # the lazy names, for type checkers
    from jetscale.nn.factory import build_model
    from jetscale.nn.pfn import ParticleFlowNetwork
    from jetscale.nn.transformer import JetTransformer

#: torch-backed names -> the submodule that defines them (imported on first use).
_NETWORKS = {
    "JetTransformer": "transformer",
    "ParticleFlowNetwork": "pfn",
    "build_model": "factory",
}

__all__ = [
    "JetTransformer",
    "ModelConfig",
    "ParticleFlowNetwork",
    "build_model",
    "count_parameters",
    "forward_flops",
    "training_flops",
]


__getattr__ = lazy_attributes(__name__, _NETWORKS, requires=("torch", "ml"))
