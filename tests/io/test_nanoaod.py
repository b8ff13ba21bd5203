"""NanoAOD fat jets in the internal layout, checked against per-event loops over the raw branches."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot
import vector

from jetscale import schema
from jetscale.features import build_features
from jetscale.io import JetFileError
from jetscale.io.nanoaod import (
    NANOAOD_FORMATS,
    FatJetSelection,
    available_constituent_fields,
    detect_nanoaod_format,
    fatjets_from_nanoaod,
    jet_id_available,
    nanoaod_format_of_file,
)

nanoevents = pytest.importorskip("coffea.nanoevents")

# coffea's NanoAODSchema warns about cross-references to collections these files (or the
# branch filter below) lack.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Missing cross-reference:RuntimeWarning",
    "ignore:Branch .* already exists:RuntimeWarning",
)

FILES = {"pfnano": "pfnano.root", "nanoaod_v15": "nano_tt_v15.root"}
#: (association table, its candidate index, candidate collection) per format, as in the files.
TABLES = {
    "pfnano": ("FatJetPFCands", "pFCandsIdx", "PFCands"),
    "nanoaod_v15": ("FatJetPFCand", "pfCandIdx", "PFCand"),
}
EVERY_JET = FatJetSelection(min_pt=0.0, max_abs_eta=math.inf, jet_id="none")
#: The branches the mapping reads (and the event IDs coffea insists on): opening
#: nano_tt_v15.root with all its 2,656 branches costs seconds per mode.
BRANCHES = ["run", "luminosityBlock", "event", "nFatJet*", "FatJet_*", "*PFCand*"]
PDG_FLAG = {
    211: "isChargedHadron",
    130: "isNeutralHadron",
    1: "isNeutralHadron",
    22: "isPhoton",
    2: "isPhoton",
    11: "isElectron",
    13: "isMuon",
}
PDG_CHARGE = {211: 1, -211: -1, 11: -1, -11: 1, 13: -1, -13: 1}


class Sample:
    """One real file, opened once: raw branches for the loops and mapped jets per mode."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self.file = uproot.open(path)
        association, _, candidates = TABLES[fmt]
        self.raw = self.file["Events"].arrays(
            filter_name=["FatJet_*", f"{association}_*", f"{candidates}_*"], library="np"
        )
        self._jets: dict[tuple[str, FatJetSelection], ak.Array] = {}

    def events(self, mode: str) -> Any:
        metadata = {"filename": str(self.path)}
        if mode == "dask":  # uproot.dask opens the file itself, once per partition
            return nanoevents.NanoEventsFactory.from_root(
                {str(self.path): "Events"},
                mode="dask",
                metadata=metadata,
                uproot_options={"filter_name": BRANCHES},
            ).events()
        return nanoevents.NanoEventsFactory.from_root(
            self.file,
            treepath="Events",
            mode=mode,
            metadata=metadata,
            iteritems_options={"filter_name": BRANCHES},
        ).events()

    def jets(self, mode: str = "eager", selection: FatJetSelection = EVERY_JET) -> ak.Array:
        key = (mode, selection)
        if key not in self._jets:
            self._jets[key] = fatjets_from_nanoaod(self.events(mode), selection)
        return self._jets[key]


@pytest.fixture(scope="module")
def samples(nanoaod_dir: Path) -> Iterator[dict[str, Sample]]:
    opened = {fmt: Sample(nanoaod_dir / name, fmt) for fmt, name in FILES.items()}
    yield opened
    for sample in opened.values():
        sample.file.close()


