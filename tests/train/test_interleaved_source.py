"""Training on per-class files (JetClass's layout) larger than a chunk.

Before the interleaved source, training streamed files one after the other: every
chunk of 20,000 jets held one class, and ``--max-jets U`` took the first file's
class only. These tests count classes in what training actually receives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from scipy import stats

from jetscale.io import write_jetclass
from jetscale.train.data import JetSource, split_sources

CLASSES = 4
PER_CLASS = 700


@pytest.fixture
def per_class_files(tmp_path: Path, make_jets: Callable[..., ak.Array]) -> list[str]:
    """Four files of one class each; ``sdmass`` tags a jet by class * 10,000 + index."""
    paths = []
    for label in range(CLASSES):
        jets = make_jets(PER_CLASS, seed=label, mean_particles=6)
        jets = ak.with_field(jets, np.full(PER_CLASS, label, dtype=np.int32), "label")
        tag = (label * 10_000 + np.arange(PER_CLASS)).astype(np.float32)
        jets = ak.with_field(jets, tag, "sdmass")
        paths.append(str(write_jetclass(tmp_path / f"class{label}.root", jets)))
    return paths


def test_every_batch_holds_every_class_in_proportion(per_class_files: list[str]) -> None:
    source = JetSource(tuple(per_class_files), "kin", 16, chunk_jets=500)
    chunks = list(source.chunks())
    assert [len(c) for c in chunks] == [500] * 5 + [300]
    for chunk in chunks:  # each chunk: the classes within one jet of equal shares
        counts = np.bincount(ak.to_numpy(chunk.label), minlength=CLASSES)
        assert np.abs(counts - len(chunk) / CLASSES).max() <= 1.0
    batches = list(source.batches(batch_size=100, seed=3, epoch=0))
    assert sum(len(b.label) for b in batches) == CLASSES * PER_CLASS
    # A batch is a random draw of 100 from a chunk of 500 with 125 jets per class:
    # hypergeometric. Every class is in every batch, none beyond the 1e-6 quantiles.
    low, high = stats.hypergeom(500, 125, 100).ppf([1e-6, 1 - 1e-6])
    for batch in batches[:25]:  # the full 500-jet chunks
        counts = np.bincount(batch.label, minlength=CLASSES)
        assert counts.min() >= max(low, 1) and counts.max() <= high, counts


def test_max_jets_is_class_mixed_and_nested(per_class_files: list[str]) -> None:
    previous: set[float] = set()
    for u in (10, 41, 333, 1200, 2799):
        source = JetSource(tuple(per_class_files), "kin", 16, max_jets=u, chunk_jets=256)
        jets = ak.concatenate(list(source.chunks()))
        assert len(jets) == u
        counts = np.bincount(ak.to_numpy(jets.label), minlength=CLASSES)
        assert np.abs(counts - u / CLASSES).max() <= 1.0, (u, counts)
        tags = set(ak.to_numpy(jets.sdmass).tolist())
        assert previous <= tags  # the smaller U's jets are among the larger U's
        previous = tags
    # ... and independent of the chunk size (the order is the files')
    small = JetSource(tuple(per_class_files), "kin", 16, max_jets=333, chunk_jets=7)
    tags = ak.to_numpy(ak.concatenate(list(small.chunks())).sdmass)
    big = JetSource(tuple(per_class_files), "kin", 16, max_jets=333, chunk_jets=5000)
    np.testing.assert_array_equal(tags, ak.to_numpy(ak.concatenate(list(big.chunks())).sdmass))


def test_held_out_validation_is_class_mixed(per_class_files: list[str]) -> None:
    train, val = split_sources(per_class_files, [], "kin", 16, None, 0.1, 200, 500)
    held = ak.concatenate(list(val.chunks()))
    assert len(held) == 200
    counts = np.bincount(ak.to_numpy(held.label), minlength=CLASSES)
    assert np.abs(counts - 50).max() <= 1.0, counts
    trained = set(ak.to_numpy(ak.concatenate(list(train.chunks())).sdmass).tolist())
    assert not trained & set(ak.to_numpy(held.sdmass).tolist())
    assert len(trained) == CLASSES * PER_CLASS - CLASSES * PER_CLASS // 10


def test_root_written_jetclass_files_train_as_they_are() -> None:
    """Files in the real JetClass layout (std::vector branches, bool and float labels, by ROOT)."""
    data = Path(__file__).resolve().parents[1] / "io" / "data"
    files = (str(data / "HToBB_rootlayout.root"), str(data / "ZJetsToNuNu_rootlayout.root"))
    source = JetSource(files, "full21", 32, chunk_jets=50)
    batches = list(source.batches(batch_size=25, seed=0, epoch=0))
    assert [len(b.label) for b in batches] == [25, 25, 25, 25]
    for batch in batches:  # 40 H->bb (label 1) and 60 QCD (label 0) jets: 2:3 in every chunk
        assert set(batch.label.tolist()) == {0, 1}
        assert np.isfinite(batch.x).all() and batch.mask.any(axis=1).all()
    labels = np.concatenate([b.label for b in batches])
    assert np.bincount(labels).tolist() == [60, 40]


def test_a_small_source_is_read_once_and_gives_the_same_batches(
    per_class_files: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few-label runs (U <= chunk_jets) keep their built jets; every epoch's batches are unchanged."""
    import jetscale.train.data as data

    kept = JetSource(tuple(per_class_files), "kin", 16, max_jets=150, chunk_jets=200)
    first = list(kept.batches(32, seed=3, epoch=0))
    reads: list[int] = []
    real_chunks = JetSource.chunks
    monkeypatch.setattr(
        data.JetSource,
        "chunks",
        lambda self, report=None: reads.append(1) or real_chunks(self, report),
    )
    for epoch in (0, 1, 2):
        fresh = JetSource(tuple(per_class_files), "kin", 16, max_jets=150, chunk_jets=200)
        for mine, theirs in zip(
            kept.batches(32, seed=3, epoch=epoch),
            fresh.batches(32, seed=3, epoch=epoch),
            strict=True,
        ):
            np.testing.assert_array_equal(mine.x, theirs.x)
            np.testing.assert_array_equal(mine.mask, theirs.mask)
            np.testing.assert_array_equal(mine.label, theirs.label)
    assert len(reads) == 3  # the three fresh sources read the files; the kept one never again
    assert sum(len(b.label) for b in first) == 150
