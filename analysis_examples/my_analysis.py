"""Use jetscale's tagger inside *your own* coffea processor on NanoAOD.

The processor below is what an analysis adds to its existing code: select AK8
jets, map them (with their PF candidates) into jetscale's layout, tag them with
ONNX Runtime, and fill a ``hist`` histogram of soft-drop mass in bins of the
top-versus-QCD discriminant next to the analysis' own histograms.

    python analysis_examples/my_analysis.py ../shared/data/nanoaod/pfnano.root
    python analysis_examples/my_analysis.py FILES... --executor dask --workers 4

The tagger is an attribute of the processor: its ONNX Runtime session is
created lazily in each worker and never pickled, so the processor ships to
futures and dask workers as it is.
"""

from __future__ import annotations

import argparse
from typing import Any

import awkward as ak
import hist
import numpy as np
from coffea import processor
from coffea.nanoevents import NanoAODSchema

from jetscale.inference import OnnxTagger
from jetscale.io.nanoaod import FatJetSelection, fatjets_from_nanoaod, nanoaod_format_of_file
from jetscale.metrics import discriminants


class TopTagAnalysis(processor.ProcessorABC):
    """Soft-drop mass of AK8 jets versus the shipped tagger's top-vs-QCD discriminant."""

    def __init__(self, model: str, fmt: str) -> None:
        self.fmt = fmt
        self.selection = FatJetSelection(min_pt=300.0, max_abs_eta=2.4)
        self.tagger = OnnxTagger(model)

    def process(self, events: Any) -> dict[str, Any]:
        dataset = events.metadata["dataset"]
        jets = fatjets_from_nanoaod(events, self.selection, self.fmt)  # (events, var) jets
        jets = jets[jets.nparticles > 0]
        scores = self.tagger(jets)  # (events, var) records: scores.Tbqq, scores.QCD, ...
        flat = ak.flatten(scores)
        prob = np.stack([ak.to_numpy(flat[c]) for c in self.tagger.class_names], axis=1)
        top_vs_qcd = discriminants(prob, self.tagger.class_names)["Tbqq"]
        weight = np.repeat(
            ak.to_numpy(events.genWeight) if "genWeight" in events.fields else np.ones(len(events)),
            ak.to_numpy(ak.num(jets)),
        )
        h = hist.Hist(
            hist.axis.StrCategory([], name="dataset", growth=True),
            hist.axis.Regular(25, 0, 250, name="sdmass", label=r"$m_{SD}$ [GeV]"),
            hist.axis.Variable([0, 0.5, 0.8, 0.9, 0.95, 1.0], name="top_vs_qcd"),
            storage=hist.storage.Weight(),
        )
        h.fill(
            dataset=dataset,
            sdmass=ak.to_numpy(ak.flatten(jets.sdmass)),
            top_vs_qcd=np.minimum(top_vs_qcd, np.nextafter(1.0, 0.0)),
            weight=weight,
        )
        return {"sdmass_vs_top": h, "jets": {dataset: len(flat)}}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--executor", choices=["iterative", "futures", "dask"], default="iterative")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from jetscale.runner import fileset_from_paths, run_fileset

    fmt = nanoaod_format_of_file(args.files[0])
    model = "full21" if fmt == "pfnano" else "kinpid"  # v15 candidates carry no tracks
    out = run_fileset(
        fileset_from_paths(args.files),
        TopTagAnalysis(model, fmt),
        treename="Events",
        schema=NanoAODSchema,
        executor=args.executor,
        workers=args.workers,
    )
    print(out["sdmass_vs_top"])
    print("jets:", out["jets"], "skipped files:", out["skipped_files"])


if __name__ == "__main__":
    main()
