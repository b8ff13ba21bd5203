"""Exact parameter and FLOP counts of a tagger configuration (no torch needed).

Run: python docs/examples/model_counts.py
"""

from jetscale.nn import ModelConfig, count_parameters, forward_flops
from jetscale.shipped import model_card

# The shipped full21 model's shape, from its model card (width 48, 2 blocks, 80 slots).
card = model_card("full21")
config = ModelConfig.from_dict(card["model"])
counts = count_parameters(config)
assert counts.total == card["parameters"]  # the count is exact
print(f"parameters: {counts.total:,} ({counts.non_embedding:,} non-embedding)")
for n in (16, 80):
    print(f"forward FLOPs of one jet on {n} slots: {forward_flops(config, n):,}")

# A wider model for a scaling study: N grows about as d_model^2 x blocks.
wide = ModelConfig(d_model=256, n_layers=6, n_heads=8, feature_set="full21", max_particles=128)
print(f"d_model=256, 6 blocks: {count_parameters(wide).non_embedding:,} non-embedding parameters")