def reference_constituents(raw: dict[str, Any], fmt: str) -> list[list[dict[str, np.ndarray]]]:
    """Per event, per fat jet (all of them, in file order): constituent columns from a plain loop."""
    association, index, candidates = TABLES[fmt]
    out = []
    for event in range(len(raw["FatJet_pt"])):
        jet_of_entry = raw[f"{association}_jetIdx"][event]
        cand_of_entry = raw[f"{association}_{index}"][event]
        cand = {
            k.removeprefix(f"{candidates}_"): v[event]
            for k, v in raw.items()
            if k.startswith(f"{candidates}_")
        }
        jets = []
        for jet in range(len(raw["FatJet_pt"][event])):
            rows = [int(c) for j, c in zip(jet_of_entry, cand_of_entry, strict=True) if j == jet]
            if "puppiWeight" in cand:
                rows = [c for c in rows if cand["puppiWeight"][c] > 0]
            columns: dict[str, list[float]] = {f: [] for f in available_constituent_fields(fmt)}
            jet_eta = float(raw["FatJet_eta"][event][jet])
            jet_phi = float(raw["FatJet_phi"][event][jet])
            for c in rows:
                weight = float(cand["puppiWeight"][c]) if "puppiWeight" in cand else 1.0
                pt, mass = float(cand["pt"][c]) * weight, float(cand["mass"][c]) * weight
                eta, phi, pdg = float(cand["eta"][c]), float(cand["phi"][c]), int(cand["pdgId"][c])
                px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
                columns["px"].append(px)
                columns["py"].append(py)
                columns["pz"].append(pz)
                columns["energy"].append(math.sqrt(px**2 + py**2 + pz**2 + mass**2))
                columns["deta"].append(
                    (eta - jet_eta) * (1.0 if jet_eta > 0 else -1.0)
                )  # JetClass sign
                dphi = phi - jet_phi
                columns["dphi"].append(math.atan2(math.sin(dphi), math.cos(dphi)))
                charge = PDG_CHARGE.get(pdg, 0)
                if "charge" in cand:
                    assert int(cand["charge"][c]) == charge, (event, jet, c, pdg)
                columns["charge"].append(charge)
                for flag in schema.CONSTITUENT_INT_FIELDS:
                    columns[flag].append(int(PDG_FLAG.get(abs(pdg)) == flag))
                if fmt == "pfnano":
                    for value, error in (("d0", "d0Err"), ("dz", "dzErr")):
                        has_track = cand[error][c] > 0  # -1 marks "no track details"
                        columns[f"{value}val"].append(10.0 * cand[value][c] if has_track else 0.0)
                        columns[f"{value}err"].append(10.0 * cand[error][c] if has_track else 0.0)
            jets.append({k: np.asarray(v, dtype=np.float64) for k, v in columns.items()})
        out.append(jets)
    return out


def reference_selection(raw: dict[str, Any], selection: FatJetSelection) -> np.ndarray:
    """Flat boolean mask over all fat jets of the file, with NumPy."""
    pt = np.concatenate(raw["FatJet_pt"])
    eta = np.concatenate(raw["FatJet_eta"])
    keep = (pt > selection.min_pt) & (np.abs(eta) < selection.max_abs_eta)
    if "FatJet_jetId" in raw and selection.jet_id != "none":
        bits = {"tight": 2, "loose": 3}[selection.jet_id]
        keep &= (np.concatenate(raw["FatJet_jetId"]) & bits) != 0
    return keep


@pytest.mark.parametrize("fmt", NANOAOD_FORMATS)
def test_constituents_match_a_per_event_loop(samples: dict[str, Sample], fmt: str) -> None:
    sample = samples[fmt]
    jets = sample.jets("eager")
    reference = reference_constituents(sample.raw, fmt)
    assert ak.fields(jets.constituents) == list(available_constituent_fields(fmt))
    assert len(jets) == len(reference)
    for event, (got_jets, want_jets) in enumerate(zip(jets, reference, strict=True)):
        assert len(got_jets) == len(want_jets), event
        for jet, (got, want) in enumerate(zip(got_jets, want_jets, strict=True)):
            assert got.nparticles == len(want["px"]), (event, jet)
            assert got.fatjet_index == jet
            for field, values in want.items():
                np.testing.assert_allclose(
                    ak.to_numpy(got.constituents[field]),
                    values,
                    rtol=1e-6,
                    atol=1e-6,
                    err_msg=f"{event=} {jet=} {field=}",
                )
    dphi = ak.to_numpy(ak.flatten(jets.constituents.dphi, axis=None))
    assert np.all((dphi > -np.pi) & (dphi <= np.pi))


@pytest.mark.parametrize("fmt", NANOAOD_FORMATS)
def test_jet_fields_and_dtypes(samples: dict[str, Sample], fmt: str) -> None:
    raw = samples[fmt].raw
    jets = ak.flatten(samples[fmt].jets("eager"))
    for field, branch in (
        ("pt", "pt"),
        ("eta", "eta"),
        ("phi", "phi"),
        ("mass", "mass"),
        ("sdmass", "msoftdrop"),
        ("tau2", "tau2"),
    ):
        np.testing.assert_array_equal(
            ak.to_numpy(jets[field]), np.concatenate(raw[f"FatJet_{branch}"])
        )
    pt, eta, mass = (
        np.concatenate(raw[f"FatJet_{b}"]).astype(np.float64) for b in ("pt", "eta", "mass")
    )
    energy = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)
    np.testing.assert_allclose(ak.to_numpy(jets.energy), energy, rtol=1e-6)
    assert np.all(ak.to_numpy(jets.label) == -1)
    assert str(ak.type(jets.label).content) == "int32"
    assert str(ak.type(jets.nparticles).content) == "float32"
    for field in schema.CONSTITUENT_FIELDS:
        if field in available_constituent_fields(fmt):
            want = "int32" if field in schema.CONSTITUENT_INT_FIELDS else "float32"
            assert str(ak.type(jets.constituents[field]).content.content) == want, field


