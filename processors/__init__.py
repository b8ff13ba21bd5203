"""coffea processors shipped with jetscale (installed as ``jetscale.processors``).

Processors are stateless bundles of methods: configuration is fixed at
construction, ``process(events)`` returns a dict of ``hist.Hist`` with a growing
``dataset`` category, so they pickle cheaply to futures and dask workers.
"""

from __future__ import annotations

from jetscale.processors.jetclass_features import JetClassFeatureProcessor

__all__ = ["JetClassFeatureProcessor"]
