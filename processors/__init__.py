"""coffea processors shipped with jetscale (installed as ``jetscale.processors``).

Processors are stateless bundles of methods: configuration is fixed at
construction, ``process(events)`` returns a dict of ``hist.Hist`` with a growing
``dataset`` category, so they pickle cheaply to futures and dask workers.
"""

from __future__ import annotations

from jetscale._optional import require

require("coffea", "onnxruntime", extra="tag", purpose="jetscale.processors")

from jetscale.processors.jetclass_features import JetClassFeatureProcessor  # noqa: E402
from jetscale.processors.jetclass_tagger import JetClassTaggerProcessor  # noqa: E402
from jetscale.processors.nanoaod_tagger import NanoAODTaggerProcessor  # noqa: E402
from jetscale.processors.tagging import tag_and_fill  # noqa: E402

__all__ = [
    "JetClassFeatureProcessor",
    "JetClassTaggerProcessor",
    "NanoAODTaggerProcessor",
    "tag_and_fill",
]
