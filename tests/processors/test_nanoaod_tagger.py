"""The NanoAOD tagging processor on the shared real files (PFNano and NanoAOD v15)."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

pytest.importorskip("coffea")
pytest.importorskip("onnxruntime")
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from jetscale.histograms.tagger import DISCRIMINANT_EDGES
from jetscale.inference import FeatureMismatchError, OnnxTagger
from jetscale.io.nanoaod import FatJetSelection, fatjets_from_nanoaod
from jetscale.processors import NanoAODTaggerProcessor
from jetscale.runner import run_fileset
from jetscale.schema import CLASS_NAMES
from nanoaod_truth_reference import GENPART, read_raw, reference_labels, selected_jets

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


def reference_truth(path: Path, selection: FatJetSelection) -> np.ndarray:
    """Truth class name of each selected jet, in processor order, from the plain per-event loop."""
    raw = read_raw(path)
    gen = {f: raw[f"GenPart_{f}"] for f in GENPART}
    labels, _ = reference_labels(gen, selected_jets(raw, selection))
    names = [*CLASS_NAMES, "unlabelled", "unmatched"]  # -2 and -1 from the end
    return np.asarray([names[c] for event in labels for c in event], dtype=object)


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
        {"dataset": "sample", "jet_class": sum, "signal": "Hbb"}
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
    # jet_class is the generator-record truth: the plain per-event loop's, jet by jet.
    truth = reference_truth(path, FatJetSelection())
    assert out["jets_per_class"] == {"sample": dict(Counter(truth))}
    assert Counter(truth) == {"unmatched": 23, "Wqq": 9, "QCD": 7, "Tbqq": 3}
    for name in set(truth):
        chosen = truth == name
        expected, _ = np.histogram(d[chosen], bins=DISCRIMINANT_EDGES, weights=w[chosen])
        got = out["discriminant"][
            {"dataset": "sample", "jet_class": name, "signal": "Tbqq"}
        ].values()
        np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=name)
    assert out["truth_labels"]["sample"] == {
        "unmatched": 23,
        "unlabelled (no GenPart)": 0,
        "broken GenPart mother index": 0,
    }
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


def corrupt_a_basket(source: Path, target: Path, branch: str) -> None:
    """Copy ``source`` with zeros written into the compressed data of ``branch``'s largest basket.

    The file still opens and preprocesses:
    only reading that basket fails (the decompressor rejects it), as with a disk or
    transfer error in one basket of a real file.
    """

    tree = uproot.open(source)["Events"]
    members = tree[branch]
    n = members.num_baskets
    sizes = members.member("fBasketBytes")[:n]
    largest = int(np.argmax(sizes))
    seek, size = int(members.member("fBasketSeek")[largest]), int(sizes[largest])
    data = bytearray(source.read_bytes())
    middle = seek + size // 2  # inside the compressed payload, past the key and block headers
    data[middle : middle + 200] = bytes(200)
    target.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "executor",
    ["iterative", "futures", pytest.param("dask", marks=[pytest.mark.slow, pytest.mark.dask])],
)
def test_a_corrupt_basket_skips_the_file_and_keeps_the_others_unchanged(
    nanoaod_dir: Path, tmp_path: Path, executor: str
) -> None:
    """One corrupt basket in one NanoAOD file once aborted the whole run on every executor
    (cramjam's DecompressionError is no OSError, the only error coffea's skipbadfiles
    skipped). The file is now listed with the reason; the other file's histograms are
    bit-identical to a run without it.
    """
    if executor == "dask":
        pytest.importorskip("distributed")
    good = nanoaod_dir / "pfnano.root"
    bad = tmp_path / "pfnano_corrupt_basket.root"
    corrupt_a_basket(good, bad, "PFCands_pt")
    proc = NanoAODTaggerProcessor("full21", fmt="pfnano")
    fileset = {"good": [str(good)], "bad": [str(bad)]}
    out = run_fileset(
        fileset, proc, treename="Events", schema=NanoAODSchema, executor=executor, workers=2
    )
    reference = run(good, proc, "iterative", 100_000)
    reason = out["skipped_files"][str(bad)]
    assert reason.startswith("failed: ") and reason.endswith(
        "(entries 0-9); 0 of 10 entries processed"
    )
    assert "lzma" in reason.lower()  # the file is LZMA-compressed: the decompressor names it
    assert list(out["skipped_files"]) == [str(bad)]
    assert out["jets"] == {"good": 24}
    for key in KEYS:
        np.testing.assert_array_equal(
            out[key][{"dataset": "good"}].values(flow=True),
            reference[key][{"dataset": "sample"}].values(flow=True),
            err_msg=key,
        )


def test_events_without_genpart_are_unlabelled_and_counted(nanoaod_dir: Path) -> None:
    """Data (no GenPart): every jet ``unlabelled``, counted; never an error deep in awkward."""
    path = nanoaod_dir / "nano_tt_v15.root"
    events = NanoEventsFactory.from_root(
        {str(path): "Events"},
        schemaclass=NanoAODSchema,
        mode="eager",
        iteritems_options={"filter_name": lambda name: "GenPart" not in name},
    ).events()
    assert "GenPart" not in ak.fields(events)
    out = NanoAODTaggerProcessor("kinpid", fmt="nanoaod_v15").process(events)
    assert out["jets_per_class"] == {"unknown": {"unlabelled": 42}}
    assert out["truth_labels"]["unknown"]["unlabelled (no GenPart)"] == 42
    # The shipped model's card states its training range: the jets outside it are counted.
    space = OnnxTagger("kinpid").phase_space
    assert space is not None
    jets = ak.flatten(fatjets_from_nanoaod(events, FatJetSelection(), "nanoaod_v15"))
    pt, eta = ak.to_numpy(jets.pt), ak.to_numpy(jets.eta)
    outside = {
        "pt below": int((pt < space.pt_min).sum()),
        "pt above": int((pt > space.pt_max).sum()),
        "|eta| above": int(
            ((pt >= space.pt_min) & (pt <= space.pt_max) & (np.abs(eta) > space.abs_eta_max)).sum()
        ),
    }
    assert out["outside_training_phase_space"]["unknown"] == {k: v for k, v in outside.items() if v}
    assert sum(outside.values()) > 0  # |eta| up to 2.4 selected, trained to 2.0
