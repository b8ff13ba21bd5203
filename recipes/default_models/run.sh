#!/usr/bin/env bash
# Reproduces the shipped default models and their tables (results.md, shown in docs/results.md).
#   bash recipes/default_models/run.sh [WORK_DIR]
# Generates 10-class JetClass-format jets (CMS card) over 200-2000 GeV in three pT
# windows, trains the full21 and kinpid Transformers, their mass-decorrelated
# variants and particle-flow baselines, exports the Transformers into
# src/jetscale/shipped/, evaluates them per pT bin and for QCD mass sculpting on
# jets of unseen seeds, and writes recipes/default_models/results.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${1:-recipe-output}"
RECIPE=recipes/default_models
WINDOWS="200,500 500,1000 1000,2000"

# name, jets per class and window, seed: training, validation (model selection),
# test (the per-pT-bin table) and a large QCD sample (the sculpting number).
for spec in "train 400 21 all" "val 80 22 all" "test 100 23 all" "qcd 2000 24 QCD"; do
  set -- $spec
  [ -f "$WORK/data/$1.done" ] && continue
  for window in $WINDOWS; do
    jetscale generate --out "$WORK/data/$1" --classes "$4" --jets-per-class "$2" \
      --pt-range "$window" --detector cms --seed "$3" --workers 2
  done
  touch "$WORK/data/$1.done"
done

for name in full21 kinpid full21_md kinpid_md pfn_full21 pfn_kinpid; do
  jetscale train --config "$RECIPE/$name.toml" --data "$WORK/data/train/*.root" \
    --val-data "$WORK/data/val/*.root" --out "$WORK/runs/$name"
done
for name in full21 kinpid full21_md kinpid_md; do
  jetscale export "$WORK/runs/$name" --out "src/jetscale/shipped/$name/model.onnx" --force
done
python "$RECIPE/summarize.py" "$WORK" > "$RECIPE/results.md"
cat "$RECIPE/results.md"
