"""Print the recipe's tables as Markdown: validation, AUC per pT bin, QCD mass sculpting.

    python recipes/default_models/summarize.py WORK_DIR

* validation: the lowest-val-loss line of each run's metrics.jsonl;
* AUC per pT bin: the exported models (src/jetscale/shipped/) through ONNX Runtime
  on the test jets (seed 23, never seen in training or model selection);
* sculpting: the Jensen-Shannon divergence between the soft-drop mass of QCD jets
  before and after the 1%-efficiency cut on each one-vs-QCD discriminant, on the
  large QCD sample (seed 24), next to the same number for a cut that keeps random
  jets (the finite-sample floor), and the test AUC it costs.

The per-pT-bin AUCs and sculpting numbers also go into each shipped model's card
(``test_evaluation``), so the card carries them wherever the model goes.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import awkward as ak
import numpy as np

from jetscale.inference import OnnxTagger
from jetscale.io import read_jets
from jetscale.io.atomic import write_json
from jetscale.metrics import (
    PT_BIN_EDGES,
    SCULPTING_EFFICIENCY,
    discriminants,
    mass_sculpting,
    one_vs_qcd_aucs,
    one_vs_qcd_aucs_per_pt_bin,
    pt_bin_name,
    random_cut_sculpting,
    signal_classes,
)
from jetscale.nn import ModelConfig, count_parameters
from jetscale.schema import CLASS_NAMES
from jetscale.shipped import shipped_model

RUNS = ("full21", "kinpid", "full21_md", "kinpid_md", "pfn_full21", "pfn_kinpid")
SHIPPED = ("full21", "full21_md", "kinpid", "kinpid_md")
SCULPTING_SIGNALS = ("Tbqq", "Wqq", "Zqq", "Hbb")

work = Path(sys.argv[1])
signals = signal_classes(CLASS_NAMES)


def scores(model: str, paths: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities, labels, pT and m_SD of every jet of ``paths`` under a shipped model."""
    tagger = OnnxTagger(shipped_model(model), threads=2)
    jets = read_jets(sorted(str(p) for p in work.glob(paths)))
    prob = np.stack([ak.to_numpy(c) for c in ak.unzip(tagger(jets))], axis=1)
    return prob, ak.to_numpy(jets.label), ak.to_numpy(jets.pt), ak.to_numpy(jets.sdmass)


print("### Validation (best checkpoint, 2,400 jets of seed 22)\n")
print(
    "| run | features | params | mass decorrelation | val loss | accuracy | "
    + " | ".join(f"AUC {c}" for c in signals)
    + " |"
)
print("|---|---|---|---|---|---|" + "---|" * len(signals))
for name in RUNS:
    path = work / "runs" / name / "metrics.jsonl"
    if not path.exists():
        continue
    lines = [json.loads(x) for x in path.read_text().splitlines() if x]
    best = min(lines, key=lambda line: line["val_loss"])
    config = json.loads((work / "runs" / name / "config.json").read_text())
    model = ModelConfig.from_dict(config["model"])
    kind = "Transformer" if model.architecture == "transformer" else "PFN baseline"
    aucs = " | ".join(f"{best['val_auc'].get(c, float('nan')):.3f}" for c in signals)
    print(
        f"| {name} ({kind}) | {model.feature_set} | {count_parameters(model).total:,} | "
        f"{config.get('mass_decorrelation', 'none')} | {best['val_loss']:.3f} | "
        f"{best['val_accuracy']:.3f} | {aucs} |"
    )

print("\n### AUC per pT bin (shipped models, test jets of seed 23)\n")
print("| model | jet pT [GeV] | jets | " + " | ".join(signals) + " |")
print("|---|---|---|" + "---|" * len(signals))
test = {name: scores(name, "data/test/*.root") for name in SHIPPED}
evaluation: dict[str, dict] = {}
for name, (prob, label, pt, _) in test.items():
    per_bin = one_vs_qcd_aucs_per_pt_bin(prob, label, pt, CLASS_NAMES)
    evaluation[name] = {
        "test_jets": "jetscale generate --pt-range 200,500 / 500,1000 / 1000,2000, seed 23, 100 jets per class and window",
        "auc": one_vs_qcd_aucs(prob, label, CLASS_NAMES),
        "auc_pt_bins": per_bin,
    }
    for low, high in itertools.pairwise(PT_BIN_EDGES):
        key = pt_bin_name(low, high)
        n = int(((pt >= low) & (pt < high)).sum())
        row = " | ".join(f"{per_bin.get(key, {}).get(c, float('nan')):.3f}" for c in signals)
        print(f"| {name} | {key} | {n:,} | {row} |")

print(
    f"\n### QCD mass sculpting at {SCULPTING_EFFICIENCY:.0%} QCD efficiency "
    "(JSD, QCD jets of seed 24) and the AUC it costs (test jets)\n"
)
header = " | ".join(f"JSD {c} | AUC {c}" for c in SCULPTING_SIGNALS)
print(f"| model | QCD jets | {header} |")
print("|---|---|" + "---|---|" * len(SCULPTING_SIGNALS))
floor = None
for name in SHIPPED:
    prob, _, _, msd = scores(name, "data/qcd/*.root")
    d = discriminants(prob, CLASS_NAMES)
    floor = random_cut_sculpting(msd)
    aucs = one_vs_qcd_aucs(test[name][0], test[name][1], CLASS_NAMES)
    jsd = {c: mass_sculpting(d[c], msd) for c in d}
    cells = " | ".join(f"{jsd[c]:.3f} | {aucs[c]:.3f}" for c in SCULPTING_SIGNALS)
    print(f"| {name} | {len(msd):,} | {cells} |")
    evaluation[name]["qcd_mass_sculpting"] = {
        "measure": "Jensen-Shannon divergence (base 2) of QCD m_SD before and after the cut",
        "qcd_background_efficiency": SCULPTING_EFFICIENCY,
        "qcd_jets": "jetscale generate --classes QCD, same windows, seed 24, 2000 jets per window",
        "jsd": jsd,
        "random_cut_jsd": floor,
    }
for name, entry in evaluation.items():
    card_path = shipped_model(name).with_name("model_card.json")
    card = json.loads(card_path.read_text())
    write_json(card_path, {**card, "test_evaluation": entry})
print(
    f"\nA cut keeping {SCULPTING_EFFICIENCY:.0%} of the QCD jets at random gives JSD "
    f"{floor:.3f} on average (the finite-sample floor; mean of 200 random cuts)."
)
