"""Re-simulated views (``jetscale generate --resimulate K``): fixed hard process, new downstream.

The hard-process checks read Pythia's records directly (the view's own process
record against the generator's), the file checks read what ``generate`` wrote
with uproot, and the matching check recomputes DeltaR by hand.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

pytest.importorskip("pythia8mc")

from jetscale.generate import generate
from jetscale.generate.events import make_pythia
from jetscale.generate.processes import (
    particle_settings,
    process_spec,
    pythia_settings,
)
from jetscale.generate.resimulate import (
    HARD_PROCESS_ONLY,
    VARIATIONS,
    hard_process_feed,
    view_settings,
    view_specs,
)
from jetscale.io.jetclass import iterate_jetclass, read_views

VIEWS = ["nominal", "fsr_up", "detector=coarse"]


@pytest.fixture(scope="module")
def resimulated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ak.Array]:
    out = tmp_path_factory.mktemp("resim")
    summary = generate(
        out, ["Hbb", "QCD"], 25, seed=3, progress=False, resimulate=3, variations=VIEWS
    )
    assert [p.name for p in summary.files] == ["Hbb_cms_s3_rs3.root", "QCD_cms_s3_rs3.root"]
    return {p.name.split("_")[0]: p for p in summary.files}


def _jets(path: object) -> ak.Array:
    return ak.concatenate(list(iterate_jetclass(path, view_fields=True)))


def test_views_read_the_generators_hard_process_exactly() -> None:
    """Each view's process record is the generator's, and the views' records are identical.

    Ids and the outgoing particles' three-momenta are the generator's bit for
    bit; Pythia recomputes the incoming partons from their x and every energy
    from mass and momentum for Les Houches input (last-bit differences), the
    same way in every view.
    """
    spec = process_spec("Tbqq")
    hard = make_pythia([*pythia_settings(spec, 11), *HARD_PROCESS_ONLY])
    views = []
    for k, view in enumerate(view_specs(2, ["nominal", "fsr_down"])):
        feed = hard_process_feed(hard)
        views.append(
            (make_pythia(view_settings(particle_settings(spec), view, 100 + k), feed), feed)
        )
    sizes = []
    for _ in range(5):
        assert hard.next()
        source = hard.process
        expected = [
            (source[i].id(), source[i].px(), source[i].py(), source[i].pz())
            for i in range(3, source.size())
        ]
        four = np.array([[source[i].pz(), source[i].e()] for i in range(3, source.size())])
        records = []
        for pythia, _feed in views:
            assert pythia.next()
            process = pythia.process
            record = [
                (process[i].id(), process[i].px(), process[i].py(), process[i].pz(), process[i].e())
                for i in range(3, process.size())
            ]
            assert [r[0] for r in record] == [e[0] for e in expected]
            assert [r[:4] for r in record[2:]] == expected[2:]  # outgoing: exactly
            np.testing.assert_allclose([r[3:] for r in record], four, rtol=1e-12)
            records.append(record)
            sizes.append(pythia.event.size())
        assert records[0] == records[1]
    # ... and showered independently: the full events differ between the views.
    assert len(set(sizes)) > len(sizes) // 2


def test_views_of_a_group_share_the_hard_object_and_differ_downstream(resimulated) -> None:
    for name, path in resimulated.items():
        jets = _jets(path)
        group = ak.to_numpy(jets.group)
        groups, first, n_views = np.unique(group, return_index=True, return_counts=True)
        assert len(groups) == 25, name  # --jets-per-class counts groups
        assert n_views.max() <= 3
        several = groups[n_views >= 2]
        assert len(several) >= 10, name
        for g in several:
            views = jets[group == g]
            # the hard object's four-momentum is the same in every view ...
            for field in ("hard_pt", "hard_eta", "hard_phi", "hard_mass"):
                values = ak.to_numpy(views[field])
                assert np.all(values == values[0]), (name, g, field)
            # ... the views are distinct, in order, and their constituents differ
            assert ak.to_list(views.view) == sorted(set(ak.to_list(views.view)))
            pts = [tuple(np.round(ak.to_numpy(v.constituents.px), 4)) for v in views]
            assert len(set(pts)) == len(pts), (name, g)
        # groups hold different hard processes
        assert len(np.unique(ak.to_numpy(jets.hard_pt)[first])) == len(groups)


def test_qcd_views_are_matched_to_the_hard_parton(resimulated) -> None:
    """Each QCD jet lies within DeltaR 0.8 of its group's hard parton (computed by hand)."""
    jets = _jets(resimulated["QCD"])
    deta = ak.to_numpy(jets.eta) - ak.to_numpy(jets.hard_eta)
    dphi = np.angle(np.exp(1j * (ak.to_numpy(jets.phi) - ak.to_numpy(jets.hard_phi))))
    assert np.all(np.hypot(deta, dphi) < 0.8)
    pt = ak.to_numpy(jets.pt)
    assert np.all((pt > 500) & (pt < 1000))


