"""The fine-tuned taggers' variation sensitivity, one table for the demo's results.

    python analysis_examples/foundation_demo/summarize_robustness.py foundation-demo/robustness OUT.md

Reads ``<model>-n<N>-s<seed>/robustness.json`` (what ``run.sh`` writes with
``jetscale robustness``) and writes a Markdown table: per starting point and
number of labelled jets, the mean over seeds (and the spread of the seeds, as
min-max) of the mean |score shift| of X and QCD jets and of the AUC change, for
every variation, the nominal re-simulation noise first.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from jetscale.io.atomic import write_text

_RUN = re.compile(r"(?P<model>.+)-n(?P<n>\d+)-s(?P<seed>\d+)$")
_ORDER = ("scratch", "supervised", "mpm", "rs3l")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the demo's robustness folder")
    parser.add_argument("out", type=Path, help="the Markdown table to write")
    args = parser.parse_args()
    values: dict[tuple[str, int, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    variations: list[str] = []
    for path in sorted(args.folder.glob("*/robustness.json")):
        match = _RUN.match(path.parent.name)
        if match is None:
            continue
        result = json.loads(path.read_text())
        for entry in result["variations"]:
            name = entry["variation"]
            if name not in variations:
                variations.append(name)
            cell = values[(match["model"], int(match["n"]), name)]
            cell["signal"].append(entry["signal"]["mean_abs"])
            cell["background"].append(entry["background"]["mean_abs"])
            cell["auc"].append(entry["auc"]["delta"])
            cell["auc_reference"].append(entry["auc"]["reference"])
    if not values:
        msg = f"no <model>-n<N>-s<seed>/robustness.json under {args.folder}"
        raise SystemExit(msg)
    models = sorted(
        {k[0] for k in values}, key=lambda m: (_ORDER.index(m) if m in _ORDER else 99, m)
    )
    sizes = sorted({k[1] for k in values})
    lines = [
        "| start | n | AUC (nominal) | " + " | ".join(variations) + " |",
        "|---|---|---|" + "---|" * len(variations),
    ]
    for n in sizes:
        for model in models:
            cells = [values.get((model, n, v)) for v in variations]
            if not any(cells):
                continue
            reference = next(c for c in cells if c)["auc_reference"]
            row = [model, f"{n:,}", f"{np.mean(reference):.3f}"]
            row += [
                "" if c is None else
                f"{_mean(c['signal'])} / {_mean(c['background'])} / {np.mean(c['auc']):+.3f}"
                for c in cells
            ]  # fmt: skip
            lines.append("| " + " | ".join(row) + " |")
    header = (
        "Each cell: mean |score shift| of X jets / of QCD jets / AUC change, against the "
        "nominal view of the same group; means over seeds (min-max of the seeds in brackets).\n\n"
    )
    write_text(args.out, header + "\n".join(lines) + "\n")
    print(header + "\n".join(lines))


def _mean(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})"


if __name__ == "__main__":
    main()
