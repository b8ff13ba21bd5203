"""A sweep's data: its identity by content, and the mean tokens per jet, without merging."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import xxhash

from jetscale.io import JetFileError, write_jetclass
from jetscale.io.identity import data_identity
from jetscale.jobs.scan import check_same_data
from jetscale.scaling.sweep_config import SweepConfigError
from jetscale.scaling.sweep_data import tokens_per_jet


def test_identity_is_the_files_content(tmp_path: Path, make_jets: Callable[..., ak.Array]) -> None:
    path = write_jetclass(tmp_path / "a.root", make_jets(30, seed=1))
    (entry,) = data_identity([str(path)])
    assert entry["xxh3_128"] == xxhash.xxh3_128(path.read_bytes()).hexdigest()
    assert entry["bytes"] == path.stat().st_size and entry["file"] == str(path.resolve())


def test_an_unchanged_file_is_not_read_again(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    path = write_jetclass(tmp_path / "a.root", make_jets(30, seed=1))
    (entry,) = data_identity([str(path)])
    (again,) = data_identity([str(path)], [{**entry, "xxh3_128": "remembered"}])
    assert again["xxh3_128"] == "remembered"  # size and mtime match: the stored hash is kept
    os.utime(path, ns=(entry["mtime_ns"] + 10**9, entry["mtime_ns"] + 10**9))
    (touched,) = data_identity([str(path)], [{**entry, "xxh3_128": "remembered"}])
    assert touched["xxh3_128"] == entry["xxh3_128"]  # touched: hashed again


def test_a_sweep_refuses_rewritten_data_and_accepts_moved_data(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    out = tmp_path / "sweep"
    (out / "runs").mkdir(parents=True)
    train = write_jetclass(tmp_path / "train.root", make_jets(30, seed=1))
    check_same_data(out, [str(train)], [])
    moved = tmp_path / "elsewhere" / "renamed.root"
    moved.parent.mkdir()
    shutil.move(train, moved)
    check_same_data(out, [str(moved)], [])  # the same bytes under another name
    # Same name, same size, other bytes: once accepted (names and sizes matched).
    # (One byte in the middle of the file changed; the identity never opens it as ROOT.)
    data = bytearray(moved.read_bytes())
    data[len(data) // 2] ^= 0xFF
    moved.write_bytes(bytes(data))
    with pytest.raises(
        SweepConfigError, match=r"trained on other data \(train file .*renamed.root"
    ):
        check_same_data(out, [str(moved)], [])


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(JetFileError, match=r"gone.root: cannot be read \(FileNotFoundError"):
        data_identity([str(tmp_path / "gone.root")])


def test_tokens_per_jet_streams_the_counts(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    jets = [make_jets(500, seed=s, mean_particles=m) for s, m in ((1, 10), (2, 60))]
    paths = [str(write_jetclass(tmp_path / f"{i}.root", j)) for i, j in enumerate(jets)]
    counts = np.concatenate([ak.to_numpy(ak.num(j.constituents)) for j in jets])
    n_bar = tokens_per_jet(paths)
    for p in (1, 16, 50, 1000):
        assert n_bar(p) == pytest.approx(np.minimum(counts, p).mean(), rel=1e-12)


def test_tokens_per_jet_reads_each_file_once_per_sweep(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    """Counts of known content come from the sweep's cache: a restart reads no jet again."""
    jets = [make_jets(300, seed=s, mean_particles=m) for s, m in ((3, 12), (4, 40))]
    paths = [str(write_jetclass(tmp_path / f"{i}.root", j)) for i, j in enumerate(jets)]
    counts = np.concatenate([ak.to_numpy(ak.num(j.constituents)) for j in jets])
    digests = [entry["xxh3_128"] for entry in data_identity(paths)]
    cache = tmp_path / "sweep" / "constituent_counts.json"
    cache.parent.mkdir()
    first = tokens_per_jet(paths, digests, cache)
    assert sorted(json.loads(cache.read_text())["histograms"]) == sorted(digests)
    for path in paths:
        Path(path).unlink()  # a read would now fail: the second call must not read
    again = tokens_per_jet(paths, digests, cache)
    for p in (1, 16, 50, 1000):
        expected = np.minimum(counts, p).mean()
        assert first(p) == pytest.approx(expected, rel=1e-12)
        assert again(p) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(JetFileError):  # unknown content is read (and here missing)
        tokens_per_jet(paths, ["another", digests[1]], cache)
    cache.write_text("{not json")  # a damaged cache is not trusted: the files are read again
    with pytest.raises(JetFileError):
        tokens_per_jet(paths, digests, cache)


def test_a_sweep_of_the_older_merged_format_is_refused_with_the_reason(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    out = tmp_path / "sweep"
    (out / "runs").mkdir(parents=True)
    train = write_jetclass(tmp_path / "train.root", make_jets(30, seed=1))
    old = {"files": [str(train.resolve())], "bytes": [train.stat().st_size]}
    (out / "data_identity.json").write_text(json.dumps(old))
    with pytest.raises(SweepConfigError, match=r"older jetscale, which merged and shuffled"):
        check_same_data(out, [str(train)], [])