def test_the_file_names_its_views_and_counts_the_dropped_ones(resimulated) -> None:
    described = read_views(resimulated["Hbb"])
    assert described["views"] == VIEWS
    counts = described["counts"]
    jets = _jets(resimulated["Hbb"])
    assert counts["groups"] == 25
    assert counts["views_kept"] == len(jets)
    assert counts["views_dropped"] == 25 * 3 - len(jets)
    with uproot.open(resimulated["Hbb"]) as file:  # branches of the file, as any reader sees them
        tree = file["tree"]
        assert tree["jet_group"].array(library="np").dtype == np.int64
        assert tree["jet_view"].array(library="np").dtype == np.int32
        assert tree["label_Hbb"].array(library="np").all()


def test_the_same_seed_reproduces_the_files(resimulated, tmp_path) -> None:
    """Another directory, the same seed: the same jets, bit for bit; another seed: others."""
    first = _jets(resimulated["Hbb"])
    same = generate(
        tmp_path / "again", ["Hbb"], 25, seed=3, progress=False, resimulate=3, variations=VIEWS
    )
    assert ak.to_list(_jets(same.files[0])) == ak.to_list(first)
    other = generate(
        tmp_path / "other", ["Hbb"], 25, seed=4, progress=False, resimulate=3, variations=VIEWS
    )
    assert ak.to_list(_jets(other.files[0]).hard_pt) != ak.to_list(first.hard_pt)


def test_units_are_reproducible_whatever_runs_them(tmp_path) -> None:
    one = generate(tmp_path / "a", ["QCD"], 20, seed=9, unit_jets=10, progress=False, resimulate=2)
    two = generate(
        tmp_path / "b", ["QCD"], 20, seed=9, unit_jets=10, workers=2, progress=False, resimulate=2
    )
    assert ak.to_list(_jets(one.files[0])) == ak.to_list(_jets(two.files[0]))
    again = generate(
        tmp_path / "a", ["QCD"], 20, seed=9, unit_jets=10, progress=False, resimulate=2
    )
    assert again.units_reused == 2 and again.units_generated == 0


@pytest.mark.parametrize(
    ("resimulate", "variations", "message"),
    [
        (1, None, "at least 2 views"),
        (0, None, "at least 2 views"),
        (3, ["nominal", "fsr_up"], "names 2 views"),
        (2, ["nominal", "fsr_sideways"], "unknown variation 'fsr_sideways'"),
        (2, ["nominal", "detector=no_such_card"], "no_such_card"),
        (None, ["nominal", "fsr_up"], "give resimulate=K"),
    ],
)
def test_bad_views_are_refused_before_any_event(tmp_path, resimulate, variations, message) -> None:
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, ["Hbb"], 10, resimulate=resimulate, variations=variations)
    assert not list(tmp_path.iterdir())  # nothing was generated


def test_a_variation_pythia_rejects_is_refused_before_any_event(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(VARIATIONS, "broken", ("TimeShower:noSuchParameter = 2",))
    with pytest.raises(ValueError, match="variation 'broken': Pythia rejected"):
        generate(tmp_path, ["Hbb"], 10, resimulate=2, variations=["nominal", "broken"])
    assert not list(tmp_path.iterdir())


@pytest.mark.dask
def test_views_on_dask_are_those_of_one_process(tmp_path) -> None:
    run = {"classes": ["Hbb"], "jets_per_class": 12, "seed": 6, "unit_jets": 6, "progress": False}
    views = {"resimulate": 2, "variations": ["nominal", "hadronisation_pt_down"]}
    serial = generate(tmp_path / "serial", **run, **views)
    on_dask = generate(tmp_path / "dask", workers=2, executor="dask", **run, **views)
    assert ak.to_list(_jets(on_dask.files[0])) == ak.to_list(_jets(serial.files[0]))
    assert read_views(on_dask.files[0])["views"] == views["variations"]


def test_a_view_that_always_fails_stops_its_unit_instead_of_hanging(tmp_path, monkeypatch) -> None:
    """A zero momentum tolerance fails Pythia's own check on every event of that view."""
    monkeypatch.setitem(VARIATIONS, "never_passes", ("Check:epTolErr = 0",))
    with pytest.raises(RuntimeError, match=r"view 1 \(never_passes\) failed 10 times"):
        generate(
            tmp_path,
            ["QCD"],
            5,
            progress=False,
            resimulate=2,
            variations=["nominal", "never_passes"],
        )


def test_a_per_jet_holdout_refuses_re_simulated_files(resimulated) -> None:
    """Views of one hard process on both sides of a train/validation split: refused."""
    from jetscale.train.data import split_sources

    with pytest.raises(ValueError, match="re-simulated views .* both sides of the split"):
        split_sources([str(resimulated["QCD"])], [], "kinpid", 32, None, 0.1, 100, 1000)
    # with separate validation files the split is the user's
    train, _ = split_sources(
        [str(resimulated["QCD"])], [str(resimulated["Hbb"])], "kinpid", 32, None, 0.1, 100, 1000
    )
    assert train.paths == (str(resimulated["QCD"]),)
