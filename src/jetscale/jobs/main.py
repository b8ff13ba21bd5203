"""The main job behind ``jetscale run``: sample, feature arrays, histograms, tagging, plots.

On a fresh machine with no data it generates a small JetClass-format sample
from Pythia (reused on the next run when the same configuration is asked for),
builds the feature arrays, fills ``hist`` histograms of jet observables and
features per class, writes them to ROOT, and draws mplhep plots. It then tags
the sample inside coffea with the shipped tagger (``tagging/jetclass/``) and,
when the shared NanoAOD samples are present, tags each of them with the shipped
model that fits its PF candidates (``tagging/<file>/``); a file the tagger
cannot run on is listed in the summary with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

import awkward as ak

from jetscale.features.files import feature_file_name, read_feature_file, write_feature_file
from jetscale.histograms import feature_histograms, jet_histograms, write_histograms_root
from jetscale.io import QualityReport, expand_paths, read_jets
from jetscale.io.atomic import write_json
from jetscale.jobs.tag import TagConfig, run_tag_job, tagging_summary
from jetscale.plotting.per_class import plot_per_class
from jetscale.provenance import provenance
from jetscale.schema import CLASS_NAMES

log = logging.getLogger(__name__)

LOG_SCALE = {"feature_part_d0", "feature_part_d0err", "feature_part_isPhoton"}
#: Where the shared NanoAOD samples sit when the job runs from the repository root.
DEFAULT_NANOAOD_DIR = Path("../shared/data/nanoaod")


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
    experiment: str = "none"  # or CMS, ATLAS, ... (mplhep style and label of the plots)
    label: str = ""  # plot label text: after "<experiment> Simulation", or alone
    nanoaod_dir: Path | None = DEFAULT_NANOAOD_DIR  # tagged when present; None: skip NanoAOD


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
        target = feature_dir / feature_file_name(path, config.feature_set)
        written, n_jets = write_feature_file(
            path, target, config.feature_set, config.max_particles, report
        )
        feature_files.append({"file": str(written), "jets": n_jets})

    jets = read_jets(inputs)
    histograms = jet_histograms(jets)
    for entry in feature_files:
        arrays = read_feature_file(str(entry["file"]))
        for name, h in feature_histograms(
            arrays["x"], arrays["mask"], arrays["label"], config.feature_set
        ).items():
            histograms[name] = histograms[name] + h if name in histograms else h
    tagging = _tag(config, inputs, out / "tagging")
    root_file = write_histograms_root(out / "histograms.root", histograms)
    plots = []
    for name, h in histograms.items():
        plots += plot_per_class(
            h,
            out / "plots",
            name,
            experiment=config.experiment,
            label=config.label,
            log=name in LOG_SCALE,
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
        "tagging": tagging,
        "wall_time_s": round(time.perf_counter() - start, 1),
        "provenance": provenance(seeds={"generator": config.seed} if not config.data else {}),
    }
    write_json(out / "summary.json", summary)
    return summary


def _tag(config: MainJobConfig, inputs: list[Path], out: Path) -> dict[str, object]:
    """Tag the sample (one dataset) and each NanoAOD file inside coffea; AUCs from histograms."""
    result: dict[str, object] = {}
    sample = run_tag_job(
        TagConfig(
            files=[str(p) for p in inputs],
            out=out / "jetclass",
            experiment=config.experiment,
            label=config.label,
            status=False,
            datasets={"sample": [str(p) for p in inputs]},
        )
    )
    aucs = tagging_summary(sample["accumulator"])["auc_vs_qcd"]["sample"]
    result["jetclass"] = {
        "model": sample["model"],
        "auc_vs_qcd": aucs,
        "jets": sample["accumulator"]["jets"],
        "outputs": str(out / "jetclass"),
    }
    nanoaod_dir = config.nanoaod_dir
    if nanoaod_dir is None or not Path(nanoaod_dir).is_dir():
        result["nanoaod"] = f"not tagged: no NanoAOD directory at {nanoaod_dir}"
        return result
    nanoaod: dict[str, object] = {}
    for path in sorted(Path(nanoaod_dir).glob("*.root")):
        try:
            tagged = run_tag_job(
                TagConfig(
                    files=[str(path)],
                    out=out / path.stem,
                    experiment=config.experiment,
                    label=config.label,
                    status=False,
                    datasets={path.stem: [str(path)]},
                )
            )
        except ValueError as err:  # e.g. no PF candidates: refused with the reason
            log.warning("not tagging %s: %s", path, err)
            nanoaod[path.name] = {"refused": str(err)}
            continue
        accumulator = tagged["accumulator"]
        nanoaod[path.name] = {
            "format": tagged["format"],
            "model": tagged["model"],
            "events": accumulator.get("events", {}),
            "jets": accumulator.get("jets", {}),
            "skipped_files": accumulator.get("skipped_files", {}),
            "outputs": str(out / path.stem),
        }
    result["nanoaod"] = nanoaod
    return result


def _inputs(config: MainJobConfig, out: Path) -> tuple[list[Path], dict[str, object] | None]:
    if config.data:
        return expand_paths(config.data), None
    from jetscale.generate import generate, sample_file_name

    sample = out / "sample"
    stamp = sample / "config.json"
    wanted = {
        "jets_per_class": config.jets_per_class,
        "detector": config.detector,
        "seed": config.seed,
    }
    expected = [sample / sample_file_name(c, config.detector, config.seed) for c in CLASS_NAMES]
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
    write_json(stamp, wanted)
    info: dict[str, object] = {
        "wall_time_s": round(summary.wall_time_s, 1),
        "jets_per_second": round(summary.jets_per_second, 2),
        "jets_per_second_per_worker": {
            k: round(v, 2) for k, v in summary.jets_per_second_per_worker.items()
        },
    }
    return [Path(p) for p in summary.files], info
