"""Random directions of contrastive views: Lorentz transformations checked by hand, and their use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from jetscale import schema
from jetscale.io.jetclass import write_jetclass_chunks
from jetscale.train.view_directions import randomise_directions
from jetscale.train.view_groups import VALIDATION_DIRECTIONS_KEY, group_sources


def massive_jets(n: int, seed: int) -> ak.Array:
    """Jets of 3-12 massive constituents (pion mass) around a random axis, with the jet
    four-vector their sum: every quantity below is computed from these numbers by hand."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 13, n)
    axis_eta, axis_phi = rng.uniform(-2, 2, n), rng.uniform(-np.pi, np.pi, n)
    total = int(counts.sum())
    owner = np.repeat(np.arange(n), counts)
    pt = rng.exponential(20.0, total) + 1.0
    eta = axis_eta[owner] + rng.normal(0, 0.2, total)
    phi = axis_phi[owner] + rng.normal(0, 0.2, total)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + 0.13957**2)
    jet = {
        k: np.bincount(owner, v, n) for k, v in (("px", px), ("py", py), ("pz", pz), ("e", energy))
    }
    jet_pt = np.hypot(jet["px"], jet["py"])
    jet_eta = np.arcsinh(jet["pz"] / jet_pt)
    jet_phi = np.arctan2(jet["py"], jet["px"])
    wrap = (phi - jet_phi[owner] + np.pi) % (2 * np.pi) - np.pi
    constituents = {
        "px": px,
        "py": py,
        "pz": pz,
        "energy": energy,
        "deta": eta - jet_eta[owner],
        "dphi": wrap,
        "d0val": rng.normal(0, 0.1, total),
        "charge": rng.choice([-1.0, 0.0, 1.0], total),
    }
    return ak.Array(
        {
            "pt": jet_pt.astype(np.float32),
            "eta": jet_eta.astype(np.float32),
            "phi": jet_phi.astype(np.float32),
            "energy": jet["e"].astype(np.float32),
            "label": np.arange(n, dtype=np.int32) % 3,
            "constituents": ak.unflatten(
                ak.Array({k: v.astype(np.float32) for k, v in constituents.items()}), counts
            ),
        }
    )


def flat(array: ak.Array, field: str) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array["constituents"][field])).astype(np.float64)


def rapidity(energy: np.ndarray, pz: np.ndarray) -> np.ndarray:
    return 0.5 * np.log((energy + pz) / (energy - pz))


def test_each_jet_is_rotated_and_boosted_as_a_whole() -> None:
    jets = massive_jets(200, seed=1)
    moved = randomise_directions(jets, np.random.default_rng(7))
    owner = np.repeat(np.arange(len(jets)), ak.to_numpy(ak.num(jets["constituents"])))
    # The jet's own transformation, read off its four-vector before and after ...
    jet_pz = lambda j: ak.to_numpy(j["pt"]).astype(np.float64) * np.sinh(ak.to_numpy(j["eta"]))  # noqa: E731
    dphi = ak.to_numpy(moved["phi"]) - ak.to_numpy(jets["phi"]).astype(np.float64)
    dy = rapidity(ak.to_numpy(moved["energy"]), jet_pz(moved)) - rapidity(
        ak.to_numpy(jets["energy"]), jet_pz(jets)
    )
    # ... applied by hand to every constituent: a rotation about z, then a boost along z.
    c, s = np.cos(dphi)[owner], np.sin(dphi)[owner]
    px, py = flat(jets, "px"), flat(jets, "py")
    pz, energy = flat(jets, "pz"), flat(jets, "energy")
    ch, sh = np.cosh(dy)[owner], np.sinh(dy)[owner]
    expected = {
        "px": c * px - s * py,
        "py": s * px + c * py,
        "pz": ch * pz + sh * energy,
        "energy": ch * energy + sh * pz,
    }
    for field, values in expected.items():
        np.testing.assert_allclose(flat(moved, field), values, rtol=2e-5, atol=2e-4)
    # Masses, transverse momenta and pair masses stay; the jet's pt stays.
    mass2 = lambda e, x, y, z: e**2 - x**2 - y**2 - z**2  # noqa: E731
    np.testing.assert_allclose(
        mass2(*(flat(moved, f) for f in ("energy", "px", "py", "pz"))),
        mass2(energy, px, py, pz),
        atol=0.05,
    )
    np.testing.assert_allclose(
        np.hypot(flat(moved, "px"), flat(moved, "py")), np.hypot(px, py), rtol=1e-5
    )
    np.testing.assert_array_equal(ak.to_numpy(moved["pt"]), ak.to_numpy(jets["pt"]))
    # Relative coordinates: dphi is untouched, deta recomputed from the boosted momenta.
    np.testing.assert_array_equal(flat(moved, "dphi"), flat(jets, "dphi"))
    moved_eta = np.arcsinh(flat(moved, "pz") / np.hypot(flat(moved, "px"), flat(moved, "py")))
    np.testing.assert_allclose(
        flat(moved, "deta"), moved_eta - ak.to_numpy(moved["eta"])[owner], atol=2e-5
    )
    # Other fields pass through.
    np.testing.assert_array_equal(flat(moved, "d0val"), flat(jets, "d0val"))
    np.testing.assert_array_equal(ak.to_numpy(moved["label"]), ak.to_numpy(jets["label"]))


