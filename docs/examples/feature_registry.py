"""List the features of a feature set as the registry declares them.

Run: python docs/examples/feature_registry.py
"""

from jetscale.features import FEATURE_SETS, FEATURES

for name, features in FEATURE_SETS.items():
    print(f"{name}: {len(features)} features")
for name in FEATURE_SETS["kin"]:
    spec = FEATURES[name]
    print(f"{name:16s} {spec.formula}")
