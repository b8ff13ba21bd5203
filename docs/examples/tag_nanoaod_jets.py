"""Tag the AK8 jets of a NanoAOD file with a shipped model, outside any processor.

Run from the repository root: python docs/examples/tag_nanoaod_jets.py
(it reads the shared sample ../shared/data/nanoaod/pfnano.root, or the file you name).
"""

import sys
import warnings

import awkward as ak
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from jetscale.inference import OnnxTagger
from jetscale.io import FatJetSelection, fatjets_from_nanoaod
from jetscale.metrics import discriminant

# These small samples lack a few cross-reference branches NanoAODSchema looks for.
warnings.filterwarnings("ignore", category=RuntimeWarning, module="coffea")

path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/nanoaod/pfnano.root"
events = NanoEventsFactory.from_root(
    {path: "Events"}, schemaclass=NanoAODSchema, mode="eager"
).events()

jets = fatjets_from_nanoaod(events, FatJetSelection(min_pt=200), "pfnano")  # (events, var)
tagger = OnnxTagger("full21")  # needs track impact parameters: JetClass, PFNano
scores = tagger(jets)  # same nesting as jets, one float32 field per class
top_vs_qcd = discriminant(scores.Tbqq, scores.QCD)  # Tbqq / (Tbqq + QCD), 0.5 if both are 0

print(f"{len(events)} events, {ak.sum(ak.num(jets))} jets")
print("classes:", ", ".join(tagger.class_names))
print("top vs QCD per event:", top_vs_qcd)
