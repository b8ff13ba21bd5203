"""What the tagging processors share: tag a chunk's jets and fill the tagger histograms.

Kept apart from the processors so the JetClass and NanoAOD processors differ
only in how they read jets, and a user's own processor can call
:func:`tag_and_fill` on jets it selected itself.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np

from jetscale.histograms.tagger import fill_tagger_histograms, tagger_histograms
from jetscale.inference import OnnxTagger
from jetscale.io.quality import QualityReport
from jetscale.phase_space import INSIDE, REGIONS


def tag_and_fill(
    tagger: OnnxTagger,
    jets: ak.Array,
    dataset: str,
    jet_class: np.ndarray,
    weight: np.ndarray | None = None,
    pt: np.ndarray | None = None,
    sdmass: np.ndarray | None = None,
    eta: np.ndarray | None = None,
) -> dict[str, Any]:
    """Tag flat eager ``jets`` and return the filled histograms plus the jet count.

    ``pt``, ``sdmass`` (GeV) and ``eta`` default to the jets' own fields. Jets without
    constituents get no score (NaN from the tagger); they are counted under
    ``untagged_jets`` and left out of the histograms; the tagged ones under
    ``jets_per_class`` (unweighted, by true class). The tagged jets are also
    counted by where they lie relative to the model's training phase space
    (``outside_training_phase_space`` and the ``training_phase_space`` histogram;
    see :mod:`jetscale.phase_space`).
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
    names, counts = np.unique(jet_class[tagged].astype(str), return_counts=True)
    out["jets_per_class"] = {dataset: {str(n): int(c) for n, c in zip(names, counts, strict=True)}}
    if eta is None and "eta" in ak.fields(jets):
        eta = ak.to_numpy(jets["eta"])
    out |= phase_space_counts(
        tagger,
        dataset,
        jet_class[tagged],
        (ak.to_numpy(jets["pt"]) if pt is None else pt)[tagged],
        None if eta is None else eta[tagged],
        weight=None if weight is None else weight[tagged],
    )
    return out


#: Region of every jet of a model whose card states no training phase space.
NOT_STATED = "not stated"


def phase_space_counts(
    tagger: OnnxTagger,
    dataset: str,
    jet_class: np.ndarray,
    pt: np.ndarray,
    eta: np.ndarray | None,
    weight: np.ndarray | None = None,
) -> dict[str, Any]:
    """Jets inside and outside the tagger's training phase space: a histogram and counts.

    ``training_phase_space`` is a ``hist`` of (dataset, jet_class, region, pT) and
    ``outside_training_phase_space`` the unweighted count per dataset and region
    (:data:`jetscale.phase_space.REGIONS`, or ``"not stated"`` for every jet of a
    model whose card states no range: older exports, weaver-core models; and for
    jets given without ``eta``).
    """
    regions = (
        tagger.phase_space.regions(pt, eta)
        if tagger.phase_space is not None and eta is not None
        else np.full(len(pt), NOT_STATED, dtype=object)
    )
    histogram = hist.Hist(
        hist.axis.StrCategory([], name="dataset", label="Dataset", growth=True),
        hist.axis.StrCategory([], name="jet_class", label="True jet class", growth=True),
        hist.axis.StrCategory([*REGIONS, NOT_STATED], name="region", label="Training phase space"),
        hist.axis.Regular(80, 0.0, 4000.0, name="pt", label=r"Jet $p_T$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    histogram.fill(
        dataset=dataset,
        jet_class=jet_class,
        region=regions,
        pt=pt,
        weight=np.ones(len(pt)) if weight is None else weight,
    )
    names, counts = np.unique(regions.astype(str), return_counts=True)
    return {
        "training_phase_space": histogram,
        "outside_training_phase_space": {
            dataset: {str(n): int(c) for n, c in zip(names, counts, strict=True) if n != INSIDE}
        },
    }


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
