"""The ``preprocess.json`` sidecar, generated from the feature registry (never by hand).

Layout follows weaver-core's export: ``input_names``, ``output_names`` and, per
input, ``var_names``, ``var_length`` and ``var_infos`` with ``median``,
``norm_factor``, ``lower_bound``, ``upper_bound``, ``pad`` and
``replace_inf_value``, meaning x' = clip((x - median) * norm_factor, lower, upper).
Unclipped features get +-1e32, as weaver writes them. Extra jetscale keys
(formulas, classes, pad mode) sit under ``"jetscale"`` and are ignored by weaver tools.
"""

from __future__ import annotations

import math
from typing import Any

from jetscale import __version__
from jetscale.features.registry import FEATURE_SETS, FEATURES
from jetscale.schema import CLASS_NAMES

FEATURES_INPUT = "pf_features"  # (N, C, P) float32, weaver's layout
MASK_INPUT = "pf_mask"  # (N, 1, P) float32, 1 for real constituents
OUTPUT = "softmax"  # (N, n_classes) class probabilities
_WEAVER_NO_CLIP = 1e32


def _bound(value: float) -> float:
    return value if math.isfinite(value) else math.copysign(_WEAVER_NO_CLIP, value)


def preprocess_json(
    feature_set: str, max_particles: int, n_classes: int = len(CLASS_NAMES)
) -> dict[str, Any]:
    """The sidecar dictionary for a model on ``feature_set`` with ``max_particles`` slots."""
    names = FEATURE_SETS[feature_set]
    var_infos = {
        name: {
            "median": FEATURES[name].center,
            "norm_factor": FEATURES[name].scale,
            "replace_inf_value": 0.0,
            "lower_bound": _bound(FEATURES[name].lower),
            "upper_bound": _bound(FEATURES[name].upper),
            "pad": FEATURES[name].pad_value,
        }
        for name in names
    }
    mask_info = {
        "median": 0.0,
        "norm_factor": 1.0,
        "replace_inf_value": 0.0,
        "lower_bound": -_WEAVER_NO_CLIP,
        "upper_bound": _WEAVER_NO_CLIP,
        "pad": 0.0,
    }
    return {
        "input_names": [FEATURES_INPUT, MASK_INPUT],
        "output_names": [OUTPUT],
        FEATURES_INPUT: {
            "var_names": list(names),
            "var_infos": var_infos,
            "var_length": max_particles,
        },
        MASK_INPUT: {
            "var_names": ["part_mask"],
            "var_infos": {"part_mask": mask_info},
            "var_length": max_particles,
        },
        "jetscale": {
            "version": __version__,
            "feature_set": feature_set,
            "formulas": {name: FEATURES[name].formula for name in names},
            "class_names": list(CLASS_NAMES[:n_classes]),
            "pad_mode": "constant",
            "layout": {
                "pf_features": "(N, C, P)",
                "pf_mask": "(N, 1, P)",
                "softmax": "(N, n_classes)",
            },
            "ordering": "constituents by descending pT, first var_length kept",
        },
    }
