"""JetClass ROOT reading and writing: schema, chunking, paths, dtypes and bad files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from jetscale import schema
from jetscale.io import (
    JetFileError,
    QualityReport,
    iterate_jetclass,
    iterate_jets,
    jets_from_branches,
    read_jetclass,
    read_jets,
    read_parquet,
    write_jetclass,
    write_parquet,
)

MakeJets = Callable[..., ak.Array]


def assert_same_jets(a: ak.Array, b: ak.Array) -> None:
    assert len(a) == len(b)
    for field in (*schema.JET_FIELDS, "label"):
        np.testing.assert_allclose(ak.to_numpy(a[field]), ak.to_numpy(b[field]), rtol=1e-6)
    for field in schema.CONSTITUENT_FIELDS:
        assert ak.all(ak.num(a.constituents[field]) == ak.num(b.constituents[field]))
        np.testing.assert_allclose(
            ak.to_numpy(ak.flatten(a.constituents[field])),
            ak.to_numpy(ak.flatten(b.constituents[field])),
            rtol=1e-6,
        )


def test_written_file_has_the_exact_jetclass_schema(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(20, seed=1)
    path = write_jetclass(tmp_path / "out.root", jets)
    tree = uproot.open(path)["tree"]
    assert set(schema.ALL_BRANCHES) <= set(tree.keys())
    assert set(tree.keys()) - set(schema.ALL_BRANCHES) == {"npart"}  # uproot's jagged counter
    for branch in schema.PARTICLE_BRANCHES:
        expected = (
            "int32_t[]"
            if branch.removeprefix("part_") in schema.CONSTITUENT_INT_FIELDS
            else "float[]"
        )
        assert tree[branch].typename == expected, branch
    for branch in schema.JET_BRANCHES:
        assert tree[branch].typename == "float", branch
    labels = np.stack([tree[b].array(library="np") for b in schema.LABEL_BRANCHES], axis=1)
    np.testing.assert_array_equal(np.argmax(labels, axis=1), ak.to_numpy(jets.label))
    assert (labels.sum(axis=1) == 1).all()
    assert_same_jets(read_jetclass(path), jets)


def test_chunked_iteration_equals_whole_read(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(200, seed=2)
    path = write_jetclass(tmp_path / "a.root", jets)
    chunks = list(iterate_jetclass(path, step_size=64))
    assert [len(c) for c in chunks] == [64, 64, 64, 8]
    assert_same_jets(ak.concatenate(chunks), jets)


def test_paths_globs_directories_and_file_lists(tmp_path: Path, make_jets: MakeJets) -> None:
    first, second = make_jets(10, seed=1), make_jets(7, seed=2)
    write_jetclass(tmp_path / "d" / "b.root", second)
    write_jetclass(tmp_path / "d" / "a.root", first)
    listing = tmp_path / "files.txt"
    listing.write_text("# my sample\nd/a.root\nd/b.root  # second file\n")
    for spec in (
        str(tmp_path / "d" / "*.root"),
        tmp_path / "d",
        listing,
        [tmp_path / "d" / "a.root", tmp_path / "d" / "b.root"],
    ):
        jets = read_jets(spec)
        assert len(jets) == 17, spec
        np.testing.assert_allclose(ak.to_numpy(jets.pt[:10]), ak.to_numpy(first.pt), rtol=1e-6)
    with pytest.raises(JetFileError, match="glob matches no files"):
        read_jets(str(tmp_path / "nothing" / "*.root"))
    with pytest.raises(JetFileError, match="missing.root: file does not exist"):
        read_jets(tmp_path / "missing.root")


@pytest.mark.parametrize("label_dtype", ["float32", "bool", "int32", "int64"])
def test_label_dtypes_of_real_files(tmp_path: Path, make_jets: MakeJets, label_dtype: str) -> None:
    jets = make_jets(12, seed=3)
    path = write_jetclass(tmp_path / "l.root", jets, label_dtype=label_dtype)
    assert uproot.open(path)["tree"]["label_QCD"].interpretation.to_dtype == np.dtype(label_dtype)
    np.testing.assert_array_equal(ak.to_numpy(read_jetclass(path).label), ak.to_numpy(jets.label))


def test_constituent_subset_and_missing_branch(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(5, seed=1)
    data = {f"part_{f}": jets.constituents[f] for f in ("px", "py", "pz", "energy", "deta", "dphi")}
    data |= {
        "jet_pt": ak.to_numpy(jets.pt),
        "jet_eta": ak.to_numpy(jets.eta),
        "jet_phi": ak.to_numpy(jets.phi),
    }
    data["jet_energy"] = ak.to_numpy(jets.energy)
    path = tmp_path / "kin_only.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "tree", {k: (v.type if isinstance(v, ak.Array) else v.dtype) for k, v in data.items()}
        ).extend(data)
    got = read_jetclass(path, constituent_fields=["px", "py", "pz", "energy", "deta", "dphi"])
    assert ak.fields(got.constituents) == ["px", "py", "pz", "energy", "deta", "dphi"]
    assert (ak.to_numpy(got.label) == -1).all()
    with pytest.raises(JetFileError, match=r"kin_only.root: branch 'part_d0val': branch missing"):
        read_jetclass(path)


def test_wrong_dtype_and_shape_are_named(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(4, seed=1)
    good = tmp_path / "good.root"
    write_jetclass(good, jets)
    arrays = uproot.open(good)["tree"].arrays(library="ak")
    fields = {k: arrays[k] for k in arrays.fields if k != "npart"}
    # jet_pt stored as a jagged array instead of a scalar
    fields["jet_pt"] = ak.unflatten(ak.to_numpy(arrays["jet_pt"]), np.ones(4, dtype=np.int64))
    path = tmp_path / "jagged_jet_pt.root"
    with uproot.recreate(path) as f:
        f.mktree("tree", {k: v.type for k, v in fields.items()}).extend(fields)
    with pytest.raises(
        JetFileError, match=r"branch 'jet_pt': expected one number per jet, found var \* float32"
    ):
        read_jetclass(path)
    # part_px as a scalar instead of jagged
    fields = {k: arrays[k] for k in arrays.fields if k != "npart"}
    fields["part_px"] = ak.to_numpy(arrays["jet_pt"])
    path = tmp_path / "flat_px.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "tree", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in fields.items()}
        ).extend(fields)
    with pytest.raises(
        JetFileError, match=r"branch 'part_px': expected a jagged list per jet, found float32"
    ):
        read_jetclass(path)


def test_not_one_hot_labels_are_refused(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(6, seed=1)
    good = write_jetclass(tmp_path / "good.root", jets)
    arrays = uproot.open(good)["tree"].arrays(library="ak")
    fields = {k: arrays[k] for k in arrays.fields if k != "npart" and not k.startswith("part_")}
    fields["part"] = ak.zip({f: arrays[f"part_{f}"] for f in schema.CONSTITUENT_FIELDS})
    fields["label_QCD"] = np.ones(6, dtype=bool)  # now some jets have two labels
    path = tmp_path / "two_labels.root"
    with uproot.recreate(path) as f:
        f.mktree(
            "tree", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in fields.items()}
        ).extend(fields)
    with pytest.raises(
        JetFileError, match=r"two_labels.root: branch 'label_\*': \d jets are not one-hot"
    ):
        read_jetclass(path)


def test_truncated_garbage_and_foreign_files(tmp_path: Path, make_jets: MakeJets) -> None:
    path = write_jetclass(tmp_path / "full.root", make_jets(300, seed=1))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(JetFileError, match="truncated.root"):
        read_jetclass(truncated)
    garbage = tmp_path / "garbage.root"
    garbage.write_bytes(b"this is not a ROOT file" * 50)
    with pytest.raises(JetFileError, match="garbage.root: cannot open as a ROOT file"):
        read_jetclass(garbage)
    foreign = tmp_path / "foreign.root"
    with uproot.recreate(foreign) as f:
        f["Events"] = {"x": np.arange(3)}
    with pytest.raises(JetFileError, match="foreign.root: no TTree 'tree' \\(keys: Events\\)"):
        read_jetclass(foreign)


def test_invalid_values_are_dropped_and_counted(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(10, seed=4)
    counts = ak.num(jets.constituents)
    energy = ak.to_numpy(ak.flatten(jets.constituents.energy)).copy()
    d0 = ak.to_numpy(ak.flatten(jets.constituents.d0val)).copy()
    energy[[0, 3]] = [0.0, -1.0]
    d0[7] = np.nan
    jets = ak.with_field(jets, ak.unflatten(energy, counts), ["constituents", "energy"])
    jets = ak.with_field(jets, ak.unflatten(d0, counts), ["constituents", "d0val"])
    jet_pt = ak.to_numpy(jets.pt).copy()
    jet_pt[9] = np.inf
    jets = ak.with_field(jets, jet_pt, "pt")
    # the third jet loses every constituent but stays
    flat_px = ak.to_numpy(ak.flatten(jets.constituents.px)).copy()
    start = int(np.sum(ak.to_numpy(counts)[:2]))
    flat_px[start : start + int(counts[2])] = np.nan
    jets = ak.with_field(jets, ak.unflatten(flat_px, counts), ["constituents", "px"])
    path = write_jetclass(tmp_path / "dirty.root", jets)

    report = QualityReport()
    got = read_jetclass(path, report=report)
    assert len(got) == 9 and report.jets_dropped == 1
    assert report.constituents_dropped == 3 + int(counts[2])
    assert report.empty_jets == 1 and ak.num(got.constituents)[2] == 0
    assert report.problems[f"{path}: part_energy: energy <= 0"] == 2
    assert report.problems[f"{path}: part_d0val: non-finite value"] == 1
    assert report.problems[f"{path}: jet_pt: non-finite value"] == 1
    with pytest.raises(
        JetFileError, match=r"dirty.root: branch 'part_px': non-finite value in \d+ entries"
    ):
        read_jetclass(path, on_invalid="raise")


def test_parquet_round_trip_and_flat_jetclass_columns(tmp_path: Path, make_jets: MakeJets) -> None:
    jets = make_jets(30, seed=5)
    path = write_parquet(tmp_path / "jets.parquet", jets, row_group_size=8)
    assert_same_jets(read_parquet(path), jets)
    assert [len(c) for c in iterate_jets(path)] == [8, 8, 8, 6]
    root = write_jetclass(tmp_path / "jets.root", jets)
    flat = uproot.open(root)["tree"].arrays(library="ak")
    ak.to_parquet(flat[[f for f in flat.fields if f != "npart"]], tmp_path / "flat.parquet")
    assert_same_jets(read_jets(tmp_path / "flat.parquet"), jets)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(JetFileError, match="bad.parquet: cannot open as parquet"):
        read_jets(tmp_path / "bad.parquet")


def test_empty_file_reads_as_a_clear_error_and_iterates_to_nothing(
    tmp_path: Path, make_jets: MakeJets
) -> None:
    path = write_jetclass(tmp_path / "empty.root", make_jets(3)[:0])
    assert uproot.open(path)["tree"].num_entries == 0
    assert list(iterate_jetclass(path)) == []
    with pytest.raises(JetFileError, match="no jets in the input"):
        read_jetclass(path)


def bad_files(directory: Path, jets: ak.Array) -> dict[str, Path]:
    """JetClass files each wrong in one way, written with uproot."""
    good = write_jetclass(directory / "good.root", jets)
    arrays = uproot.open(good)["tree"].arrays(library="ak")
    base = {k: arrays[k] for k in arrays.fields if k != "npart" and not k.startswith("part_")}
    part = {f: arrays[f"part_{f}"] for f in schema.CONSTITUENT_FIELDS}
    n = len(jets)
    variants: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "missing_d0val": (base, {k: v for k, v in part.items() if k != "d0val"}),
        "missing_jet_eta": ({k: v for k, v in base.items() if k != "jet_eta"}, part),
        "nine_labels": ({k: v for k, v in base.items() if k != "label_Tbl"}, part),
        "text_jet_pt": ({**base, "jet_pt": ak.Array(["x"] * n)}, part),
        "two_labels": ({**base, "label_QCD": np.ones(n, dtype=bool)}, part),
    }
    paths = {}
    for name, (scalars, constituents) in variants.items():
        fields = {**scalars, "part": ak.zip(constituents)}
        paths[name] = directory / f"{name}.root"
        with uproot.recreate(paths[name]) as f:
            f.mktree(
                "tree",
                {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in fields.items()},
            ).extend(fields)
    return paths


EXPECTED_PROBLEMS = {
    "missing_d0val": "branch 'part_d0val': branch missing",
    "missing_jet_eta": "branch 'jet_eta': branch missing",
    "nine_labels": "branch 'label_Tbl': label branches incomplete (missing label_Tbl)",
    "text_jet_pt": "branch 'jet_pt': expected one number per jet, found string",
    "two_labels": "branch 'label_*': 6 jets are not one-hot",
}


def test_file_reader_and_coffea_path_refuse_the_same_way(
    tmp_path: Path, make_jets: MakeJets
) -> None:
    """One validation path: the file reader (features, train, scan) and coffea's
    virtual events (the processors) refuse each bad file with the same message."""
    pytest.importorskip("coffea")
    from coffea.nanoevents import BaseSchema, NanoEventsFactory

    for name, path in bad_files(tmp_path, make_jets(6, seed=1)).items():
        with pytest.raises(JetFileError) as by_reader:
            read_jetclass(path)
        events = NanoEventsFactory.from_root(
            {str(path): "tree"}, schemaclass=BaseSchema, mode="virtual"
        ).events()
        with pytest.raises(JetFileError) as by_coffea:
            jets_from_branches(events, schema.CONSTITUENT_FIELDS, source=path)
        expected = EXPECTED_PROBLEMS[name]
        assert str(by_reader.value).startswith(f"{path}: {expected}"), name
        assert str(by_coffea.value).startswith(f"{path}: {expected}"), name
