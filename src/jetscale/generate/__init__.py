"""JetClass-format jets from Pythia 8 + FastJet + a parametrised detector card.

``generate(out_dir, classes, jets_per_class, detector="cms", seed=1, workers=1,
pt_range=(500, 1000))`` writes one JetClass ROOT file per class, in this process,
a pool of processes or on dask, and finishes an interrupted run when called
again. The pipeline, one module per step:

* :mod:`.signals` -- class names: JetClass's ten and new signals ``X<decay>_m<mass>``;
* :mod:`.processes` -- Pythia settings per class (13 TeV, pT-hat window, forced decays);
* :mod:`.events` -- Pythia set-up and final-state particles into numpy;
* :mod:`.event_memory` -- the event record read from memory in bulk (the bindings checking it);
* :mod:`.truth` -- resonance decays and DeltaR matching to jets;
* :mod:`.cards` / :mod:`.detector` -- detector cards and the detector response;
* :mod:`.substructure` -- anti-kT clustering, soft drop and N-subjettiness (FastJet);
* :mod:`.jets` -- jets in the window to JetClass records;
* :mod:`.units` -- work units: their seeds and how one runs;
* :mod:`.parallel` -- where units run: this process, a process pool or dask;
* :mod:`.outputs` -- unit files (the restart state) and class files;
* :mod:`.run` -- the driver: units to run, files and the summary.

Needs the ``gen`` extra (``pythia8mc``, ``fastjet``).
"""

from __future__ import annotations

from jetscale.generate.cards import CardError, DetectorCard, available_cards, load_card
from jetscale.generate.run import (
    GenerationIncompleteError,
    GenerationSummary,
    generate,
    generate_class,
    sample_file_name,
)

__all__ = [
    "CardError",
    "DetectorCard",
    "GenerationIncompleteError",
    "GenerationSummary",
    "available_cards",
    "generate",
    "generate_class",
    "load_card",
    "sample_file_name",
]
