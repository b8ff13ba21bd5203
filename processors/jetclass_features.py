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

from jetscale.features import DEFAULT_FEATURE_SET, FEATURE_SETS, build_features
from jetscale.features.registry import reader_fields, resolve_specs
from jetscale.histograms.jets import FEATURE_RANGES, class_axis, feature_axis, observable_axis
from jetscale.io.jetclass import jets_from_branches, label_branches
from jetscale.io.quality import clean_jets
from jetscale.schema import CLASS_NAMES, UNLABELLED, class_names_of
from jetscale.task import JETCLASS, with_other_labels


class JetClassFeatureProcessor(processor.ProcessorABC):
    """Feature arrays and per-class histograms for JetClass-format ``tree`` events."""

    def __init__(self, feature_set: str = DEFAULT_FEATURE_SET, max_particles: int = 128) -> None:
        resolve_specs(feature_set)  # refuses an unknown set, naming the known ones
        self.feature_set = feature_set
        self.max_particles = max_particles

    def _empty_histograms(self) -> dict[str, hist.Hist]:
        def make(axis: hist.axis.Regular | hist.axis.Variable) -> hist.Hist:
            return hist.Hist(
                hist.axis.StrCategory([], name="dataset", growth=True),
                class_axis([*CLASS_NAMES, UNLABELLED]),
                axis,
            )

        out = {f"jet_{name}": make(observable_axis(name)) for name in ("sdmass", "nparticles")}
        names = FEATURE_SETS[self.feature_set]
        for name in FEATURE_RANGES:
            if name in names:
                out[f"feature_{name}"] = make(feature_axis(name))
        return out

    def process(self, events: Any) -> dict[str, Any]:
        dataset = events.metadata.get("dataset", "unknown")
        source = events.metadata.get("filename", dataset)
        fields = None if "part_d0val" in ak.fields(events) else reader_fields(self.feature_set)
        # JetClass's ten classes and any other class the file labels (label_Xbb_m60).
        truth = with_other_labels(JETCLASS, label_branches(ak.fields(events)))
        jets = clean_jets(
            ak.materialize(jets_from_branches(events, fields, source=source, task=truth)),
            str(source),
        )
        out = self._empty_histograms()
        labels = ak.to_numpy(jets["label"])
        class_of = class_names_of(labels, truth.names)
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
