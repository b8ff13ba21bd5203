"""Truth classes of NanoAOD fat jets, checked against a plain per-event loop over raw GenPart."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from jetscale import schema
from jetscale.io.nanoaod import FatJetSelection, fatjets_from_nanoaod
from jetscale.io.nanoaod_truth import (
    NO_GENERATOR_RECORD,
    UNMATCHED,
    jet_truth,
    truth_class_names,
    truth_classes,
)

nanoevents = pytest.importorskip("coffea.nanoevents")

pytestmark = pytest.mark.filterwarnings(
    "ignore:Missing cross-reference:RuntimeWarning",
    "ignore:Branch .* already exists:RuntimeWarning",
)

FILES = {"ttbar": ("nano_tt_v15.root", "nanoaod_v15"), "qcd": ("pfnano.root", "pfnano")}
SELECTIONS = {
    "default": FatJetSelection(),
    "every_jet": FatJetSelection(min_pt=0.0, max_abs_eta=math.inf, jet_id="none"),
}
#: The branches the jets and the labels read (all 2,656 of v15 cost seconds per mode).
BRANCHES = ["run", "luminosityBlock", "event", "nFatJet*", "FatJet_*", "*PFCand*", "*GenPart*"]


from nanoaod_truth_reference import GENPART, read_raw, reference_labels, selected_jets  # noqa: E402

# ---------------------------------------------------------------------------


class Sample:
    """One shared file: raw branches for the reference, NanoEvents for the library."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        raw = read_raw(path)
        self.raw: dict[str, np.ndarray] = raw
        self.gen = {f: raw[f"GenPart_{f}"] for f in GENPART}

        self._eager: Any = None

    def events(self, mode: str = "eager", branches: list[str] = BRANCHES) -> Any:
        if mode == "eager" and branches is BRANCHES:
            if self._eager is None:
                self._eager = self.events("eager", list(BRANCHES))
            return self._eager
        if mode == "dask":
            return nanoevents.NanoEventsFactory.from_root(
                {str(self.path): "Events"}, mode="dask", uproot_options={"filter_name": branches}
            ).events()
        return nanoevents.NanoEventsFactory.from_root(
            {str(self.path): "Events"},
            schemaclass=nanoevents.NanoAODSchema,
            mode=mode,
            iteritems_options={"filter_name": branches},
        ).events()


@pytest.fixture(scope="module")
def samples(nanoaod_dir: Path) -> dict[str, Sample]:
    return {name: Sample(nanoaod_dir / file, fmt) for name, (file, fmt) in FILES.items()}


def plain_events(gen: dict[str, np.ndarray]) -> ak.Array:
    """Events as a plain awkward record with a ``GenPart`` collection (no coffea)."""
    counts = [len(x) for x in gen["pdgId"]]
    columns = {f: ak.unflatten(np.concatenate(v), counts) for f, v in gen.items()}
    return ak.zip({"GenPart": ak.zip(columns)}, depth_limit=1)


def plain_jets(jets: list[list[tuple[float, float]]]) -> ak.Array:
    return ak.Array([[{"eta": e, "phi": p} for e, p in event] for event in jets])


def class_counts(labels: Any) -> Counter[str]:
    return Counter(
        truth_class_names(np.asarray(ak.flatten(ak.Array(labels)), dtype=np.int64)).tolist()
    )


@pytest.mark.parametrize("selection", SELECTIONS)
@pytest.mark.parametrize("name", FILES)
def test_classes_match_a_per_event_loop(
    samples: dict[str, Sample], name: str, selection: str
) -> None:
    sample = samples[name]
    events = sample.events()
    jets = fatjets_from_nanoaod(events, SELECTIONS[selection], sample.fmt)
    truth = jet_truth(events, jets)
    got = ak.to_list(truth.truth_class)
    want, n_broken = reference_labels(sample.gen, selected_jets(sample.raw, SELECTIONS[selection]))
    print(
        f"\n{name} ({selection}): library {dict(class_counts(got))}, loop {dict(class_counts(want))}"
    )
    assert ak.sum(truth.broken_genpart) == n_broken == 0
    assert class_counts(got) == class_counts(want)
    assert got == want
    if name == "ttbar":
        assert class_counts(got)["Tbqq"] > 0 and class_counts(got)["Wqq"] > 0
    else:  # QCD dijets: no heavy resonance at all
        assert set(class_counts(got)) == {"QCD"}


