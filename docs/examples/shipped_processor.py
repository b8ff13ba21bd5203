"""The shipped NanoAOD tagger processor: selection, tagging and histograms in one.

Run from the repository root: python docs/examples/shipped_processor.py
"""

import sys
import warnings

from coffea.nanoevents import NanoAODSchema

from jetscale.processors import NanoAODTaggerProcessor
from jetscale.runner import run_fileset


def main():
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="coffea")
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/nanoaod/nano_tt_v15.root"
    out = run_fileset(
        {"ttbar": [path]},
        NanoAODTaggerProcessor("kinpid", fmt="nanoaod_v15"),  # pT > 200 GeV, |eta| < 2.4
        treename="Events",
        schema=NanoAODSchema,
        executor="iterative",  # or "futures", "dask" (workers=4 or scheduler="tcp://host:8786")
    )
    print("jets:", out["jets"], "events:", out["events"], "sum of weights:", out["sumw"])
    top = out["discriminant"][{"dataset": "ttbar", "jet_class": "unlabelled", "signal": "Tbqq"}]
    print(f"top vs QCD > 0.9: {top[0.9j:].sum().value:.0f} of {top.sum().value:.0f} weighted jets")


if __name__ == "__main__":  # "futures" and "dask" start processes that import this file
    main()