@pytest.mark.parametrize("fmt", NANOAOD_FORMATS)
def test_eager_and_virtual_agree(samples: dict[str, Sample], fmt: str) -> None:
    eager = samples[fmt].jets("eager", FatJetSelection())
    virtual = samples[fmt].jets("virtual", FatJetSelection())
    assert eager.type == virtual.type
    assert ak.to_list(virtual) == ak.to_list(eager)


def test_coffea_dask_agrees_with_eager(samples: dict[str, Sample]) -> None:
    """PFNano only: each uproot.dask open of the v15 file parses 2,656 branches (seconds);
    the v15 kernel runs under dask in ``test_dask_partitions_are_independent``."""
    dak = pytest.importorskip("dask_awkward")
    sample = samples["pfnano"]
    lazy = fatjets_from_nanoaod(sample.events("dask"))
    assert isinstance(lazy, dak.Array)
    (columns,) = dak.necessary_columns(lazy).values()  # only the fat-jet branches are read
    assert {"FatJet_pt", "FatJetPFCands_jetIdx", "PFCands_pdgId", "PFCands_puppiWeight"} <= set(
        columns
    )
    assert not any(c.startswith(("Jet_", "Muon_", "Electron_", "GenPart_")) for c in columns)
    eager = sample.jets("eager", FatJetSelection())
    computed = lazy.compute(scheduler="sync")
    assert computed.type == eager.type
    assert ak.to_list(computed) == ak.to_list(eager)


def plain_events(
    sample: Sample, table_transform: Callable[[ak.Array], ak.Array] | None = None
) -> ak.Array:
    """The file's collections as plain awkward records (NanoEvents without coffea's behaviours)."""
    association, _, candidates = TABLES[sample.fmt]
    arrays = sample.file["Events"].arrays(
        filter_name=["FatJet_*", f"{association}_*", f"{candidates}_*"]
    )

    def collection(name: str) -> ak.Array:
        prefix = f"{name}_"
        return ak.zip(
            {f.removeprefix(prefix): arrays[f] for f in arrays.fields if f.startswith(prefix)}
        )

    table = collection(association)
    if table_transform is not None:
        table = table_transform(table)
    return ak.zip(
        {"FatJet": collection("FatJet"), association: table, candidates: collection(candidates)},
        depth_limit=1,
    )


@pytest.mark.parametrize("fmt", NANOAOD_FORMATS)
def test_plain_awkward_events_and_unsorted_tables(samples: dict[str, Sample], fmt: str) -> None:
    sample = samples[fmt]
    jets = fatjets_from_nanoaod(plain_events(sample), EVERY_JET)
    assert ak.to_list(jets) == ak.to_list(sample.jets("eager"))
    # The grouping must not rely on the table being sorted by jetIdx.
    reversed_table = fatjets_from_nanoaod(plain_events(sample, lambda t: t[:, ::-1]), EVERY_JET)
    assert ak.to_list(reversed_table.constituents[:, :, ::-1]) == ak.to_list(jets.constituents)


@pytest.mark.parametrize("fmt", NANOAOD_FORMATS)
def test_dask_partitions_are_independent(samples: dict[str, Sample], fmt: str) -> None:
    dak = pytest.importorskip("dask_awkward")
    events = dak.from_awkward(plain_events(samples[fmt]), npartitions=3)
    lazy = fatjets_from_nanoaod(events, FatJetSelection())
    assert lazy.npartitions == 3
    computed = lazy.compute(scheduler="sync")
    assert ak.to_list(computed) == ak.to_list(samples[fmt].jets("eager", FatJetSelection()))


def test_jet_without_entries_gets_zero_constituents_and_shifts_nothing(
    samples: dict[str, Sample],
) -> None:
    sample = samples["pfnano"]
    full = sample.jets("eager")
    jets = fatjets_from_nanoaod(plain_events(sample, lambda t: t[t.jetIdx != 1]), EVERY_JET)
    assert ak.all(ak.num(jets) == ak.num(full))
    assert ak.all(jets.nparticles[:, 1] == 0)
    assert ak.all(ak.num(jets.constituents[:, 1], axis=1) == 0)
    others = ak.local_index(jets.pt, axis=1) != 1
    assert ak.to_list(jets[others]) == ak.to_list(full[others])
    # The feature builder pads such a jet completely, with an all-False mask.
    x, mask = build_features(ak.flatten(jets), "full21", max_particles=32)
    empty = ak.to_numpy(ak.flatten(jets.nparticles)) == 0
    assert empty.sum() == len(jets) and not mask[empty].any()
    assert np.isfinite(x).all()


