"""CKA between every layer of two models on the same jets.

Run: python docs/examples/cka_layers.py "jetscale-output/sample/*.root"
(JetClass ROOT or parquet files; globs allowed).
"""

import sys

import torch

from jetscale.nn import ModelConfig, build_model
from jetscale.transfer import compare_models, read_jets_for

# Trained models come from their runs: load_model("runs/pretrained").module
config = ModelConfig(d_model=32, n_layers=2, n_heads=4, feature_set="kin", max_particles=64)
torch.manual_seed(1)
model_a = build_model(config).eval()
torch.manual_seed(2)
model_b = build_model(config).eval()

jets = read_jets_for(sys.argv[1:], [config.feature_set], max_jets=400)  # the same jets for both
itself = compare_models(model_a, model_a, jets, estimator="unbiased", batch_size=100)
print(f"{itself.n_jets} jets, layers: {', '.join(itself.layers_a)}")
print(f"model A against itself: {itself.matrix.diagonal().min():.3f} on the diagonal")

other = compare_models(model_a, model_b, jets)  # rows: A's layers, columns: B's
for name, row in zip(other.layers_a, other.matrix, strict=True):
    print(f"{name:>12}: " + " ".join(f"{value:5.2f}" for value in row))
