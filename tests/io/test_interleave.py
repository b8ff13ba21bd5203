"""Per-class files read as one class-mixed stream (``jetscale.io.interleave``).

The order is checked against its definition computed independently (sorting
every jet's key at once) and against the property it exists for: every prefix
holds each file's jets in proportion, to within one jet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from jetscale.io import JetFileError, QualityReport, write_jetclass
from jetscale.io.interleave import interleave_jets

SIZES = (300, 120, 57, 1000)
DATA = Path(__file__).resolve().parent / "data"


def tagged_files(
    tmp_path: Path, make_jets: Callable[..., ak.Array], sizes: tuple[int, ...] = SIZES
) -> list[str]:
    """One file per class; each jet's ``sdmass`` is its index in the file (a tag)."""
    paths = []
    for label, n in enumerate(sizes):
        jets = make_jets(n, seed=label, mean_particles=8)
        jets = ak.with_field(jets, np.full(n, label, dtype=np.int32), "label")
        jets = ak.with_field(jets, np.arange(n, dtype=np.float32), "sdmass")
        paths.append(str(write_jetclass(tmp_path / f"class{label}.root", jets)))
    return paths


def reference_order(sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(file, index in file) of every jet: all keys (j + 1/2) / n sorted at once."""
    key = np.concatenate([(np.arange(n) + 0.5) / n for n in sizes])
    owner = np.concatenate([np.full(n, f) for f, n in enumerate(sizes)])
    index = np.concatenate([np.arange(n) for n in sizes])
    order = np.lexsort((owner, key))
    return owner[order], index[order]


@pytest.mark.parametrize(("window", "buffer"), [(1, 10), (7, 50), (100, 100_000), (5000, 3)])
def test_order_is_the_proportional_merge_whatever_the_window_and_buffer(
    tmp_path: Path, make_jets: Callable[..., ak.Array], window: int, buffer: int
) -> None:
    paths = tagged_files(tmp_path, make_jets)
    windows = list(interleave_jets(paths, window, read_buffer_jets=buffer))
    assert all(len(w) == window for w in windows[:-1]) and 0 < len(windows[-1]) <= window
    stream = ak.concatenate(windows)
    owner, index = reference_order(SIZES)
    np.testing.assert_array_equal(ak.to_numpy(stream.label), owner)
    np.testing.assert_array_equal(ak.to_numpy(stream.sdmass), index)


def test_every_prefix_holds_every_file_in_proportion(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    paths = tagged_files(tmp_path, make_jets)
    label = ak.to_numpy(ak.concatenate(list(interleave_jets(paths, 64))).label)
    share = np.asarray(SIZES) / sum(SIZES)
    seen = np.cumsum(np.eye(len(SIZES), dtype=int)[label], axis=0)  # (prefix, file) counts
    expected = np.arange(1, len(label) + 1)[:, None] * share
    # Each count is its file's key threshold t*n rounded, and the roundings of F
    # files sum to the prefix: |count - share * P| <= 1/2 + F/2 * share (one jet
    # for files of equal size).
    assert (np.abs(seen - expected) <= 0.5 + len(SIZES) / 2 * share + 1e-9).all()
    equal = tagged_files(tmp_path / "equal", make_jets, (200, 200, 200))
    label = ak.to_numpy(ak.concatenate(list(interleave_jets(equal, 64))).label)
    seen = np.cumsum(np.eye(3, dtype=int)[label], axis=0)
    assert np.abs(seen - np.arange(1, 601)[:, None] / 3).max() <= 1.0
    # ... and each file's jets come in the file's own order
    stream = ak.concatenate(list(interleave_jets(paths, 64)))
    for f in range(len(SIZES)):
        tags = ak.to_numpy(stream.sdmass[stream.label == f])
        np.testing.assert_array_equal(tags, np.arange(SIZES[f]))


def test_files_of_another_layout_are_named(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    import uproot

    good = write_jetclass(tmp_path / "good.root", make_jets(50, seed=1))
    arrays = uproot.open(good)["tree"].arrays()
    other = tmp_path / "other.root"  # the same jets without the jet_tau4 branch
    with uproot.recreate(other) as file:
        part = [f for f in arrays.fields if f.startswith("part_")]
        data = {
            "part": ak.zip({f[5:]: arrays[f] for f in part}),
            **{f: arrays[f] for f in arrays.fields if f not in {*part, "npart", "jet_tau4"}},
        }
        file.mktree("tree", {name: value.type for name, value in data.items()}).extend(data)
    with pytest.raises(
        JetFileError, match=rf"{other}: its jets have another layout than those of {good}"
    ):
        list(interleave_jets([good, other], 20))


def test_dropped_jets_leave_the_stream_and_are_counted(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(40, seed=3)
    pt = ak.to_numpy(jets.pt).copy()
    pt[[5, 17]] = np.nan
    bad = write_jetclass(tmp_path / "bad.root", ak.with_field(jets, pt, "pt"))
    good = write_jetclass(tmp_path / "good.root", make_jets(40, seed=4))
    report = QualityReport()
    stream = ak.concatenate(list(interleave_jets([bad, good], 16, report=report)))
    assert len(stream) == 78 and report.jets_dropped == 2


def test_a_missing_file_is_named(tmp_path: Path, make_jets: Callable[..., ak.Array]) -> None:
    good = write_jetclass(tmp_path / "good.root", make_jets(10, seed=1))
    with pytest.raises(JetFileError, match=r"gone.root"):
        list(interleave_jets([good, tmp_path / "gone.root"], 4))


def test_files_written_by_root_in_the_real_jetclass_layout() -> None:
    """std::vector<float> constituents, bool labels in one file and float labels in the other.

    The files were written by ROOT itself (``data/make_root_jetclass_layout.py``);
    the values it was given are in the ``.npz`` beside them.
    """
    truth = np.load(DATA / "root_jetclass_layout.npz")
    names = ("HToBB", "ZJetsToNuNu")
    paths = [DATA / f"{name}_rootlayout.root" for name in names]
    stream = ak.concatenate(list(interleave_jets(paths, 25)))
    assert len(stream) == 100
    for label, name in zip((1, 0), names, strict=True):
        jets = stream[stream.label == label]
        np.testing.assert_array_equal(ak.to_numpy(jets.pt), truth[f"{name}/jet_pt"])
        np.testing.assert_array_equal(ak.to_numpy(jets.sdmass), truth[f"{name}/jet_sdmass"])
        for field in ("px", "energy", "d0err", "charge", "isPhoton"):
            counts = truth[f"{name}/part_{field}/counts"]
            np.testing.assert_array_equal(ak.to_numpy(ak.num(jets.constituents)), counts)
            np.testing.assert_allclose(
                ak.to_numpy(ak.flatten(jets.constituents[field])), truth[f"{name}/part_{field}"]
            )
    # 40 bool-labelled H->bb jets and 60 float-labelled QCD jets, mixed 2:3 in every prefix
    label = ak.to_numpy(stream.label)
    assert np.abs(np.cumsum(label == 1) - 0.4 * np.arange(1, 101)).max() <= 1.0