def test_nanoaod_v15_forward_jets_without_constituents(samples: dict[str, Sample]) -> None:
    jets = ak.flatten(samples["nanoaod_v15"].jets("eager"))
    empty = ak.to_numpy(jets.nparticles) == 0
    assert empty.sum() == 2  # two jets at |eta| > 3.4 whose candidates v15 does not store
    assert np.all(np.abs(ak.to_numpy(jets.eta[empty])) > 3)
    selected = ak.flatten(samples["nanoaod_v15"].jets("eager", FatJetSelection()))
    assert ak.all(selected.nparticles > 0)  # the default |eta| < 2.4 cut removes them


@pytest.mark.parametrize("fmt", NANOAOD_FORMATS)
@pytest.mark.parametrize(
    "selection",
    [
        FatJetSelection(),
        FatJetSelection(300.0, 1.0, "loose"),
        FatJetSelection(230.0, 2.0, "none"),
        EVERY_JET,
    ],
    ids=["default", "pt300-eta1-loose", "pt230-eta2-none", "every-jet"],
)
def test_selection_matches_numpy(
    samples: dict[str, Sample], fmt: str, selection: FatJetSelection
) -> None:
    sample = samples[fmt]
    keep = reference_selection(sample.raw, selection)
    jets = fatjets_from_nanoaod(sample.events("eager"), selection)
    counts = np.array([len(pt) for pt in sample.raw["FatJet_pt"]])
    expected_index = np.concatenate([np.arange(n) for n in counts])[keep]
    np.testing.assert_array_equal(ak.to_numpy(ak.flatten(jets.fatjet_index)), expected_index)
    np.testing.assert_array_equal(
        ak.to_numpy(ak.flatten(jets.pt)), np.concatenate(sample.raw["FatJet_pt"])[keep]
    )
    event_of_jet = np.repeat(np.arange(len(counts)), counts)
    np.testing.assert_array_equal(
        ak.to_numpy(ak.num(jets)), np.bincount(event_of_jet[keep], minlength=len(counts))
    )
    # Constituents follow their jet through the selection.
    all_jets = sample.jets("eager")
    assert ak.to_list(jets.constituents) == ak.to_list(
        all_jets.constituents[ak.unflatten(keep, counts)]
    )


def test_jet_id_bits_on_modified_ids(samples: dict[str, Sample]) -> None:
    """The real files' jets all have jetId 6, so ID cuts are checked on rewritten bitmasks."""
    events = plain_events(samples["pfnano"])
    ids = ak.values_astype(ak.local_index(events.FatJet.pt) % 8, np.int32)  # every bit pattern
    events = ak.with_field(events, ak.with_field(events.FatJet, ids, "jetId"), "FatJet")
    flat_ids = ak.to_numpy(ak.flatten(ids))
    for jet_id, want in (
        ("tight", (flat_ids & 2) != 0),
        ("loose", (flat_ids & 3) != 0),
        ("none", np.ones_like(flat_ids, bool)),
    ):
        jets = fatjets_from_nanoaod(events, FatJetSelection(0.0, math.inf, jet_id))
        np.testing.assert_array_equal(
            ak.to_numpy(ak.flatten(jets.jetId)), flat_ids[want], err_msg=jet_id
        )


def test_nanoaod_v15_has_no_jet_id_and_applies_none(samples: dict[str, Sample]) -> None:
    sample = samples["nanoaod_v15"]
    events = sample.events("eager")
    assert not jet_id_available(events)
    assert jet_id_available(samples["pfnano"].events("eager"))
    tight = fatjets_from_nanoaod(events, FatJetSelection(jet_id="tight"))
    none = fatjets_from_nanoaod(events, FatJetSelection(jet_id="none"))
    assert ak.to_list(tight) == ak.to_list(none)
    assert ak.all(ak.flatten(tight.jetId) == -1)
    assert ak.sum(ak.num(tight)) == 42


