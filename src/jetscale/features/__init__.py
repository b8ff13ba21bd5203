"""Per-constituent feature arrays for taggers: the registry and the builder.

>>> from jetscale.features import build_features
>>> x, mask = build_features(jets, feature_set="full21", max_particles=128)  # doctest: +SKIP
"""

from __future__ import annotations

from jetscale.features.builder import build_features, feature_batches
from jetscale.features.registry import (
    DEFAULT_FEATURE_SET,
    FEATURE_SETS,
    FEATURES,
    FeatureSpec,
    feature_set,
    required_fields,
)

__all__ = [
    "DEFAULT_FEATURE_SET",
    "FEATURES",
    "FEATURE_SETS",
    "FeatureSpec",
    "build_features",
    "feature_batches",
    "feature_set",
    "required_fields",
]
