"""The registry: a feature is declared once, as a formula, and the kernel computes it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import awkward as ak
import numpy as np
import pytest

from jetscale.features import FEATURES, FeatureSpec, build_features, feature_set
from jetscale.features.builder import prepare_columns
from jetscale.features.reference import FORMULAS
from jetscale.features.registry import required_fields, resolve_specs


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        ("part_pt_log", ("px", "py")),
        ("part_logptrel", ("px", "py", "jet_pt")),
        ("part_logerel", ("energy", "jet_energy")),
        ("part_deltaR", ("deta", "dphi")),
        ("part_isPhoton", ("isPhoton",)),
        ("part_d0", ("d0val",)),
        ("part_e_rel", ("energy", "jet_pt")),
        ("part_mask", ()),
    ],
)
def test_inputs_are_derived_from_the_formula(name: str, inputs: tuple[str, ...]) -> None:
    assert FEATURES[name].inputs == inputs


def test_required_fields_of_a_set() -> None:
    assert required_fields("kin") == (("px", "py", "energy", "deta", "dphi"), ("energy", "pt"))


def test_the_reference_oracle_has_a_line_for_every_feature() -> None:
    assert set(FORMULAS) == set(FEATURES)


def test_explicit_lists_hold_specs() -> None:
    with pytest.raises(ValueError, match="must hold FeatureSpec objects, got 'part_px'"):
        resolve_specs(["part_px"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="must not be empty"):
        resolve_specs([])


def sorted_padded(
    jets: ak.Array, value: Callable[[Any, Any], Any], max_particles: int
) -> np.ndarray:
    """``value(constituents, jets)`` in float64 on pT-sorted constituents, NaN-padded: ``(N, P)``."""
    consts = jets.constituents
    px, py = (ak.values_astype(consts[f], np.float64) for f in ("px", "py"))
    ordered = consts[ak.argsort(-(px * px + py * py), axis=1, stable=True)]
    values = value(ak.values_astype(ordered, np.float64), ak.values_astype(jets, np.float64))
    return ak.to_numpy(ak.fill_none(ak.pad_none(values, max_particles, clip=True), np.nan))


def test_a_new_feature_is_one_formula(make_jets: Callable[..., ak.Array]) -> None:
    """Features defined only by a FeatureSpec (no kernel or builder edits) are computed."""
    jets = make_jets(200, seed=11, mean_particles=25)
    specs = [
        FeatureSpec("part_pz_erel", "part_pz / jet_energy"),
        FeatureSpec("part_logerel2", "log(part_energy) - log(jet_energy)", 1.0, 0.5, -2.0, 2.0),
        FeatureSpec("part_dr2", "part_deta**2 + part_dphi**2", pad_value=-1.0),
        FeatureSpec("part_eta", "part_deta + jet_eta"),  # a jet field beyond pt and energy
        FeatureSpec("part_logerel3", "log(part_energy / jet_energy)"),  # a libm log per constituent
        FEATURES["part_pt_log"],
    ]
    x, mask = build_features(jets, specs, max_particles=32)
    log_erel = sorted_padded(jets, lambda c, j: np.log(c.energy / j.energy), 32)
    expected = [
        sorted_padded(jets, lambda c, j: c.pz / j.energy, 32),
        np.clip((log_erel - 1.0) * 0.5, -2.0, 2.0),
        sorted_padded(jets, lambda c, j: c.deta**2 + c.dphi**2, 32),
        sorted_padded(jets, lambda c, j: c.deta + j.eta, 32),
        log_erel,
        np.clip(
            (sorted_padded(jets, lambda c, j: np.log(np.hypot(c.px, c.py)), 32) - 1.7) * 0.7, -5, 5
        ),
    ]
    np.testing.assert_array_equal(mask, ~np.isnan(expected[0]))
    for column, (spec, want) in enumerate(zip(specs, expected, strict=True)):
        want = np.where(mask, want, spec.pad_value)
        np.testing.assert_allclose(x[:, :, column], want, rtol=1e-6, atol=1e-6, err_msg=spec.name)


def test_a_new_feature_touches_only_what_it_reads(make_jets: Callable[..., ak.Array]) -> None:
    layout = ak.to_layout(make_jets(5))
    tracer, report = ak.typetracer.typetracer_with_report(layout.form_with_key())
    x, _ = build_features(ak.Array(tracer), [FeatureSpec("part_pz_erel", "part_pz / jet_energy")])
    assert str(x.type.content) == "128 * 1 * float32"
    form = layout.form_with_key()
    constituent = form.content("constituents").content
    touched = set(report.data_touched)
    assert {constituent.content(f).form_key for f in ("px", "py", "pz")} <= touched
    assert form.content("energy").form_key in touched
    assert constituent.content("energy").form_key not in touched
    assert form.content("pt").form_key not in touched


def test_sidecar_constants_make_their_own_kernel(make_jets: Callable[..., ak.Array]) -> None:
    jets = make_jets(20, seed=2)
    base = feature_set("kin")
    shifted = tuple(dataclasses.replace(s, center=s.center + 0.5) for s in base)
    x, _ = build_features(jets, base, max_particles=8)
    y, mask = build_features(jets, shifted, max_particles=8)
    scale = np.array([s.scale for s in base])
    inside = mask[:, :, None] & (np.abs(x) < 4) & (np.abs(y) < 4)
    np.testing.assert_allclose(
        (x - y)[inside], np.broadcast_to(0.5 * scale, x.shape)[inside], atol=1e-5
    )


def test_prepare_columns_names_missing_columns() -> None:
    columns = {f: np.ones(3, np.float32) for f in ("px", "py", "deta", "dphi")}
    offsets = np.array([0, 3])
    with pytest.raises(ValueError, match="constituent field 'energy', jet field 'energy'"):
        prepare_columns(offsets, columns, {"pt": np.ones(1)}, "kin")
