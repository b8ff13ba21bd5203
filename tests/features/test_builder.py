"""The vectorized builder: contract, ordering, backends, and refusal of bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from jetscale.features import FEATURE_SETS, build_features, feature_batches
from jetscale.features.reference import build_features_loop
from jetscale.io import write_jetclass


@pytest.mark.parametrize("set_name", list(FEATURE_SETS))
@pytest.mark.parametrize("pad_mode", ["constant", "wrap"])
def test_matches_per_jet_reference_on_synthetic_jets(
    make_jets: Callable[..., ak.Array], set_name: str, pad_mode: str
) -> None:
    jets = make_jets(300, seed=3, mean_particles=30)
    x, mask = build_features(jets, feature_set=set_name, max_particles=40, pad_mode=pad_mode)  # type: ignore[arg-type]
    x_ref, mask_ref = build_features_loop(jets, set_name, 40, pad_mode)
    np.testing.assert_array_equal(mask, mask_ref)
    np.testing.assert_allclose(x, x_ref, rtol=0, atol=2e-6)


def test_contract_shapes_and_dtypes(make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(17, seed=1)
    x, mask = build_features(jets, feature_set="full21", max_particles=128)
    assert x.shape == (17, 128, 21) and x.dtype == np.float32 and x.flags.c_contiguous
    assert mask.shape == (17, 128) and mask.dtype == np.bool_
    np.testing.assert_array_equal(
        mask.sum(axis=1), np.minimum(ak.to_numpy(ak.num(jets.constituents)), 128)
    )


def test_order_is_descending_pt_and_ties_keep_input_order() -> None:
    # Constituents 0 and 2 have identical pT (3-4-5 triangle both ways) but different energy.
    consts = ak.zip(
        {
            "px": np.array([[3.0, 1.0, 4.0, 8.0]], dtype=np.float32)[0],
            "py": np.array([4.0, 0.0, 3.0, 6.0], dtype=np.float32),
            "energy": np.array([6.0, 2.0, 7.0, 11.0], dtype=np.float32),
            "deta": np.zeros(4, dtype=np.float32),
            "dphi": np.zeros(4, dtype=np.float32),
        }
    )
    jets = ak.zip(
        {"pt": [100.0], "energy": [200.0], "constituents": ak.unflatten(consts, [4])}, depth_limit=1
    )
    x, _ = build_features(jets, feature_set="kin", max_particles=4)
    energies = np.exp(x[0, :, 1] / 0.7 + 2.0)
    np.testing.assert_allclose(energies, [11.0, 6.0, 7.0, 2.0], rtol=1e-5)


def test_already_sorted_and_shuffled_inputs_agree(make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(50, seed=5)
    pt = np.hypot(jets.constituents.px, jets.constituents.py)
    sorted_jets = ak.with_field(
        jets, jets.constituents[ak.argsort(pt, ascending=False)], "constituents"
    )
    a, _ = build_features(jets)
    b, _ = build_features(sorted_jets)
    np.testing.assert_array_equal(a, b)


def test_zero_constituent_jets_are_fully_padded(make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(3, seed=2)
    empty = jets.constituents[:, :0]
    jets = ak.with_field(jets, ak.concatenate([jets.constituents[:2], empty[2:]]), "constituents")
    for mode in ("constant", "wrap"):
        x, mask = build_features(jets, max_particles=8, pad_mode=mode)  # type: ignore[arg-type]
        assert not mask[2].any()
        np.testing.assert_array_equal(x[2], 0.0)


def test_empty_input_gives_empty_arrays(make_jets: Callable[..., ak.Array]) -> None:
    x, mask = build_features(make_jets(4)[:0], feature_set="kinpid", max_particles=16)
    assert x.shape == (0, 16, 13) and mask.shape == (0, 16)


def test_batches_equal_one_shot(make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(250, seed=9)
    x, mask = build_features(jets, max_particles=32)
    parts = [(s, xb.copy(), mb.copy()) for s, xb, mb in feature_batches(jets, 64, max_particles=32)]
    assert [s for s, _, _ in parts] == [0, 64, 128, 192]
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), x)
    np.testing.assert_array_equal(np.concatenate([p[2] for p in parts]), mask)


def test_sliced_and_masked_layouts_take_the_general_path(
    make_jets: Callable[..., ak.Array],
) -> None:
    jets = make_jets(60, seed=4)
    keep = np.arange(60) % 3 != 0
    x_sub, _ = build_features(jets[keep])
    x_all, _ = build_features(jets)
    np.testing.assert_array_equal(x_sub, x_all[keep])


def test_typetracer_touches_only_needed_columns(make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(5)
    layout = ak.to_layout(jets)
    tracer, report = ak.typetracer.typetracer_with_report(layout.form_with_key())
    x, mask = build_features(ak.Array(tracer), feature_set="kin", max_particles=16)
    assert ak.backend(x) == "typetracer"
    assert str(x.type.content) == "16 * 7 * float32"
    assert str(mask.type.content) == "16 * bool"
    touched = set(report.data_touched)
    form = layout.form_with_key()
    key = {
        f: form.content("constituents").content.content(f).form_key
        for f in ("px", "d0val", "isMuon")
    }
    assert key["px"] in touched
    assert key["d0val"] not in touched and key["isMuon"] not in touched


def test_dask_awkward_partitions(make_jets: Callable[..., ak.Array]) -> None:
    dak = pytest.importorskip("dask_awkward")
    jets = make_jets(90, seed=6)
    lazy = dak.from_awkward(jets, npartitions=3)
    x_lazy, mask_lazy = build_features(lazy, feature_set="full", max_particles=24)
    x = ak.to_numpy(x_lazy.compute())
    mask = ak.to_numpy(mask_lazy.compute())
    x_ref, mask_ref = build_features(jets, feature_set="full", max_particles=24)
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(mask, mask_ref)


def test_coffea_virtual_arrays(tmp_path: Path, make_jets: Callable[..., ak.Array]) -> None:
    nanoevents = pytest.importorskip("coffea.nanoevents")
    from jetscale.io import jets_from_branches

    jets = make_jets(40, seed=8)
    path = write_jetclass(tmp_path / "jets.root", jets)
    events = nanoevents.NanoEventsFactory.from_root(
        {str(path): "tree"}, schemaclass=nanoevents.BaseSchema, mode="virtual"
    ).events()
    x, mask = build_features(jets_from_branches(events), feature_set="full21", max_particles=64)
    x_ref, mask_ref = build_features(jets, feature_set="full21", max_particles=64)
    np.testing.assert_array_equal(mask, mask_ref)
    np.testing.assert_allclose(x, x_ref, atol=1e-6)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("px", np.nan, "'px' has 1 non-finite"),
        ("deta", np.inf, "'deta' has 1 non-finite"),
        ("energy", 0.0, "'energy' has 1 values <= 0"),
        ("energy", -3.0, "'energy' has 1 values <= 0"),
    ],
)
def test_bad_constituent_values_are_refused(
    make_jets: Callable[..., ak.Array], field: str, value: float, message: str
) -> None:
    jets = make_jets(4, seed=1)
    flat = ak.to_numpy(ak.flatten(jets.constituents[field])).copy()
    flat[5] = value
    jets = ak.with_field(
        jets, ak.unflatten(flat, ak.num(jets.constituents)), ["constituents", field]
    )
    with pytest.raises(ValueError, match=message):
        build_features(jets)


def test_zero_pt_constituent_is_refused(make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(2, seed=1)
    for field in ("px", "py"):
        flat = ak.to_numpy(ak.flatten(jets.constituents[field])).copy()
        flat[0] = 0.0
        jets = ak.with_field(
            jets, ak.unflatten(flat, ak.num(jets.constituents)), ["constituents", field]
        )
    with pytest.raises(ValueError, match="pt == 0 for 1 constituents"):
        build_features(jets)


def test_bad_jet_values_and_arguments_are_refused(make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(3, seed=1)
    bad = ak.with_field(jets, np.array([600.0, -1.0, 700.0], dtype=np.float32), "pt")
    with pytest.raises(ValueError, match="jet field 'pt' has 1 non-finite or non-positive"):
        build_features(bad)
    with pytest.raises(ValueError, match="unknown feature set 'full22'"):
        build_features(jets, feature_set="full22")
    with pytest.raises(ValueError, match="max_particles must be a positive integer"):
        build_features(jets, max_particles=0)
    with pytest.raises(ValueError, match="pad_mode must be"):
        build_features(jets, pad_mode="reflect")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError,
        match="feature set .full. needs .*: deta, dphi, d0val, d0err, dzval, dzerr, charge, isChargedHadron",
    ):
        build_features(
            ak.with_field(jets, jets.constituents[["px", "py", "pz", "energy"]], "constituents"),
            "full",
        )
