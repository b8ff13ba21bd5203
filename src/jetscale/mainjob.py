"""The main job behind ``jetscale run``: sample, feature arrays, histograms, plots.

On a fresh machine with no data it generates a small JetClass-format sample
from Pythia (reused on the next run when the same configuration is asked for),
builds the feature arrays, fills ``hist`` histograms of jet observables and
features per class, writes them to ROOT, and draws mplhep plots.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import awkward as ak
import hist
import numpy as np

from jetscale.arrays import write_feature_file
from jetscale.io import QualityReport, expand_paths, read_jets
from jetscale.io.atomic import atomic_path
from jetscale.plotting import (
    feature_histograms,
    jet_histograms,
    plot_per_class,
    write_histograms_root,
)
from jetscale.schema import CLASS_NAMES

log = logging.getLogger(__name__)

#: Signal classes whose one-vs-QCD discriminant the main job histograms.
SCORED = ("Hbb", "Wqq", "Zqq", "Tbqq")
LOG_SCALE = {"feature_part_d0", "feature_part_d0err", "feature_part_isPhoton"} | {
    f"score_{name}_vs_QCD" for name in SCORED
}


@dataclasses.dataclass
class MainJobConfig:
    """The embedded default: every class, a few hundred jets each, CMS-like card."""

    out: Path = Path("jetscale-output")
    data: list[str] | None = None  # existing JetClass/parquet files; None: generate
    jets_per_class: int = 150
    detector: str = "cms"
    seed: int = 1
    workers: int = 2
    feature_set: str = "full21"
    max_particles: int = 128
    experiment: str = "CMS"


def run_main_job(config: MainJobConfig) -> dict[str, object]:
    """Run the main job; returns (and writes to ``summary.json``) what it did."""
    start = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    inputs, generation = _inputs(config, out)

    report = QualityReport()
    feature_dir = out / "features"
    feature_dir.mkdir(exist_ok=True)
    feature_files = []
    for path in inputs:
        target = feature_dir / f"{path.stem}_{config.feature_set}.npz"
        written, n_jets = write_feature_file(
            path, target, config.feature_set, config.max_particles, report
        )
        feature_files.append({"file": str(written), "jets": n_jets})

    jets = read_jets(inputs)
    histograms = jet_histograms(jets)
    for entry in feature_files:
        with np.load(str(entry["file"])) as npz:
            for name, h in feature_histograms(
                npz["x"], npz["mask"], npz["label"], config.feature_set
            ).items():
                histograms[name] = histograms[name] + h if name in histograms else h
    tagger = _score(jets, histograms)
    root_file = write_histograms_root(out / "histograms.root", histograms)
    plots = []
    for name, h in histograms.items():
        plots += plot_per_class(
            h, out / "plots", name, experiment=config.experiment, log=name in LOG_SCALE
        )

    labels = ak.to_numpy(jets["label"])
    summary: dict[str, object] = {
        "inputs": [str(p) for p in inputs],
        "generation": generation,
        "jets": len(jets),
        "jets_per_class": {
            CLASS_NAMES[i]: int((labels == i).sum()) for i in range(len(CLASS_NAMES))
        },
        "feature_set": config.feature_set,
        "max_particles": config.max_particles,
        "feature_files": feature_files,
        "histograms": str(root_file),
        "plots": [str(p) for p in plots],
        "quality": report.summary(),
        "tagger": tagger,
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary


def _score(jets: ak.Array, histograms: dict[str, hist.Hist]) -> dict[str, object]:
    """Tag every jet with the shipped full21 model; add discriminant histograms per class."""
    from jetscale.scoring import score_jets
    from jetscale.train.metrics import one_vs_qcd_aucs

    prob = score_jets(jets, "full21")
    labels = ak.to_numpy(jets["label"])
    class_of = np.asarray(CLASS_NAMES, dtype=object)[np.maximum(labels, 0)]
    qcd = prob[:, CLASS_NAMES.index("QCD")]
    for name in SCORED:
        p = prob[:, CLASS_NAMES.index(name)]
        h: hist.Hist = hist.Hist(
            hist.axis.StrCategory(list(CLASS_NAMES), name="jet_class", label="Jet class"),
            hist.axis.Regular(
                50, 0.0, 1.0, name="score", label=f"$p_{{{name}}}/(p_{{{name}}}+p_{{QCD}})$"
            ),
        )
        h.fill(jet_class=class_of[labels >= 0], score=(p / np.maximum(p + qcd, 1e-30))[labels >= 0])
        histograms[f"score_{name}_vs_QCD"] = h
    aucs = one_vs_qcd_aucs(prob, labels) if (labels >= 0).any() else {}
    return {"model": "full21 (shipped)", "auc_vs_qcd": {k: round(v, 4) for k, v in aucs.items()}}


def _inputs(config: MainJobConfig, out: Path) -> tuple[list[Path], dict[str, object] | None]:
    if config.data:
        return expand_paths(config.data), None
    from jetscale.generate import generate

    sample = out / "sample"
    stamp = sample / "config.json"
    wanted = {
        "jets_per_class": config.jets_per_class,
        "detector": config.detector,
        "seed": config.seed,
    }
    expected = [sample / f"{c}_{config.detector}_s{config.seed}.root" for c in CLASS_NAMES]
    if (
        stamp.exists()
        and json.loads(stamp.read_text()) == wanted
        and all(p.exists() for p in expected)
    ):
        log.info("reusing the generated sample in %s", sample)
        return expected, {"reused": str(sample)}
    summary = generate(
        sample,
        list(CLASS_NAMES),
        config.jets_per_class,
        config.detector,
        config.seed,
        config.workers,
    )
    with atomic_path(stamp) as tmp:
        tmp.write_text(json.dumps(wanted))
    info: dict[str, object] = {
        "wall_time_s": round(summary.wall_time_s, 1),
        "jets_per_second": round(summary.jets_per_second, 2),
        "jets_per_second_per_worker": {
            k: round(v, 2) for k, v in summary.jets_per_second_per_worker.items()
        },
    }
    return [Path(p) for p in summary.files], info