def jets_on_resonances(gen: dict[str, np.ndarray]) -> list[list[tuple[float, float]]]:
    """Jets on every top, W and Z copy, plus two 0.5 away in eta and one opposite in phi."""
    jets = []
    for pdg, eta, phi in zip(gen["pdgId"], gen["eta"], gen["phi"], strict=True):
        heavy = np.flatnonzero(np.isin(np.abs(pdg), (6, 23, 24)))
        event = [(float(eta[i]), float(phi[i])) for i in heavy if abs(eta[i]) < 5]
        event += [(e + 0.5, p) for e, p in event[:2]] + [(e, p + math.pi) for e, p in event[:1]]
        jets.append(event)
    return jets


def test_jets_on_every_resonance_match_the_loop(samples: dict[str, Sample]) -> None:
    """Many more decays in reach than the files' fat jets have (their tops are soft)."""
    gen = samples["ttbar"].gen
    jets = jets_on_resonances(gen)
    got = ak.to_list(truth_classes(plain_events(gen), plain_jets(jets)))
    want, _ = reference_labels(gen, jets)
    counts = class_counts(got)
    print(f"\nttbar, jets on resonances: library {dict(counts)}, loop {dict(class_counts(want))}")
    assert got == want
    assert min(counts["Tbqq"], counts["Wqq"], counts["QCD"], counts["unmatched"]) > 3


def test_drell_yan_leptons_make_unmatched_jets(nanoaod_dir: Path) -> None:
    """Z -> e e, mu mu, tau tau (with the Z's recoil copies kept): no class, so unmatched or QCD."""
    with uproot.open(nanoaod_dir / "nano_dy.root") as file:
        gen = file["Events"].arrays([f"GenPart_{f}" for f in GENPART], library="np")
    gen = {f: gen[f"GenPart_{f}"] for f in GENPART}
    jets = jets_on_resonances(gen)
    got = ak.to_list(truth_classes(plain_events(gen), plain_jets(jets)))
    want, _ = reference_labels(gen, jets)
    counts = class_counts(got)
    print(
        f"\nDrell-Yan, jets on resonances: library {dict(counts)}, loop {dict(class_counts(want))}"
    )
    assert got == want
    assert set(counts) == {"QCD", "unmatched"}


def test_eager_virtual_and_dask_agree(samples: dict[str, Sample]) -> None:
    sample = samples["ttbar"]
    eager = truth_classes(sample.events(), fatjets_from_nanoaod(sample.events()))
    virtual_events = sample.events("virtual")
    virtual = truth_classes(virtual_events, fatjets_from_nanoaod(virtual_events))
    dask_events = sample.events("dask")
    lazy = truth_classes(dask_events, fatjets_from_nanoaod(dask_events))
    assert type(lazy).__module__.startswith("dask_awkward")
    assert ak.to_list(virtual) == ak.to_list(eager) == ak.to_list(lazy.compute())


def test_events_without_genpart_are_unlabelled(samples: dict[str, Sample]) -> None:
    sample = samples["ttbar"]
    data_like = sample.events(branches=[b for b in BRANCHES if "GenPart" not in b])
    assert "GenPart" not in ak.fields(data_like)
    jets = fatjets_from_nanoaod(data_like)
    truth = jet_truth(data_like, jets)
    assert ak.all(truth.truth_class == NO_GENERATOR_RECORD)
    assert ak.num(truth.truth_class).tolist() == ak.num(jets).tolist()
    assert not ak.any(truth.broken_genpart)
    assert set(ak.flatten(truth_class_names(truth.truth_class)).tolist()) == {"unlabelled"}