def test_directions_are_the_data_s_own_and_new() -> None:
    jets = massive_jets(500, seed=2)
    moved = randomise_directions(jets, np.random.default_rng(3))
    before = rapidity(
        ak.to_numpy(jets["energy"]).astype(np.float64),
        ak.to_numpy(jets["pt"]) * np.sinh(ak.to_numpy(jets["eta"]).astype(np.float64)),
    )
    after = rapidity(
        ak.to_numpy(moved["energy"]).astype(np.float64),
        ak.to_numpy(moved["pt"]) * np.sinh(ak.to_numpy(moved["eta"]).astype(np.float64)),
    )
    # The rapidities are a permutation of the jets' own ...
    np.testing.assert_allclose(np.sort(after), np.sort(before), atol=1e-4)
    assert np.mean(np.abs(after - before) < 1e-3) < 0.02  # ... each moved elsewhere
    # ... and the azimuths are uniform (a chi2 test over 10 bins at the 1e-3 level: 27.9).
    counts = np.histogram(ak.to_numpy(moved["phi"]), bins=10, range=(-np.pi, np.pi))[0]
    assert ((counts - 50) ** 2 / 50).sum() < 27.9
    # The same generator state gives the same jets, another state others.
    again = randomise_directions(jets, np.random.default_rng(3))
    assert ak.all(again["constituents"]["px"] == moved["constituents"]["px"])
    other = randomise_directions(jets, np.random.default_rng(4))
    assert not ak.all(other["constituents"]["px"] == moved["constituents"]["px"])


def test_a_jet_without_a_rapidity_is_named() -> None:
    jets = massive_jets(5, seed=3)
    energy = ak.to_numpy(jets["energy"]).copy()
    energy[2] = 0.5 * float(jets["pt"][2]) * abs(np.sinh(float(jets["eta"][2])))  # half of abs(pz)
    with pytest.raises(ValueError, match=r"1 jet\(s\) without a rapidity .* e\.g\. jet 2"):
        randomise_directions(ak.with_field(jets, energy, "energy"), np.random.default_rng(0))


def write_groups(path: Path, jets: ak.Array, views: int) -> Path:
    """Each jet of ``jets`` written ``views`` times as one group (identical views)."""
    owner = np.repeat(np.arange(len(jets)), views)
    copies = jets[owner]
    fields = {
        "group": owner,
        "view": np.tile(np.arange(views), len(jets)),
        "hard_pt": ak.to_numpy(copies["pt"]),
        "hard_eta": ak.to_numpy(copies["eta"]),
        "hard_phi": ak.to_numpy(copies["phi"]),
        "hard_mass": np.full(len(owner), 125.0),
    }
    for field, values in fields.items():
        copies = ak.with_field(copies, values.astype(schema.VIEW_JET_FIELDS[field]), field)
    names = {"views": ["nominal"] * views}
    return write_jetclass_chunks(path, [copies], metadata={schema.VIEWS_KEY: names})


def jet_direction(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(cos phi, sin phi) of each jet from full21's px_rel and py_rel (columns 17, 18)."""
    real = mask[..., None].astype(np.float64)
    summed = (x[..., 17:19] * real).sum(axis=1)
    return summed / np.linalg.norm(summed, axis=1, keepdims=True)


@pytest.mark.parametrize("random", [False, True])
def test_views_of_a_group_share_no_direction_with_random_directions(
    tmp_path: Path, make_jets: Callable[..., ak.Array], random: bool
) -> None:
    path = write_groups(tmp_path / "groups.root", make_jets(120, seed=5, mean_particles=12), 2)
    train, val = group_sources(
        [str(path)], [], "full21", 64, None, 0.1, 10_000, 20_000, random_directions=random
    )
    batch = next(iter(train.batches(40, seed=1, epoch=0)))
    direction = jet_direction(batch.x, batch.mask)
    first = np.flatnonzero(np.diff(batch.label, prepend=-1))  # the views of a group are adjacent
    cosine = (direction[first] * direction[first + 1]).sum(axis=1)
    if not random:  # identical views: identical directions
        np.testing.assert_allclose(cosine, 1.0, atol=1e-4)
        return
    assert np.mean(cosine > 0.99) < 0.1  # uniform angles: 0.99 is within 8 degrees
    # The number of constituents (a view's content) is untouched.
    np.testing.assert_array_equal(batch.mask[first].sum(axis=1), batch.mask[first + 1].sum(axis=1))
    # Fresh directions every epoch, the same ones for the same (seed, epoch) ...
    again = next(iter(train.batches(40, seed=1, epoch=0)))
    np.testing.assert_array_equal(again.x, batch.x)
    later = next(iter(train.batches(40, seed=1, epoch=1)))
    assert not np.array_equal(jet_direction(later.x, later.mask)[:4], direction[:4])
    # ... and fixed ones for validation.
    assert val.random_directions
    np.testing.assert_array_equal(val.load_all().x, val.load_all().x)
    assert VALIDATION_DIRECTIONS_KEY != (1, 0)
