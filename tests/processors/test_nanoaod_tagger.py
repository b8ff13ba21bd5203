"""The NanoAOD tagging processor on the shared real files (PFNano and NanoAOD v15)."""

from __future__ import annotations

import pickle
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("coffea")
pytest.importorskip("onnxruntime")
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from jetscale.histograms.tagger import DISCRIMINANT_EDGES
from jetscale.inference import FeatureMismatchError, OnnxTagger
from jetscale.io.nanoaod import FatJetSelection, fatjets_from_nanoaod
from jetscale.processors import NanoAODTaggerProcessor
from jetscale.runner import run_fileset

# The v15 sample makes coffea's NanoAODSchema warn about cross-references it lacks.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

KEYS = ("score", "discriminant", "jet_pt", "sdmass_vs_discriminant")


def run(path: Path, proc: NanoAODTaggerProcessor, executor: str, chunksize: int) -> dict:
    return run_fileset(
        {"sample": [str(path)]},
        proc,
        treename="Events",
        schema=NanoAODSchema,
        executor=executor,
        workers=2,
        chunksize=chunksize,
    )


def direct_discriminant(
    path: Path, fmt: str, model: str, signal: str
) -> tuple[np.ndarray, np.ndarray]:
    """Independent path: eager NanoEvents, the mapping, the tagger, numpy; weights = genWeight."""
    events = NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager"
    ).events()
    per_event = fatjets_from_nanoaod(events, FatJetSelection(), fmt)
    jets = ak.flatten(per_event)
    raw = jets.pt_raw / jets.pt
    tagger_jets = ak.zip(
        {"pt": jets.pt * raw, "energy": jets.energy * raw, "constituents": jets.constituents},
        depth_limit=1,
    )
    prob = OnnxTagger(model)(tagger_jets)
    p, q = ak.to_numpy(prob[signal]).astype(np.float64), ak.to_numpy(prob.QCD).astype(np.float64)
    weight = np.repeat(
        ak.to_numpy(events.genWeight).astype(np.float64), ak.to_numpy(ak.num(per_event))
    )
    return np.minimum(p / (p + q), np.nextafter(1.0, 0.0)), weight


@pytest.mark.slow
def test_pfnano_histograms_match_direct_tagging_for_any_chunking(nanoaod_dir: Path) -> None:
    path = nanoaod_dir / "pfnano.root"
    proc = NanoAODTaggerProcessor("full21", fmt="pfnano")
    reference = run(path, proc, "iterative", 100_000)
    assert reference["events"] == {"sample": 10} and reference["skipped_files"] == {}
    assert reference["jets"] == {"sample": 24}  # 24 AK8 jets pass pT > 200, |eta| < 2.4, tight ID
    d, w = direct_discriminant(path, "pfnano", "full21", "Hbb")
    expected, _ = np.histogram(d, bins=DISCRIMINANT_EDGES, weights=w)
    got = reference["discriminant"][
        {"dataset": "sample", "jet_class": "unlabelled", "signal": "Hbb"}
    ].values()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    for executor, chunksize in (("iterative", 3), ("futures", 4)):
        other = run(path, proc, executor, chunksize)
        for key in KEYS:
            np.testing.assert_array_equal(
                other[key].values(flow=True), reference[key].values(flow=True), err_msg=key
            )
        assert other["jets"] == reference["jets"]


def test_v15_runs_the_kinpid_model_and_refuses_full21(nanoaod_dir: Path) -> None:
    with pytest.raises(FeatureMismatchError, match=r"NanoAOD v15 PFCand.*d0val \(for part_d0\)"):
        NanoAODTaggerProcessor("full21", fmt="nanoaod_v15")
    path = nanoaod_dir / "nano_tt_v15.root"
    out = run(path, NanoAODTaggerProcessor("kinpid", fmt="nanoaod_v15"), "iterative", 100_000)
    assert out["events"] == {"sample": 200} and out["jets"] == {"sample": 42}
    assert out["events_without_jet_id"] == {"sample": 200}  # v15 has no FatJet_jetId
    d, w = direct_discriminant(path, "nanoaod_v15", "kinpid", "Tbqq")
    expected, _ = np.histogram(d, bins=DISCRIMINANT_EDGES, weights=w)
    got = out["discriminant"][
        {"dataset": "sample", "jet_class": "unlabelled", "signal": "Tbqq"}
    ].values()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert out["sumw"]["sample"] == pytest.approx(
        float(
            np.sum(
                NanoEventsFactory.from_root(
                    {str(path): "Events"}, schemaclass=NanoAODSchema, mode="eager"
                )
                .events()
                .genWeight
            )
        )
    )


def test_untagged_pass_and_pickling(nanoaod_dir: Path) -> None:
    proc = NanoAODTaggerProcessor("full21", fmt="pfnano", tag=False)
    clone = pickle.loads(pickle.dumps(proc))
    assert clone.tagger._session is None and clone.selection == proc.selection
    out = run(nanoaod_dir / "pfnano.root", clone, "iterative", 100_000)
    assert out["jets"] == {"sample": 24} and out["discriminant"].sum().value == 0


def test_chunks_without_selected_jets_give_empty_histograms(nanoaod_dir: Path) -> None:
    nothing = FatJetSelection(min_pt=1e6)  # no jet passes: every chunk is empty after selection
    out = run(
        nanoaod_dir / "pfnano.root",
        NanoAODTaggerProcessor("full21", selection=nothing),
        "iterative",
        3,
    )
    assert out["jets"] == {"sample": 0} and out["events"] == {"sample": 10}
    assert all(out[key].sum().value == 0 for key in KEYS)
    assert out["skipped_files"] == {}