def test_broken_mother_index_makes_the_jet_unmatched_and_counted(
    samples: dict[str, Sample],
) -> None:
    sample = samples["ttbar"]
    jets = selected_jets(sample.raw, SELECTIONS["default"])
    before = ak.to_list(truth_classes(plain_events(sample.gen), plain_jets(jets)))
    event, jet = next((e, j) for e, row in enumerate(before) for j, c in enumerate(row) if c == 8)
    gen = {k: v.copy() for k, v in sample.gen.items()}
    gen["genPartIdxMother"] = gen["genPartIdxMother"].copy()
    gen["genPartIdxMother"][event] = gen["genPartIdxMother"][event].copy()
    # the top's b: a product of the top, with the top's last copy as mother
    mother, pdg = gen["genPartIdxMother"][event], gen["pdgId"][event]
    b = next(
        i
        for i in range(len(pdg))
        if abs(pdg[i]) == 5 and mother[i] >= 0 and abs(pdg[mother[i]]) == 6
    )
    mother[b] = len(pdg) + 40  # out of range
    truth = jet_truth(plain_events(gen), plain_jets(jets))
    after = ak.to_list(truth.truth_class)
    want, n_broken = reference_labels(gen, jets)
    assert after == want
    assert after[event][jet] == UNMATCHED and truth.broken_genpart[event][jet]
    assert ak.sum(truth.broken_genpart) == n_broken >= 1
    changed = {
        (e, j) for e, row in enumerate(after) for j, c in enumerate(row) if c != before[e][j]
    }
    assert (event, jet) in changed and all(e == event for e, _ in changed)


# ---------------------------------------------------------------------------
# Hand-built records: every class, and the rules the shared files cannot show.

LAST, FIRST = 1 << 13, 1 << 12


def decay_event(particles: list[tuple[int, int, float, float]]) -> dict[str, np.ndarray]:
    """One event from ``(pdgId, mother, eta, phi)``; every particle is both first and last copy."""
    pdg, mother, eta, phi = (np.asarray(c) for c in zip(*particles, strict=True))
    flags = np.full(len(pdg), LAST | FIRST, dtype=np.int32)
    return {
        "pdgId": pdg.astype(np.int32),
        "genPartIdxMother": mother.astype(np.int32),
        "statusFlags": flags,
        "eta": eta.astype(np.float32),
        "phi": phi.astype(np.float32),
    }


