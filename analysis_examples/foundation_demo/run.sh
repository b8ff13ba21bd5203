#!/usr/bin/env bash
# The foundation-model demo: pretrain three backbones once (supervised, masked particle modelling,
# RS3L contrastive on re-simulated views), fine-tune them to a new signal and to a new detector with
# 100 to 10,000 labelled jets, against training from scratch; then the fine-tuned taggers' robustness
# to simulation variations; and linear probes of what each backbone's jet embedding holds.
#   bash analysis_examples/foundation_demo/run.sh      (about an hour on 2 cores, in ./foundation-demo)
# Re-running it skips finished work (generation units, pretraining runs, study points).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT=foundation-demo
bash "$HERE/generate.sh" "$OUT"

# The backbones: the same small set-Transformer, supervised on the ten classes and MPM on the jets alone.
MODEL=(--feature-set full21 --max-particles 64 --d-model 32 --layers 2 --heads 2 --class-layers 1 --ff-ratio 2)
PRETRAIN=(--data "$OUT/data/pretrain" --epochs 6 --batch-size 128 --lr 0.002 --warmup-steps 30 --eval-every 100)
jetscale pretrain --objective supervised "${MODEL[@]}" "${PRETRAIN[@]}" --out "$OUT/backbones/supervised"
jetscale pretrain --objective mpm "${MODEL[@]}" "${PRETRAIN[@]}" --out "$OUT/backbones/mpm"
# RS3L: the same model, contrastive on 4 views of each of 3,500 hard processes (about as many jets),
# every view turned to a random direction; and once on the views as written, for the probes below.
CONTRASTIVE=(--objective contrastive "${MODEL[@]}" --data "$OUT/data/rs3l" --epochs 6 --batch-size 128 --lr 0.002 --warmup-steps 30 --eval-every 100)
jetscale pretrain "${CONTRASTIVE[@]}" --out "$OUT/backbones/rs3l"
jetscale pretrain "${CONTRASTIVE[@]}" --no-random-directions --out "$OUT/backbones/rs3l_fixed_directions"

# What each backbone's jet embedding encodes: linear probes of the class and the kinematics.
python "$HERE/probe_embeddings.py" "$OUT/data/pretrain" "$OUT/probes.md" \
  supervised="$OUT/backbones/supervised" mpm="$OUT/backbones/mpm" rs3l="$OUT/backbones/rs3l" \
  rs3l_fixed_directions="$OUT/backbones/rs3l_fixed_directions"

# (i) a signal the backbones never saw, X(60 GeV) -> bb against QCD; (ii) the ten classes on another detector.
jetscale transfer-study "$HERE/xbb.yaml" --out "$OUT/xbb" --workers 2
jetscale transfer-study "$HERE/coarse.yaml" --out "$OUT/coarse" --workers 2

# What transferred: pretrained, fine-tuned and scratch models layer by layer, on the same X jets.
# (Study run directories end in a hash of their settings.)
FINETUNED=$(echo "$OUT"/xbb/runs/supervised-full-n1000-s1-*)
SCRATCH=$(echo "$OUT"/xbb/runs/scratch-n1000-s1-*)
jetscale cka "$OUT/backbones/supervised" "$FINETUNED" --data "$OUT/data/xbb" --max-jets 2000 --names pretrained fine-tuned --out "$OUT/cka/pretrained-vs-finetuned"
jetscale cka "$FINETUNED" "$SCRATCH" --data "$OUT/data/xbb" --max-jets 2000 --names fine-tuned scratch --out "$OUT/cka/finetuned-vs-scratch"

# Robustness of the task (i) taggers: X and QCD jets re-simulated with FSR, hadronisation and detector
# variations; score shifts against the nominal view of the same hard process (nominal-vs-nominal: the noise).
for N in 1000 10000; do
  for SEED in 1 2 3; do
    for START in scratch supervised-full mpm-full rs3l-full; do
      RUN=$(echo "$OUT"/xbb/runs/$START-n$N-s$SEED-*)
      jetscale robustness "$RUN" --data "$OUT/data/views" --signal Xbb_m60 --no-progress --no-plots \
        --out "$OUT/robustness/${START%-full}-n$N-s$SEED"
    done
  done
done
python "$HERE/summarize_robustness.py" "$OUT/robustness" "$OUT/robustness/summary.md"
