"""Each feature of a small jet against values computed by hand with ``math``."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from jetscale.features import FEATURE_SETS, build_features

# One jet, three constituents given in *ascending* pT so the builder must reorder them.
JET_PT, JET_E = 600.0, 900.0
CONSTITUENTS = [
    # px, py, pz, E, deta, dphi, d0val, d0err, dzval, dzerr, charge, pid index
    (0.6, 0.8, 2.0, 2.3, 0.30, -0.40, 0.0, 0.0, 0.0, 0.0, 0.0, 2),  # photon, pt = 1
    (3.0, 4.0, 6.0, 8.0, -0.05, 0.12, 0.02, 0.01, -0.5, 0.03, 1.0, 0),  # charged hadron, pt = 5
    (60.0, 80.0, 50.0, 115.0, 0.01, 0.02, -3.0, 2.5, 1.5, 0.04, -1.0, 3),  # electron, pt = 100
]
FLAGS = ("isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon")
NAMES = ("px", "py", "pz", "energy", "deta", "dphi", "d0val", "d0err", "dzval", "dzerr", "charge")


def one_jet() -> ak.Array:
    cols = {name: [[c[k] for c in CONSTITUENTS]] for k, name in enumerate(NAMES)}
    for k, flag in enumerate(FLAGS):
        cols[flag] = [[int(c[11] == k) for c in CONSTITUENTS]]
    consts = ak.zip(
        {
            k: ak.values_astype(ak.Array(v), np.int32 if k in FLAGS else np.float32)
            for k, v in cols.items()
        }
    )
    return ak.zip({"pt": [JET_PT], "energy": [JET_E], "constituents": consts}, depth_limit=1)


def clip5(value: float) -> float:
    return max(-5.0, min(5.0, value))


def expected_row(c: tuple[float, ...]) -> dict[str, float]:
    px, py, pz, e, deta, dphi, d0, d0err, dz, dzerr, charge, pid = c
    pt = math.sqrt(px * px + py * py)
    return {
        "part_pt_log": clip5((math.log(pt) - 1.7) * 0.7),
        "part_e_log": clip5((math.log(e) - 2.0) * 0.7),
        "part_logptrel": clip5((math.log(pt / JET_PT) + 4.7) * 0.7),
        "part_logerel": clip5((math.log(e / JET_E) + 4.7) * 0.7),
        "part_deltaR": clip5((math.sqrt(deta**2 + dphi**2) - 0.2) * 4.0),
        "part_charge": charge,
        **{f"part_{flag}": float(pid == k) for k, flag in enumerate(FLAGS)},
        "part_d0": math.tanh(d0),
        "part_d0err": min(max(d0err, 0.0), 1.0),
        "part_dz": math.tanh(dz),
        "part_dzerr": min(max(dzerr, 0.0), 1.0),
        "part_deta": deta,
        "part_dphi": dphi,
        "part_px_rel": clip5(px / JET_PT),
        "part_py_rel": clip5(py / JET_PT),
        "part_pz_rel": clip5(pz / JET_PT),
        "part_e_rel": clip5(e / JET_PT),
    }


@pytest.mark.parametrize("set_name", list(FEATURE_SETS))
def test_every_feature_matches_hand_computation(set_name: str) -> None:
    x, mask = build_features(one_jet(), feature_set=set_name, max_particles=5)
    names = FEATURE_SETS[set_name]
    # Descending pT: constituent 2 (pt 100), 1 (pt 5), 0 (pt 1).
    for slot, source in enumerate((2, 1, 0)):
        expected = expected_row(CONSTITUENTS[source])
        for column, name in enumerate(names):
            assert x[0, slot, column] == pytest.approx(expected[name], abs=2e-6), (slot, name)
    assert mask.tolist() == [[True, True, True, False, False]]
    np.testing.assert_array_equal(x[0, 3:], 0.0)


def test_hand_values_hit_the_clips() -> None:
    # d0err = 2.5 must clip to 1; log(pt/jet_pt) for pt = 1 GeV: (log(1/600) + 4.7) * 0.7 = -1.19...
    x, _ = build_features(one_jet(), feature_set="full", max_particles=3)
    names = FEATURE_SETS["full"]
    assert x[0, 0, names.index("part_d0err")] == 1.0
    assert x[0, 2, names.index("part_logptrel")] == pytest.approx(
        (math.log(1 / 600) + 4.7) * 0.7, abs=1e-6
    )
    # log(E) of a 1e4 GeV constituent: (log(1e4) - 2) * 0.7 = 5.05 -> clipped to exactly 5.
    jet = one_jet()
    energy = ak.Array([[1.0e4, 8.0, 2.3]])
    jet = ak.with_field(jet, ak.values_astype(energy, np.float32), ["constituents", "energy"])
    x, _ = build_features(jet, feature_set="kin", max_particles=3)
    assert x[0, 2, 1] == 5.0  # the 1e4 GeV constituent has pt 1 GeV: it sorts last


def test_truncation_keeps_the_hardest() -> None:
    x, mask = build_features(one_jet(), feature_set="kin", max_particles=2)
    assert x.shape == (1, 2, 7)
    assert mask.tolist() == [[True, True]]
    pt_log = x[0, :, 0]
    assert pt_log[0] == pytest.approx((math.log(100) - 1.7) * 0.7, abs=1e-6)
    assert pt_log[1] == pytest.approx((math.log(5) - 1.7) * 0.7, abs=1e-6)


def test_wrap_mode_repeats_the_jet_cyclically() -> None:
    x, mask = build_features(one_jet(), feature_set="kin", max_particles=7, pad_mode="wrap")
    assert mask.tolist() == [[True, True, True, False, False, False, False]]
    for slot in range(3, 7):
        np.testing.assert_array_equal(x[0, slot], x[0, slot % 3])
