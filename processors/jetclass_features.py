"""A coffea processor that builds tagger inputs for JetClass-format files.

It maps the ``tree`` branches into jetscale's jet layout, builds the feature
arrays with :func:`jetscale.features.build_features`, and fills per-class
histograms of jet observables and of the standardized features, so an analysis
can look at exactly what a tagger will see. Run it with
``coffea.processor.Runner(..., schema=BaseSchema)`` and ``treename="tree"``.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np
from coffea import processor

from jetscale.features import FEATURE_SETS, build_features
from jetscale.features.registry import reader_fields
from jetscale.histograms.jets import FEATURE_RANGES
from jetscale.io.jetclass import jets_from_branches
from jetscale.io.quality import clean_jets
from jetscale.schema import CLASS_NAMES, class_names_of


class JetClassFeatureProcessor(processor.ProcessorABC):
    """Feature arrays and per-class histograms for JetClass-format ``tree`` events."""

    def __init__(self, feature_set: str = "full21", max_particles: int = 128) -> None:
        if feature_set not in FEATURE_SETS:
            msg = f"unknown feature set {feature_set!r}; known sets: {', '.join(FEATURE_SETS)}"
            raise ValueError(msg)
        self.feature_set = feature_set
        self.max_particles = max_particles

    def _empty_histograms(self) -> dict[str, hist.Hist]:
        def make(name: str, label: str, bins: int, low: float, high: float) -> hist.Hist:
            return hist.Hist(
                hist.axis.StrCategory([], name="dataset", growth=True),
                hist.axis.StrCategory([*CLASS_NAMES, "unlabelled"], name="jet_class"),
                hist.axis.Regular(bins, low, high, name=name, label=label),
            )

        out = {
            "jet_sdmass": make("sdmass", r"Soft-drop mass $m_{SD}$ [GeV]", 50, 0, 250),
            "jet_nparticles": make("nparticles", "Number of constituents", 50, 0, 150),
        }
        names = FEATURE_SETS[self.feature_set]
        for name, (label, low, high) in FEATURE_RANGES.items():
            if name in names:
                out[f"feature_{name}"] = make(name, label, 50, low, high)
        return out

    def process(self, events: Any) -> dict[str, Any]:
        dataset = events.metadata.get("dataset", "unknown")
        source = events.metadata.get("filename", dataset)
        fields = None if "part_d0val" in ak.fields(events) else reader_fields(self.feature_set)
        jets = clean_jets(ak.materialize(jets_from_branches(events, fields)), str(source))
        out = self._empty_histograms()
        labels = ak.to_numpy(jets["label"])
        class_of = class_names_of(labels)
        out["jet_sdmass"].fill(
            dataset=dataset, jet_class=class_of, sdmass=ak.to_numpy(jets["sdmass"])
        )
        out["jet_nparticles"].fill(
            dataset=dataset,
            jet_class=class_of,
            nparticles=ak.to_numpy(ak.num(jets["constituents"])),
        )
        x, mask = build_features(
            jets, feature_set=self.feature_set, max_particles=self.max_particles
        )
        owner = np.broadcast_to(np.arange(len(jets))[:, None], mask.shape)[mask]
        names = FEATURE_SETS[self.feature_set]
        for key, h in out.items():
            if key.startswith("feature_"):
                name = key.removeprefix("feature_")
                h.fill(
                    dataset=dataset,
                    jet_class=class_of[owner],
                    **{name: x[..., names.index(name)][mask]},
                )
        result: dict[str, Any] = dict(out)
        result["jets"] = {dataset: len(jets)}
        return result

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator
