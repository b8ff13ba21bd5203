#!/usr/bin/env bash
# Reproduces the shipped default models and their comparison table (results.md, shown in docs/results.md).
#   bash recipes/default_models/run.sh [WORK_DIR]
# Generates 10-class JetClass-format data (CMS card), trains the full21 and kinpid
# Transformers and their particle-flow baselines, exports the Transformers into
# src/jetscale/shipped/, and writes recipes/default_models/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${1:-recipe-output}"
RECIPE=recipes/default_models

[ -d "$WORK/data/train" ] || jetscale generate --out "$WORK/data/train" --classes all --jets-per-class 1800 --detector cms --seed 11 --workers 2
[ -d "$WORK/data/val" ] || jetscale generate --out "$WORK/data/val" --classes all --jets-per-class 300 --detector cms --seed 12 --workers 2

for name in full21 kinpid pfn_full21 pfn_kinpid; do
  jetscale train --config "$RECIPE/$name.toml" --data "$WORK/data/train/*.root" --val-data "$WORK/data/val/*.root" --out "$WORK/runs/$name"
done
for name in full21 kinpid; do
  jetscale export "$WORK/runs/$name" --out "src/jetscale/shipped/$name/model.onnx"
done
python "$RECIPE/summarize.py" "$WORK/runs" > "$RECIPE/results.md"
cat "$RECIPE/results.md"
