"""The shipped JetClass processors in a coffea Runner: feature histograms and tagging.

Run: python docs/examples/jetclass_processors.py "jetscale-output/sample/*.root"
"""

import sys

from coffea import processor
from coffea.nanoevents import BaseSchema

from jetscale.io import expand_paths
from jetscale.processors import JetClassFeatureProcessor, JetClassTaggerProcessor


def main():
    files = [str(path) for path in expand_paths(sys.argv[1:])]  # paths, globs, directories
    fileset = {"sample": {"files": dict.fromkeys(files, "tree")}}  # JetClass tree name
    runner = processor.Runner(
        # or processor.FuturesExecutor(workers=4), processor.DaskExecutor(client=client)
        executor=processor.IterativeExecutor(),
        schema=BaseSchema,
        chunksize=50_000,
    )

    features = runner(fileset, processor_instance=JetClassFeatureProcessor(feature_set="full21"))
    print(features["jet_sdmass"])  # hist.Hist with dataset / jet_class / sdmass axes

    tagged = runner(fileset, processor_instance=JetClassTaggerProcessor("full21"))
    score = tagged["discriminant"][{"dataset": "sample", "signal": "Tbqq"}]
    print("jets:", tagged["jets"], "discriminant axes:", [axis.name for axis in score.axes])


if __name__ == "__main__":  # FuturesExecutor and DaskExecutor workers import this file
    main()
