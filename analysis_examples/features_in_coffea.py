"""Build tagger inputs inside a coffea analysis and plot them per class.

    python analysis_examples/features_in_coffea.py jetscale-output/sample/*.root --workers 2

Runs :class:`jetscale.processors.JetClassFeatureProcessor` over JetClass-format
files with coffea's futures executor, saves the accumulator with
``coffea.util.save``, writes every histogram to ROOT, and draws mplhep plots.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from coffea import processor, util
from coffea.nanoevents import BaseSchema

from jetscale.histograms import write_histograms_root
from jetscale.plotting import plot_per_class
from jetscale.processors import JetClassFeatureProcessor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", type=Path, default=Path("coffea-features"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--feature-set", default="full21")
    args = parser.parse_args()

    fileset = {"generated": {"files": dict.fromkeys(args.files, "tree")}}
    runner = processor.Runner(
        executor=processor.FuturesExecutor(workers=args.workers),
        schema=BaseSchema,
        chunksize=50_000,
    )
    output = runner(
        fileset, processor_instance=JetClassFeatureProcessor(feature_set=args.feature_set)
    )

    args.out.mkdir(parents=True, exist_ok=True)
    util.save(output, args.out / "output.coffea")
    histograms = {k: v[{"dataset": "generated"}] for k, v in output.items() if k != "jets"}
    write_histograms_root(args.out / "histograms.root", histograms)
    for name, h in histograms.items():
        plot_per_class(h, args.out / "plots", name, log=name == "feature_part_d0")
    print(f"{output['jets']} jets; outputs in {args.out}")


if __name__ == "__main__":
    main()
