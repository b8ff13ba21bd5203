#!/usr/bin/env bash
# The foundation-model demo: pretrain two backbones once, fine-tune them to a new signal and to a
# new detector with 100 to 10,000 labelled jets, against training from scratch.
#   bash analysis_examples/foundation_demo/run.sh      (45-60 minutes on 2 cores, in ./foundation-demo)
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

# (i) a signal the backbones never saw, X(60 GeV) -> bb against QCD; (ii) the ten classes on another detector.
jetscale transfer-study "$HERE/xbb.yaml" --out "$OUT/xbb" --workers 2
jetscale transfer-study "$HERE/coarse.yaml" --out "$OUT/coarse" --workers 2

# What transferred: pretrained, fine-tuned and scratch models layer by layer, on the same X jets.
# (Study run directories end in a hash of their settings.)
FINETUNED=$(echo "$OUT"/xbb/runs/supervised-full-n1000-s1-*)
SCRATCH=$(echo "$OUT"/xbb/runs/scratch-n1000-s1-*)
jetscale cka "$OUT/backbones/supervised" "$FINETUNED" --data "$OUT/data/xbb" --max-jets 2000 --names pretrained fine-tuned --out "$OUT/cka/pretrained-vs-finetuned"
jetscale cka "$FINETUNED" "$SCRATCH" --data "$OUT/data/xbb" --max-jets 2000 --names fine-tuned scratch --out "$OUT/cka/finetuned-vs-scratch"
