"""coffea processors shipped with jetscale (installed as ``jetscale.processors``).

Processors are stateless bundles of methods: configuration is fixed at
construction, ``process(events)`` returns a dict of ``hist.Hist`` with a growing
``dataset`` category, so they pickle cheaply to futures and dask workers.
"""

from __future__ import annotations

try:
    import coffea  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    msg = "jetscale.processors needs coffea: pip install 'jetscale[coffea]'"
    raise ImportError(msg) from err

from jetscale.processors.jetclass_features import JetClassFeatureProcessor
from jetscale.processors.jetclass_tagger import JetClassTaggerProcessor
from jetscale.processors.nanoaod_tagger import NanoAODTaggerProcessor
from jetscale.processors.tagging import tag_and_fill

__all__ = [
    "JetClassFeatureProcessor",
    "JetClassTaggerProcessor",
    "NanoAODTaggerProcessor",
    "tag_and_fill",
]
