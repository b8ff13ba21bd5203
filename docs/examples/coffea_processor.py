"""Your own coffea processor with jetscale's tagger, on a PFNano file.

Run from the repository root: python docs/examples/coffea_processor.py
"""

import awkward as ak
import hist
from coffea import processor
from coffea.nanoevents import NanoAODSchema

from jetscale.inference import OnnxTagger
from jetscale.io import FatJetSelection, fatjets_from_nanoaod
from jetscale.metrics import discriminant
from jetscale.runner import run_fileset


class TopTagAnalysis(processor.ProcessorABC):
    def __init__(self):
        self.tagger = OnnxTagger("full21")  # a shipped model, or "path/model.onnx"

    def process(self, events):
        jets = fatjets_from_nanoaod(events, FatJetSelection(min_pt=300), "pfnano")
        jets = jets[jets.nparticles > 0]  # jets without PF candidates get no score
        scores = self.tagger(jets)  # (events, var) records, one field per class
        top_vs_qcd = ak.flatten(discriminant(scores.Tbqq, scores.QCD))  # Tbqq / (Tbqq + QCD)
        h = hist.Hist.new.StrCat([], name="dataset", growth=True).Reg(20, 0, 1, name="top_vs_qcd")
        return {"top_vs_qcd": h.Double().fill(events.metadata["dataset"], top_vs_qcd)}

    def postprocess(self, accumulator):
        return accumulator


def main():
    out = run_fileset(
        {"ttbar": ["../shared/data/nanoaod/pfnano.root"]},
        TopTagAnalysis(),
        treename="Events",
        schema=NanoAODSchema,
        executor="iterative",  # or "futures", "dask" (workers=4 or scheduler="tcp://host:8786")
    )
    print(out["top_vs_qcd"], out["skipped_files"])


if __name__ == "__main__":  # "futures" and "dask" start processes that import this file
    main()
