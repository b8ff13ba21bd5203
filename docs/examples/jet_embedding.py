"""Export a tagger with its jet embedding and embed the jets of a file with OnnxTagger.

Run from the repository root: python docs/examples/jet_embedding.py
(it generates 40 Pythia jets and trains a tiny model for a few steps: about 10 s).
"""

import tempfile
from pathlib import Path

import awkward as ak

from jetscale.export import export_run
from jetscale.generate import generate
from jetscale.inference import OnnxTagger
from jetscale.io import read_jets
from jetscale.nn import ModelConfig
from jetscale.train import TrainConfig, train

work = Path(tempfile.mkdtemp(prefix="jetscale-embedding-"))
files = generate(work / "jets", ["QCD", "Tbqq"], 20, seed=3, progress=False).files

# A tiny model trained for a few steps; in practice, the run directory of `jetscale train`.
model = ModelConfig(d_model=16, n_layers=1, n_heads=2, feature_set="kin", max_particles=64)
data = tuple(str(path) for path in files)
train(TrainConfig(data=data, out=str(work / "run"), model=model, batch_size=16, eval_every=2))
# The same as: jetscale export RUN --out model/model.onnx --with-embedding
export_run(work / "run", work / "model" / "model.onnx", with_embedding=True)

jets = read_jets(files)  # (N,) jets; in a processor, the jets of its chunk
tagger = OnnxTagger(work / "model" / "model.onnx")  # build once, keep it on the processor
embedding = ak.to_numpy(tagger.embed(jets))  # (N, 16) float32; NaN rows for empty jets
scores, same = tagger.score_and_embed(jets)  # both from one ONNX Runtime pass per batch

print(f"{len(jets)} jets, embedding {embedding.shape[1]} wide, {embedding.dtype}")
print(f"embed and score_and_embed agree: {(ak.to_numpy(same) == embedding).all()}")
