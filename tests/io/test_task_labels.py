"""Readers label jets by a task: new label branches, groups, per-class files, and bad labels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from jetscale import schema
from jetscale.io import JetFileError, read_jets, write_jetclass, write_parquet
from jetscale.io.reader import label_branches_of
from jetscale.task import parse_task

MakeJets = Callable[..., ak.Array]
WITH_X = (*schema.CLASS_NAMES, "Xbb_m60")


def _write_ttree(path: Path, data: dict[str, object]) -> Path:
    """A JetClass-like TTree written branch by branch (``f[name] = dict`` writes an RNTuple)."""
    with uproot.recreate(path) as f:
        types = {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in data.items()}  # type: ignore[attr-defined]
        f.mktree("tree", types).extend(data)
    return path


def _with_labels(jets: ak.Array, labels: np.ndarray) -> ak.Array:
    return ak.with_field(jets, labels.astype(np.int32), "label")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, make_jets: MakeJets) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("task_labels")
    jets = make_jets(60, seed=5, mean_particles=8)
    # Labels by hand: X (index 10) for the first 20, then Hbb, Hcc, QCD repeating.
    labels = np.concatenate([np.full(20, 10), np.tile([1, 2, 0], 40)[:40]])
    mixed = _with_labels(jets, labels)
    qcd = _with_labels(make_jets(15, seed=6, mean_particles=8), np.zeros(15))
    return {
        "labels": labels,
        "mixed_root": write_jetclass(folder / "mixed.root", mixed, class_names=WITH_X),
        "mixed_parquet": write_parquet(folder / "mixed.parquet", mixed, class_names=WITH_X),
        "qcd_root": write_jetclass(folder / "qcd.root", qcd),
    }


def test_written_file_has_the_ten_branches_and_the_new_one(files: dict[str, object]) -> None:
    labels = files["labels"]
    with uproot.open(files["mixed_root"]) as f:
        tree = f["tree"]
        assert {*schema.LABEL_BRANCHES, "label_Xbb_m60"} <= set(tree.keys())
        assert (tree["label_Xbb_m60"].array(library="np") == (labels == 10)).all()
        assert (tree["label_Hbb"].array(library="np") == (labels == 1)).all()
        assert not tree["label_Tbl"].array(library="np").any()
    assert label_branches_of(files["mixed_root"]) == [*schema.LABEL_BRANCHES, "label_Xbb_m60"]
    assert label_branches_of(files["mixed_parquet"]) == [f"label_{n}" for n in WITH_X]


@pytest.mark.parametrize("kind", ["mixed_root", "mixed_parquet"])
def test_labels_follow_the_task(files: dict[str, object], kind: str) -> None:
    labels = files["labels"]
    path = files[kind]
    # Expected indices written out by hand from the labels above.
    default = read_jets(path)["label"]
    assert ak.to_list(default) == [-1 if v == 10 else int(v) for v in labels]
    binary = read_jets(path, task=parse_task("Xbb_m60,QCD"))["label"]
    assert ak.to_list(binary) == [{10: 0, 0: 1}.get(int(v), -1) for v in labels]
    grouped = read_jets(path, task=parse_task("Higgs=Hbb+Hcc,QCD"))["label"]
    assert ak.to_list(grouped) == [{1: 0, 2: 0, 0: 1}.get(int(v), -1) for v in labels]


def test_a_file_without_a_task_branch_holds_no_jet_of_it(files: dict[str, object]) -> None:
    labels = read_jets(files["qcd_root"], task=parse_task("Xbb_m60,QCD"))["label"]
    assert ak.to_list(labels) == [1] * 15


def test_labels_must_be_one_hot_over_every_label_branch(
    tmp_path: Path, make_jets: MakeJets
) -> None:
    jets = make_jets(4, seed=7, mean_particles=5)
    branches = {
        "part_" + f: ak.values_astype(jets["constituents"][f], schema.constituent_dtype(f))
        for f in schema.CONSTITUENT_FIELDS
    }
    branches |= {
        b: ak.to_numpy(jets[f]) for f, b in zip(schema.JET_FIELDS, schema.JET_BRANCHES, strict=True)
    }
    branches |= {b: np.array([True, False, False, False]) for b in schema.LABEL_BRANCHES[:1]}
    branches |= {b: np.zeros(4, dtype=bool) for b in schema.LABEL_BRANCHES[1:]}
    branches["label_Xbb_m60"] = np.array([True, True, False, False])  # jet 0: two labels
    path = tmp_path / "two_labels.root"
    part = ak.zip({k[5:]: v for k, v in branches.items() if k.startswith("part_")})
    _write_ttree(
        path, {"part": part, **{k: v for k, v in branches.items() if not k.startswith("part_")}}
    )
    with pytest.raises(JetFileError, match=r"two_labels.root.*label_\*.*not one-hot"):
        read_jets(path, task=parse_task("Xbb_m60,QCD"))


def test_the_jetclass_task_still_wants_all_ten_branches(
    tmp_path: Path, make_jets: MakeJets
) -> None:
    jets = make_jets(3, seed=8, mean_particles=5)
    data = {
        "part": ak.zip(
            {
                f: ak.values_astype(jets["constituents"][f], schema.constituent_dtype(f))
                for f in schema.CONSTITUENT_FIELDS
            }
        ),
        **{
            b: ak.to_numpy(jets[f])
            for f, b in zip(schema.JET_FIELDS, schema.JET_BRANCHES, strict=True)
        },
        "label_QCD": np.array([True, False, True]),
        "label_Hbb": np.array([False, True, False]),
    }
    path = tmp_path / "two_classes.root"
    _write_ttree(path, data)
    with pytest.raises(JetFileError, match="label branches incomplete"):
        read_jets(path)
    # An explicit task reads exactly the branches it names.
    assert ak.to_list(read_jets(path, task=parse_task("Hbb,QCD"))["label"]) == [1, 0, 1]


def test_an_rntuple_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "rntuple.root"
    with uproot.recreate(path) as f:
        f["tree"] = {"jet_pt": np.ones(3, dtype=np.float32)}  # uproot writes an RNTuple
    with pytest.raises(JetFileError, match="rntuple.root.*RNTuple, not a TTree"):
        read_jets(path)
