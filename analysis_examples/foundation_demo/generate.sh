#!/usr/bin/env bash
# The foundation-model demo's data (about 7 minutes on 2 cores): Pythia 8 + FastJet jets,
#   bash analysis_examples/foundation_demo/generate.sh [OUT]
# * pretrain: JetClass's ten classes on the CMS card, 1,000 jets each (the backbones' data);
# * xbb:      a new signal, X(60 GeV) -> bb, and QCD on the CMS card, 5,500 each (task (i));
# * coarse:   the ten classes on the coarse card, 1,100 each (task (ii), a new detector);
# * rs3l:     the ten classes re-simulated, 350 groups each of 4 views (two nominal, FSR scale up
#             and down), CMS card: the contrastive (RS3L) backbone's data, about as many jets as pretrain;
# * views:    X(60 GeV) -> bb and QCD, 500 groups each of 6 views (nominal twice, FSR up and down,
#             hadronisation pT up, the coarse card): the fine-tuned taggers' robustness.
# Re-running it keeps finished work units.
set -euo pipefail
OUT="${1:-foundation-demo}"
jetscale generate --classes all --jets-per-class 1000 --detector cms --seed 41 --workers 2 --out "$OUT/data/pretrain"
jetscale generate --classes Xbb_m60,QCD --jets-per-class 5500 --detector cms --seed 42 --workers 2 --out "$OUT/data/xbb"
jetscale generate --classes all --jets-per-class 1100 --detector coarse --seed 43 --workers 2 --out "$OUT/data/coarse"
jetscale generate --classes all --jets-per-class 350 --detector cms --seed 44 --workers 2 --out "$OUT/data/rs3l" \
  --resimulate 4 --variations nominal,nominal,fsr_up,fsr_down
jetscale generate --classes Xbb_m60,QCD --jets-per-class 500 --detector cms --seed 45 --workers 2 --out "$OUT/data/views" \
  --resimulate 6 --variations nominal,nominal,fsr_up,fsr_down,hadronisation_pt_up,detector=coarse
