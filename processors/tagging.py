"""What the tagging processors share: tag a chunk's jets and fill the tagger histograms.

Kept apart from the processors so the JetClass and NanoAOD processors differ
only in how they read jets, and a user's own processor can call
:func:`tag_and_fill` on jets it selected itself.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from jetscale.histograms.tagger import fill_tagger_histograms, tagger_histograms
from jetscale.inference import OnnxTagger
from jetscale.io.quality import QualityReport


def tag_and_fill(
    tagger: OnnxTagger,
    jets: ak.Array,
    dataset: str,
    jet_class: np.ndarray,
    weight: np.ndarray | None = None,
    pt: np.ndarray | None = None,
    sdmass: np.ndarray | None = None,
) -> dict[str, Any]:
    """Tag flat eager ``jets`` and return the filled histograms plus the jet count.

    ``pt`` and ``sdmass`` (GeV) default to the jets' own fields. Jets without
    constituents get no score (NaN from the tagger); they are counted under
    ``untagged_jets`` and left out of the histograms.
    """
    histograms = tagger_histograms(tagger.class_names)
    prob = (
        np.stack([ak.to_numpy(column) for column in ak.unzip(tagger(jets))], axis=1)
        if len(jets)
        else np.zeros((0, len(tagger.class_names)), np.float32)
    )
    tagged = ~np.isnan(prob).any(axis=1)
    fill_tagger_histograms(
        histograms,
        dataset,
        jet_class[tagged],
        prob[tagged],
        tagger.class_names,
        pt=(ak.to_numpy(jets["pt"]) if pt is None else pt)[tagged],
        sdmass=(ak.to_numpy(jets["sdmass"]) if sdmass is None else sdmass)[tagged],
        weight=None if weight is None else weight[tagged],
    )
    out: dict[str, Any] = dict(histograms)
    out["jets"] = {dataset: int(tagged.sum())}
    out["untagged_jets"] = {dataset: int((~tagged).sum())}
    return out


def empty_tagger_output(class_names: Any, dataset: str, jets: ak.Array) -> dict[str, Any]:
    """The output of an untagged pass: empty tagger histograms, only the jet count."""
    out: dict[str, Any] = dict(tagger_histograms(class_names))
    out["jets"] = {dataset: len(jets)}
    out["untagged_jets"] = {dataset: len(jets)}
    return out


def quality_counts(report: QualityReport, dataset: str) -> dict[str, dict[str, int]]:
    """The counts of :func:`jetscale.io.clean_jets`, as an accumulator (adds across chunks)."""
    return {
        dataset: {
            "jets_read": report.jets_read,
            "jets_dropped": report.jets_dropped,
            "constituents_read": report.constituents_read,
            "constituents_dropped": report.constituents_dropped,
        }
    }