def collect(events: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {f: np.array([e[f] for e in events] + [None], dtype=object)[:-1] for f in GENPART}


# (name, particles, jets, expected class names)
HAND_BUILT = [
    (
        "Hbb",
        [(25, -1, 0.0, 0.0), (5, 0, 0.2, 0.1), (-5, 0, -0.2, 0.0)],
        [(0.0, 0.0), (0.0, 3.0)],
        ["Hbb", "QCD"],
    ),
    ("Hcc", [(25, -1, 0.0, 0.0), (4, 0, 0.2, 0.1), (-4, 0, -0.2, 0.0)], [(0.0, 0.0)], ["Hcc"]),
    ("Hgg", [(25, -1, 0.0, 0.0), (21, 0, 0.2, 0.1), (21, 0, -0.2, 0.0)], [(0.0, 0.0)], ["Hgg"]),
    (
        "H4q",
        [
            (25, -1, 0.0, 0.0),
            (24, 0, 0.1, 0.1),
            (-24, 0, -0.1, 0.0),
            (1, 1, 0.2, 0.2),
            (-2, 1, 0.1, 0.3),
            (3, 2, -0.2, 0.0),
            (-4, 2, -0.3, -0.1),
        ],
        [(0.0, 0.1)],
        ["H4q"],
    ),
    (
        "Hqql with a neutrino out of the jet",
        [
            (25, -1, 0.0, 0.0),
            (24, 0, 0.1, 0.1),
            (-24, 0, -0.1, 0.0),
            (1, 1, 0.2, 0.2),
            (-2, 1, 0.1, 0.3),
            (13, 2, -0.2, 0.0),
            (-14, 2, -2.0, 2.0),
        ],
        [(0.0, 0.1)],
        ["Hqql"],
    ),
    (
        "H -> Z Z* -> 4q has no class",
        [
            (25, -1, 0.0, 0.0),
            (23, 0, 0.1, 0.1),
            (23, 0, -0.1, 0.0),
            (1, 1, 0.2, 0.2),
            (-1, 1, 0.1, 0.3),
            (3, 2, -0.2, 0.0),
            (-3, 2, -0.3, -0.1),
        ],
        [(0.0, 0.1)],
        ["unmatched"],
    ),
    ("Zqq", [(23, -1, 1.0, 1.0), (1, 0, 1.2, 1.1), (-1, 0, 0.8, 1.0)], [(1.0, 1.0)], ["Zqq"]),
    (
        "Z -> nu nu is invisible: QCD",
        [(23, -1, 1.0, 1.0), (12, 0, 1.2, 1.1), (-12, 0, 0.8, 1.0)],
        [(1.0, 1.0)],
        ["QCD"],
    ),
    (
        "Z -> mu mu: unmatched",
        [(23, -1, 1.0, 1.0), (13, 0, 1.2, 1.1), (-13, 0, 0.8, 1.0)],
        [(1.0, 1.0)],
        ["unmatched"],
    ),
    (
        "Tbqq, never Wqq, and the W alone in a second jet",
        [
            (6, -1, 0.0, 0.0),
            (24, 0, 0.3, 0.0),
            (5, 0, -0.4, 0.0),
            (2, 1, 0.5, 0.2),
            (-1, 1, 0.3, -0.2),
        ],
        [(0.0, 0.0), (0.4, 0.1)],
        ["Tbqq", "Wqq"],
    ),
    (
        "Tbqq with the b outside: the W is Wqq",
        [
            (6, -1, 0.0, 0.0),
            (24, 0, 0.5, 0.0),
            (5, 0, -0.6, 0.0),
            (2, 1, 0.6, 0.2),
            (-1, 1, 0.4, -0.2),
        ],
        [(0.5, 0.0)],
        ["Wqq"],
    ),
    (
        "Tbl",
        [
            (6, -1, 0.0, 0.0),
            (24, 0, 0.3, 0.0),
            (5, 0, -0.4, 0.0),
            (-11, 1, 0.5, 0.2),
            (12, 1, 0.3, -2.2),
        ],
        [(0.0, 0.0)],
        ["Tbl"],
    ),
    (
        "t -> b tau nu: no class",
        [
            (6, -1, 0.0, 0.0),
            (24, 0, 0.3, 0.0),
            (5, 0, -0.4, 0.0),
            (-15, 1, 0.5, 0.2),
            (16, 1, 0.3, -0.2),
        ],
        [(0.0, 0.0)],
        ["unmatched"],
    ),
    (
        "a W and a Z in one jet: the closer one",
        [
            (24, -1, 0.0, 0.0),
            (1, 0, 0.1, 0.0),
            (-2, 0, -0.1, 0.0),
            (23, -1, 0.3, 0.0),
            (3, 3, 0.35, 0.0),
            (-3, 3, 0.25, 0.0),
        ],
        [(0.05, 0.0)],
        ["Wqq"],
    ),
    (
        "one W in two jets: the closer jet",
        [(24, -1, 0.0, 0.0), (1, 0, 0.1, 0.0), (-2, 0, -0.1, 0.0)],
        [(0.3, 0.0), (-0.1, 0.0)],
        ["unmatched", "Wqq"],
    ),
]


@pytest.mark.parametrize(
    ("particles", "jets", "names"), [c[1:] for c in HAND_BUILT], ids=[c[0] for c in HAND_BUILT]
)
def test_hand_built_decays(
    particles: list[Any], jets: list[tuple[float, float]], names: list[str]
) -> None:
    gen = collect([decay_event(particles)])
    got = truth_classes(plain_events(gen), plain_jets([jets]))
    assert truth_class_names(got).tolist() == [names]
    assert ak.to_list(got) == reference_labels(gen, [jets])[0]


def test_copies_are_followed_to_the_last_one() -> None:
    """W -> W (recoil copy) -> q q' inside t: as in the files, the products hang on the last W copy."""
    gen = decay_event(
        [
            (6, -1, 0.0, 0.0),
            (24, 0, 0.3, 0.0),
            (5, 0, -0.4, 0.0),
            (24, 1, 0.3, 0.05),
            (2, 3, 0.5, 0.2),
            (-1, 3, 0.3, -0.2),
            (5, 2, -0.4, 0.01),
            (521, 6, -0.4, 0.02),
        ]
    )
    gen["statusFlags"][1] = FIRST  # first W copy: not the last
    gen["statusFlags"][2] = FIRST  # b: showered into particle 6
    events = collect([gen])
    got = ak.to_list(truth_classes(plain_events(events), plain_jets([[(0.0, 0.0)]])))
    assert (
        got == [[schema.CLASS_NAMES.index("Tbqq")]] == reference_labels(events, [[(0.0, 0.0)]])[0]
    )


def test_edge_cases_empty_events_negative_index_and_typetracer() -> None:
    events = collect(
        [
            decay_event([(24, -1, 0.0, 0.0), (1, 0, 0.1, 0.0), (-2, -7, -0.1, 0.0)]),  # broken: -7
            {
                f: np.zeros(0, dtype=np.float32 if f in ("eta", "phi") else np.int32)
                for f in GENPART
            },
            decay_event([(24, -1, 0.0, 0.0), (1, 0, 0.1, 0.0), (-2, 0, -0.1, 0.0)]),
        ]
    )
    jets = [[(0.0, 0.0), (0.0, 2.0)], [(1.0, 1.0)], []]
    truth = jet_truth(plain_events(events), plain_jets(jets))
    assert ak.to_list(truth.truth_class) == [[UNMATCHED, 0], [0], []]
    assert ak.to_list(truth.broken_genpart) == [[True, False], [False], []]
    assert reference_labels(events, jets) == ([[UNMATCHED, 0], [0], []], 1)

    lazy = jet_truth(
        ak.to_backend(plain_events(events), "typetracer"),
        ak.to_backend(plain_jets(jets), "typetracer"),
    )
    assert ak.backend(lazy) == "typetracer"
    assert lazy.truth_class.type.content.content == truth.truth_class.type.content.content


def test_class_names_and_bad_input() -> None:
    assert truth_class_names(np.array([0, 8, -1, -2])).tolist() == [
        "QCD",
        "Tbqq",
        "unmatched",
        "unlabelled",
    ]
    assert truth_class_names(ak.Array([[7], [], [-1, -2]])).tolist() == [
        ["Wqq"],
        [],
        ["unmatched", "unlabelled"],
    ]
    events = plain_events(collect([decay_event([(24, -1, 0.0, 0.0)])]))
    jets = plain_jets([[(0.0, 0.0)]])
    with pytest.raises(ValueError, match="radius"):
        jet_truth(events, jets, radius=0.0)
    with pytest.raises(ValueError, match="2 events"):
        jet_truth(events, plain_jets([[(0.0, 0.0)], []]))
    without_flags = events.GenPart[["pdgId", "genPartIdxMother", "eta", "phi"]]
    with pytest.raises(ValueError, match="statusFlags"):
        jet_truth(ak.zip({"GenPart": without_flags}, depth_limit=1), jets)
