"""The demo's study tables as the transfer page shows them (mean over seeds, min-max).

    python analysis_examples/foundation_demo/summarize_studies.py foundation-demo/xbb/results.csv [--metric auc]

Reads a transfer study's ``results.csv`` and prints one Markdown table: a row per
backbone and policy, a column per number of labelled jets, each cell the mean
of ``--metric`` over the seeds with their min-max.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

_ORDER = ("scratch", "supervised", "mpm", "rs3l")
_POLICIES = ("scratch", "full", "linear-probe", "layer-decay")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a transfer study's results.csv")
    parser.add_argument(
        "--metric", default="val_loss", help="a column of results.csv (default: val_loss)"
    )
    args = parser.parse_args()
    with args.results.open(newline="") as file:
        rows = list(csv.DictReader(file))
    cells: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        cells[(row["backbone"], row["policy"])][int(row["n"])].append(float(row[args.metric]))
    sizes = sorted({int(row["n"]) for row in rows})
    print("| backbone, policy | " + " | ".join(f"n = {n:,}" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for backbone, policy in sorted(cells, key=_rank):
        name = "scratch" if policy == "scratch" else f"{backbone}, {policy.replace('-', ' ')}"
        values = cells[(backbone, policy)]
        row = [
            f"{np.mean(values[n]):.3f} ({min(values[n]):.3f}-{max(values[n]):.3f})"
            if values[n]
            else ""
            for n in sizes
        ]
        print(f"| {name} | " + " | ".join(row) + " |")


def _rank(key: tuple[str, str]) -> tuple[int, int, str]:
    backbone, policy = key
    first = _ORDER.index(backbone) if backbone in _ORDER else len(_ORDER)
    second = _POLICIES.index(policy) if policy in _POLICIES else len(_POLICIES)
    return first, second, backbone


if __name__ == "__main__":
    main()