def test_file_without_pf_candidates_is_refused(nanoaod_dir: Path) -> None:
    path = nanoaod_dir / "nano_dy.root"
    events = nanoevents.NanoEventsFactory.from_root(
        {str(path): "Events"}, mode="virtual", metadata={"filename": str(path)}
    ).events()
    for call in (lambda: detect_nanoaod_format(events), lambda: fatjets_from_nanoaod(events)):
        with pytest.raises(JetFileError, match=r"nano_dy\.root: no PF candidates") as info:
            call()
        message = str(info.value)
        assert str(path) in message
        assert "'FatJetPFCands' + 'PFCands' (PFNano)" in message
        assert "'FatJetPFCand' + 'PFCand' (NanoAOD v15)" in message
        assert isinstance(info.value, ValueError)
    with pytest.raises(JetFileError, match=r"^mine\.root: no PF candidates"):
        detect_nanoaod_format(events, source="mine.root")
    with pytest.raises(JetFileError, match=r"'FatJetPFCand', 'PFCand'"):
        fatjets_from_nanoaod(events, fmt="nanoaod_v15")


def test_format_of_file_from_branch_names(nanoaod_dir: Path, tmp_path: Path) -> None:
    for fmt, name in FILES.items():
        assert nanoaod_format_of_file(nanoaod_dir / name) == fmt
    with pytest.raises(JetFileError, match=r"nano_dy\.root: no PF candidates for fat jets"):
        nanoaod_format_of_file(nanoaod_dir / "nano_dy.root")
    not_root = tmp_path / "notes.root"
    not_root.write_text("not a ROOT file")
    with pytest.raises(JetFileError, match=r"notes\.root: cannot read a NanoAOD 'Events' tree"):
        nanoaod_format_of_file(not_root)


def test_format_detection_and_fields(samples: dict[str, Sample]) -> None:
    for fmt, sample in samples.items():
        assert detect_nanoaod_format(sample.events("eager")) == fmt
    assert available_constituent_fields("pfnano") == schema.CONSTITUENT_FIELDS
    v15 = available_constituent_fields("nanoaod_v15")
    assert set(schema.CONSTITUENT_FIELDS) - set(v15) == {"d0val", "d0err", "dzval", "dzerr"}
    with pytest.raises(ValueError, match="unknown NanoAOD format 'nano'"):
        available_constituent_fields("nano")
    with pytest.raises(ValueError, match="jet_id must be"):
        FatJetSelection(jet_id="medium")  # type: ignore[arg-type]
    plain = plain_events(samples["pfnano"])
    broken = ak.with_field(
        plain, plain.PFCands[["pt", "eta", "phi", "mass", "pdgId", "charge"]], "PFCands"
    )
    with pytest.raises(JetFileError, match=r"lacks field 'd0'"):
        detect_nanoaod_format(broken, source="broken.root")


def test_feature_sets_run_on_real_jets(samples: dict[str, Sample]) -> None:
    v15 = ak.flatten(samples["nanoaod_v15"].jets("eager", FatJetSelection()))
    x, mask = build_features(v15, "kinpid")
    assert x.shape == (42, 128, 13) and np.isfinite(x).all()
    np.testing.assert_array_equal(mask.sum(axis=1), np.minimum(ak.to_numpy(v15.nparticles), 128))
    with pytest.raises(ValueError, match="d0val"):
        build_features(v15, "full21")
    pfnano = ak.flatten(samples["pfnano"].jets("eager", FatJetSelection()))
    x, mask = build_features(pfnano, "full21")
    assert x.shape == (24, 128, 21) and np.isfinite(x).all()
    np.testing.assert_array_equal(mask.sum(axis=1), ak.to_numpy(pfnano.nparticles))


@pytest.mark.parametrize("fmt", NANOAOD_FORMATS)
def test_constituents_add_up_to_the_uncorrected_puppi_jet(
    samples: dict[str, Sample], fmt: str
) -> None:
    """PUPPI weights applied once: the constituents add up to the raw jet within 0.5 %."""
    jets = ak.flatten(samples[fmt].jets("eager", FatJetSelection()))
    c = jets.constituents
    total = vector.zip(
        {
            f: ak.sum(c[g], axis=1)
            for f, g in (("px", "px"), ("py", "py"), ("pz", "pz"), ("E", "energy"))
        }
    )
    raw_fraction = ak.to_numpy(jets.pt_raw / jets.pt)
    np.testing.assert_allclose(ak.to_numpy(total.pt), ak.to_numpy(jets.pt_raw), rtol=5e-3)
    np.testing.assert_allclose(
        ak.to_numpy(total.mass), ak.to_numpy(jets.mass) * raw_fraction, rtol=5e-3
    )
