"""Tag the fat jets of CMS NanoAOD (PFNano or NanoAOD v15) inside a coffea Runner.

Run it with ``coffea.processor.Runner(..., schema=NanoAODSchema)`` and
``treename="Events"`` (:func:`jetscale.runner.run_fileset` does that). The
tagger is checked against what the format provides when the processor is
built, so a ``full21`` model on NanoAOD v15 (no track impact parameters) is
refused before any file is opened.

On simulation (events with ``GenPart``) each jet's ``jet_class`` is its truth
class from the generator record (:func:`jetscale.io.nanoaod_truth.jet_truth`,
JetClass's definitions), named by the tagger's task (a group's name for its
classes), so ROC curves and working points come out of NanoAOD simulation;
jets that are neither a matched decay nor QCD are ``"unmatched"``. Data (no
``GenPart``) fills ``"unlabelled"``. ``truth_labels`` counts, per dataset, the
unmatched and unlabelled jets and those made unmatched by a broken mother index.
Events are weighted by ``genWeight`` in simulation (1 in data); ``sumw`` per
dataset is in the output for normalisation.
"""

from __future__ import annotations

import os
from typing import Any

import awkward as ak
import numpy as np
from coffea import processor

from jetscale.inference import OnnxTagger
from jetscale.io.nanoaod import (
    FatJetSelection,
    available_constituent_fields,
    fatjets_from_nanoaod,
    jet_id_available,
)
from jetscale.io.nanoaod_truth import NO_GENERATOR_RECORD, UNMATCHED, UNMATCHED_NAME, jet_truth
from jetscale.io.quality import QualityReport, clean_jets
from jetscale.processors.tagging import (
    empty_tagger_output,
    quality_counts,
    tag_and_fill,
)
from jetscale.schema import CLASS_NAMES, UNLABELLED
from jetscale.task import LABEL_PREFIX, Task, with_other_labels

DEFAULT_SELECTION = FatJetSelection()  # pT > 200 GeV, |eta| < 2.4, tight ID
_FORMAT_NAMES = {"pfnano": "PFNano (FatJetPFCands -> PFCands)", "nanoaod_v15": "NanoAOD v15 PFCand"}


class NanoAODTaggerProcessor(processor.ProcessorABC):
    """Tagger histograms of selected AK8 jets in NanoAOD.

    ``fmt`` is ``"pfnano"`` or ``"nanoaod_v15"`` (see :mod:`jetscale.io.nanoaod`);
    ``selection`` the fat-jet cuts. ``tag=False`` runs the same selection and
    jet histograms without the tagger (for benchmarks and cut-flow checks).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "full21",
        fmt: str = "pfnano",
        selection: FatJetSelection = DEFAULT_SELECTION,
        threads: int = 1,
        batch_size: int = 512,
        tag: bool = True,
    ) -> None:
        self.fmt = fmt
        self.selection = selection
        self.tag = tag
        self.tagger = OnnxTagger(model, threads=threads, batch_size=batch_size)
        self.tagger.check_fields(available_constituent_fields(fmt), _FORMAT_NAMES[fmt])
        names = _truth_names(self.tagger.task)
        #: jet_class of each truth class, indexed by it (-2 and -1 from the end).
        self.truth_names = np.asarray(
            [*(names[c] for c in CLASS_NAMES), UNLABELLED, UNMATCHED_NAME], dtype=object
        )

    def process(self, events: Any) -> dict[str, Any]:
        dataset = str(events.metadata.get("dataset", "unknown"))
        source = str(events.metadata.get("filename", dataset))
        per_event = fatjets_from_nanoaod(events, self.selection, self.fmt)
        truth = jet_truth(events, per_event)
        per_event = ak.with_field(per_event, truth["truth_class"], "truth_class")
        per_event = ak.with_field(per_event, truth["broken_genpart"], "broken_genpart")
        weight_per_event = (
            ak.to_numpy(events.genWeight).astype(np.float64)
            if "genWeight" in ak.fields(events)
            else np.ones(len(events))
        )
        counts = ak.to_numpy(ak.num(per_event, axis=1))
        jets = ak.flatten(per_event, axis=1)
        jets = ak.with_field(jets, np.repeat(weight_per_event, counts), "weight")
        # The constituents add up to the uncorrected jet; the tagger's relative
        # features (pT and E fractions) were trained on jets that are exactly the
        # sum of their constituents, so it sees the raw jet four-momentum.
        scale = jets["pt_raw"] / jets["pt"] if "pt_raw" in ak.fields(jets) else 1.0
        jets = ak.with_field(jets, jets["pt"] * scale, "tagger_pt")
        jets = ak.with_field(jets, jets["energy"] * scale, "tagger_energy")
        report = QualityReport()
        jets = clean_jets(ak.materialize(jets), source, report=report)
        if self.tag:
            tagger_input = ak.zip(
                {
                    "pt": jets["tagger_pt"],
                    "energy": jets["tagger_energy"],
                    "constituents": jets["constituents"],
                },
                depth_limit=1,
            )
            jet_class = self.truth_names[ak.to_numpy(jets["truth_class"]).astype(np.int64)]
            out = tag_and_fill(
                self.tagger,
                tagger_input,
                dataset,
                jet_class,
                weight=ak.to_numpy(jets["weight"]),
                pt=ak.to_numpy(jets["pt"]),
                sdmass=ak.to_numpy(jets["sdmass"]),
                eta=ak.to_numpy(jets["eta"]),
            )
        else:
            out = empty_tagger_output(self.tagger.class_names, dataset, jets)
        out["events"] = {dataset: len(events)}
        out["sumw"] = {dataset: float(weight_per_event.sum())}
        out["quality"] = quality_counts(report, dataset)
        truth_class = ak.to_numpy(jets["truth_class"])
        out["truth_labels"] = {
            dataset: {
                "unmatched": int((truth_class == UNMATCHED).sum()),
                "unlabelled (no GenPart)": int((truth_class == NO_GENERATOR_RECORD).sum()),
                "broken GenPart mother index": int(ak.sum(jets["broken_genpart"])),
            }
        }
        out["events_without_jet_id"] = {dataset: 0 if jet_id_available(events) else len(events)}
        return out

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


def _truth_names(task: Task) -> dict[str, str]:
    """The name each JetClass class takes under ``task`` (its own name outside the task)."""
    full = with_other_labels(task, [LABEL_PREFIX + c for c in CLASS_NAMES])
    names: dict[str, str] = {}
    for task_class in full.classes:
        for branch in task_class.branches:
            names.setdefault(branch.removeprefix(LABEL_PREFIX), task_class.name)
    return {c: names.get(c, c) for c in CLASS_NAMES}
