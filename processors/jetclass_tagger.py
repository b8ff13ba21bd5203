"""Tag JetClass-format files (``tree``) and fill score histograms per true class.

Run it with ``coffea.processor.Runner(..., schema=BaseSchema)`` and
``treename="tree"``; :func:`jetscale.runner.run_fileset` does that for you.
"""

from __future__ import annotations

import os
from typing import Any

import awkward as ak
from coffea import processor

from jetscale.inference import OnnxTagger
from jetscale.io.jetclass import jets_from_branches, label_branches
from jetscale.io.quality import QualityReport, clean_jets
from jetscale.processors.tagging import quality_counts, tag_and_fill
from jetscale.schema import CONSTITUENT_FIELDS, class_names_of
from jetscale.task import with_other_labels


class JetClassTaggerProcessor(processor.ProcessorABC):
    """Tagger histograms (score, discriminant, pt, mass vs discriminant) of JetClass jets.

    ``model`` is a shipped model name or a ``model.onnx`` path (see
    :class:`jetscale.inference.OnnxTagger`). ``jet_class`` is the true class by the
    tagger's task (a group's name for its jets), or the file's own label for a class
    outside it; unlabelled files fill ``jet_class="unlabelled"``.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "full21",
        threads: int = 1,
        batch_size: int = 512,
    ) -> None:
        self.tagger = OnnxTagger(model, threads=threads, batch_size=batch_size)
        # JetClass files carry every constituent field: this only refuses a model
        # that needs a variable jetscale cannot compute at all.
        self.tagger.check_fields(CONSTITUENT_FIELDS, "JetClass files")

    def process(self, events: Any) -> dict[str, Any]:
        dataset = str(events.metadata.get("dataset", "unknown"))
        source = str(events.metadata.get("filename", dataset))
        # The tagger's classes (groups included), then any other class the file labels.
        truth = with_other_labels(self.tagger.task, label_branches(ak.fields(events)))
        fields = self.tagger.constituent_fields
        jets = jets_from_branches(events, fields, source=source, task=truth)
        report = QualityReport()
        jets = clean_jets(ak.materialize(jets), source, report=report)
        labels = ak.to_numpy(jets["label"])
        jet_class = class_names_of(labels, truth.names)
        out = tag_and_fill(self.tagger, jets, dataset, jet_class)
        out["events"] = {dataset: len(events)}
        out["quality"] = quality_counts(report, dataset)
        return out

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
