"""Tag NanoAOD jets lazily with dask-awkward: only the columns the model reads are loaded.

Run from the repository root: python docs/examples/tag_with_dask.py
"""

import sys
import warnings

import awkward as ak
import dask
import dask_awkward as dak
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from jetscale.inference import OnnxTagger
from jetscale.io import FatJetSelection, fatjets_from_nanoaod
from jetscale.metrics import discriminant


def main():
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="coffea")
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/nanoaod/nano_tt_v15.root"
    events = NanoEventsFactory.from_root(
        {path: "Events"}, schemaclass=NanoAODSchema, mode="dask"
    ).events()
    jets = fatjets_from_nanoaod(events, FatJetSelection(min_pt=200))  # format detected: v15
    tagger = OnnxTagger("kinpid")  # v15 PF candidates carry no impact parameters
    scores = tagger(jets)  # a dask-awkward array: nothing is read yet
    top_vs_qcd = discriminant(scores.Tbqq, scores.QCD)  # Tbqq / (Tbqq + QCD), 0.5 if both are 0

    columns = dak.report_necessary_columns(top_vs_qcd)
    print("columns read:", sorted(c for cols in columns.values() for c in cols))
    (result,) = dask.compute(top_vs_qcd, scheduler="sync")  # or with a distributed Client
    print(f"{len(result)} events, {ak.sum(ak.num(result))} jets; top vs QCD: {ak.flatten(result)}")


if __name__ == "__main__":  # a distributed Client's worker processes import this file
    main()
