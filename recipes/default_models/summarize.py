"""Print the comparison table of the recipe's runs (the lowest-val-loss line of each metrics.jsonl) as Markdown."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jetscale.metrics import signal_classes
from jetscale.nn import ModelConfig, count_parameters
from jetscale.schema import CLASS_NAMES

runs = Path(sys.argv[1])
signal = signal_classes(CLASS_NAMES)
print(
    "| model | features | params | val loss | accuracy | "
    + " | ".join(f"AUC {c}" for c in signal)
    + " |"
)
print("|---|---|---|---|---|" + "---|" * len(signal))
for name in ("full21", "pfn_full21", "kinpid", "pfn_kinpid"):
    path = runs / name / "metrics.jsonl"
    if not path.exists():
        continue
    lines = [json.loads(x) for x in path.read_text().splitlines() if x]
    best = min(lines, key=lambda line: line["val_loss"])
    model = ModelConfig.from_dict(json.loads((runs / name / "config.json").read_text())["model"])
    kind = "Transformer" if model.architecture == "transformer" else "PFN baseline"
    aucs = " | ".join(f"{best['val_auc'].get(c, float('nan')):.3f}" for c in signal)
    print(
        f"| {kind} | {model.feature_set} | {count_parameters(model).total:,} | {best['val_loss']:.3f} | "
        f"{best['val_accuracy']:.3f} | {aucs} |"
    )
