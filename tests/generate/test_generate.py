"""End-to-end generation: JetClass schema, physics sanity, determinism."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from jetscale import schema
from jetscale.generate import generate, generate_class
from jetscale.io.jetclass import read_jetclass


def _read(summary, name):
    path = next(p for p in summary.files if p.name.startswith(f"{name}_"))
    return read_jetclass(path)


def test_summary(generated, sample_config):
    classes, n_jets, seed = sample_config.values()
    assert [p.name for p in generated.files] == [f"{c}_cms_s{seed}.root" for c in classes]
    assert generated.jets_per_class == dict.fromkeys(classes, n_jets)
    assert all(generated.events_per_class[c] > 0 for c in classes)
    assert generated.jets_per_second > 0
    assert set(generated.jets_per_second_per_worker) == set(classes)
    assert "jets/s" in str(generated)


@pytest.mark.parametrize("name", ["QCD", "Hbb", "Wqq", "Zqq", "Tbqq"])
def test_exact_jetclass_schema(generated, sample_config, name):
    n_jets = sample_config["jets"]
    path = next(p for p in generated.files if p.name.startswith(f"{name}_"))
    with uproot.open(path) as file:
        tree = file["tree"]
        assert tree.num_entries == n_jets
        for branch in schema.ALL_BRANCHES:
            assert branch in tree, branch
        arrays = tree.arrays(list(schema.ALL_BRANCHES), library="ak")
    for field in schema.CONSTITUENT_FLOAT_FIELDS:
        assert str(ak.type(arrays[f"part_{field}"])) == f"{n_jets} * var * float32"
    for field in schema.CONSTITUENT_INT_FIELDS:
        assert str(ak.type(arrays[f"part_{field}"])) == f"{n_jets} * var * int32"
    for branch in schema.JET_BRANCHES:
        assert ak.to_numpy(arrays[branch]).dtype == np.float32
    labels = np.stack([ak.to_numpy(arrays[b]) for b in schema.LABEL_BRANCHES], axis=1)
    assert np.all(labels.sum(axis=1) == 1)
    assert np.all(labels[:, schema.class_index(name)] == 1)

    pt = ak.to_numpy(arrays["jet_pt"])
    assert np.all((pt > 500) & (pt < 1000))
    assert np.all(np.abs(ak.to_numpy(arrays["jet_eta"])) < 2)
    npart = ak.num(arrays["part_px"])
    assert np.array_equal(
        ak.to_numpy(arrays["jet_nparticles"]), ak.to_numpy(npart).astype(np.float32)
    )
    part_pt = np.hypot(arrays["part_px"], arrays["part_py"])
    assert ak.all(part_pt[:, :-1] >= part_pt[:, 1:])
    # exactly one PID flag per particle; charge only on tracks; neutral impact parameters zero
    flags = sum(arrays[f"part_{f}"] for f in schema.CONSTITUENT_INT_FIELDS)
    assert ak.all(flags == 1)
    neutral = (arrays["part_isNeutralHadron"] == 1) | (arrays["part_isPhoton"] == 1)
    assert ak.all(arrays["part_charge"][neutral] == 0)
    assert ak.all(arrays["part_d0err"][neutral] == 0)
    assert ak.all(arrays["part_d0err"][~neutral] > 0)


def test_constituents_sum_to_jet_and_relative_coordinates(generated):
    jets = _read(generated, "Tbqq")
    c = jets.constituents
    px, py, e = (ak.sum(c[f], axis=1) for f in ("px", "py", "energy"))
    np.testing.assert_allclose(ak.to_numpy(np.hypot(px, py)), ak.to_numpy(jets.pt), rtol=1e-4)
    np.testing.assert_allclose(ak.to_numpy(e), ak.to_numpy(jets.energy), rtol=1e-4)
    eta = np.arcsinh(c.pz / np.hypot(c.px, c.py))
    phi = np.arctan2(c.py, c.px)
    # JetClass's convention: deta flips sign for backward jets.
    sign = np.where(ak.to_numpy(jets.eta) > 0, 1.0, -1.0)
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten((eta - jets.eta) * sign)), ak.to_numpy(ak.flatten(c.deta)), atol=1e-4
    )
    assert (sign < 0).any() and (sign > 0).any()  # both cases are tested
    dphi = ak.to_numpy(ak.flatten(c.dphi))
    assert np.all(np.abs(dphi) <= np.pi)
    wrapped = ak.to_numpy(ak.flatten((phi - jets.phi + np.pi) % (2 * np.pi) - np.pi))
    np.testing.assert_allclose(np.cos(wrapped - dphi), 1.0, atol=1e-6)
    # anti-kT R = 0.8 clusters in rapidity, so in pseudorapidity a few constituents of
    # massive jets sit slightly beyond R; nearly all are inside.
    delta_r = np.hypot(ak.to_numpy(ak.flatten(c.deta)), dphi)
    assert np.mean(delta_r < 0.8) > 0.99
    assert np.all(delta_r < 1.5)
    taus = np.stack([ak.to_numpy(jets[f"tau{n}"]) for n in range(1, 5)], axis=1)
    assert np.all(taus >= 0)
    assert np.all(taus[:, 1:] <= taus[:, :-1] + 1e-6)  # tau_N decreases with N


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("Tbqq", 140.0, 200.0), ("Wqq", 68.0, 90.0), ("Zqq", 78.0, 100.0), ("Hbb", 105.0, 135.0)],
)
def test_softdrop_mass_peaks(generated, name, low, high):
    median = float(np.median(ak.to_numpy(_read(generated, name).sdmass)))
    assert low < median < high, f"{name} soft-drop mass median {median:.1f} GeV"


def test_qcd_is_light_and_two_prong_signals_have_low_tau21(generated):
    qcd = _read(generated, "QCD")
    assert float(np.median(ak.to_numpy(qcd.sdmass))) < 60.0
    tau21 = {
        n: np.median(ak.to_numpy(_read(generated, n).tau2 / _read(generated, n).tau1))
        for n in ("QCD", "Wqq")
    }
    assert tau21["Wqq"] < tau21["QCD"] - 0.1


def _median_top3_d0_significance(jets):
    """Median over jets of the mean of the three largest |d0|/sigma(d0) among charged constituents."""
    c = jets.constituents
    charged = c[c.charge != 0]
    significance = np.abs(charged.d0val) / charged.d0err
    top3 = ak.sort(significance, axis=1, ascending=False)[:, :3]
    return float(np.median(ak.to_numpy(ak.fill_none(ak.mean(top3, axis=1), 0.0))))


def test_b_jets_have_displaced_tracks(generated):
    # The median is robust against the long tail of K0S / Lambda daughters in both samples.
    hbb = _median_top3_d0_significance(_read(generated, "Hbb"))
    qcd = _median_top3_d0_significance(_read(generated, "QCD"))
    assert hbb > 2 * qcd, f"median top-3 |d0|/sigma: Hbb {hbb:.2f}, QCD {qcd:.2f}"


def _assert_same(a, b):
    assert ak.array_equal(a, b)


def test_same_seed_same_jets_different_seed_different():
    a = generate_class("Wqq", 15, seed=21)
    b = generate_class("Wqq", 15, seed=21)
    c = generate_class("Wqq", 15, seed=22)
    _assert_same(a, b)
    assert not ak.array_equal(a.pt, c.pt)
    assert np.all(ak.to_numpy(a.label) == schema.class_index("Wqq"))


def test_result_independent_of_worker_count(tmp_path):
    kwargs = {
        "classes": ["QCD"],
        "jets_per_class": 40,
        "seed": 4,
        "progress": False,
        "unit_jets": 20,
    }
    one = generate(tmp_path / "one", workers=1, **kwargs)
    two = generate(tmp_path / "two", workers=2, **kwargs)
    _assert_same(read_jetclass(one.files[0]), read_jetclass(two.files[0]))
    # the in-memory path gives the same jets too
    _assert_same(read_jetclass(one.files[0]), generate_class("QCD", 40, seed=4, unit_jets=20))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown JetClass class"):
        generate(tmp_path, ["Top"], 10, progress=False)
    with pytest.raises(ValueError, match="unknown detector card"):
        generate(tmp_path, ["QCD"], 10, detector="nope", progress=False)
    with pytest.raises(ValueError, match="jets_per_class"):
        generate(tmp_path, ["QCD"], 0, progress=False)
