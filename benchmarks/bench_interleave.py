"""Interleaved per-class files against one pre-shuffled file: training jets/s, side by side.

Usage::

    python benchmarks/bench_interleave.py [--sample jetscale-output/sample/*.root]

Before jets were read side by side, per-class files had to be merged into one
shuffled file (``jetscale scan`` did it in memory) and training read that file
sequentially. This benchmark writes the *same jets* both ways, once as one file
per class (each larger than a training chunk, as JetClass's files are) and once
as a single file in a random order, and measures on each, alternating A B A B
so the machine's drift hits both alike:

* reading: the training source's batches (reading, feature building, shuffling);
* training: the same plus an AdamW step of the small model (d=64, L=3).

The jets are the generated sample's (Pythia + FastJet + the CMS card), drawn with
replacement up to ``--jets-per-class``. Target: interleaved >= 90% of the single file.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import awkward as ak
import numpy as np
import torch
import torch.nn.functional as F

from _sample import sample_jets  # benchmarks/_sample.py: the benchmarks' default jets
from jetscale.io import write_jetclass
from jetscale.nn import ModelConfig, build_model
from jetscale.train.config import TrainConfig
from jetscale.train.data import JetSource
from jetscale.train.loop import make_optimizer

SMALL = ModelConfig(d_model=64, n_layers=3, n_heads=4, ff_ratio=4, n_class_layers=1)


def write_both(jets: ak.Array, per_class: int, where: Path) -> tuple[list[str], list[str]]:
    """The same jets as one file per class and as one shuffled file."""
    rng = np.random.default_rng(1)
    labels = ak.to_numpy(jets.label)
    parts = []
    class_files = []
    for label in np.unique(labels):
        pool = np.flatnonzero(labels == label)
        part = jets[rng.choice(pool, per_class)]
        parts.append(part)
        class_files.append(str(write_jetclass(where / f"class{label}.root", part)))
    everything = ak.concatenate(parts)
    shuffled = everything[rng.permutation(len(everything))]
    return class_files, [str(write_jetclass(where / "shuffled.root", shuffled))]


def reading_rate(files: list[str], batch_size: int) -> float:
    source = JetSource(tuple(files), "full21", 128)
    start = time.perf_counter()
    jets = sum(len(b.label) for b in source.batches(batch_size, seed=0, epoch=0))
    return jets / (time.perf_counter() - start)


def training_rate(files: list[str], batch_size: int, max_jets: int) -> float:
    torch.manual_seed(0)
    model = build_model(SMALL)
    optimizer = make_optimizer(model, TrainConfig(data=("unused",), out="unused"))
    source = JetSource(tuple(files), "full21", 128, max_jets=max_jets)
    start = time.perf_counter()
    jets = 0
    for batch in source.batches(batch_size, seed=0, epoch=0):
        loss = F.cross_entropy(
            model(torch.from_numpy(batch.x), torch.from_numpy(batch.mask)),
            torch.from_numpy(batch.label),
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        jets += len(batch.label)
    return jets / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", nargs="+", help="generated JetClass files (default: make some)")
    parser.add_argument(
        "--jets-per-class", type=int, default=25_000, help="jets per class file (default: 25000)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="A/B repeats (default: 3)")
    parser.add_argument("--batch-size", type=int, default=256, help="batch size (default: 256)")
    parser.add_argument(
        "--train-jets",
        type=int,
        default=6_000,
        help="jets per training measurement (default: 6000)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    jets = sample_jets(args.sample, ("QCD", "Hbb", "Tbqq", "Wqq"), 60)
    with tempfile.TemporaryDirectory(prefix="jetscale-interleave-") as tmp:
        class_files, shuffled = write_both(jets, args.jets_per_class, Path(tmp))
        n = len(class_files) * args.jets_per_class
        print(
            f"{len(class_files)} per-class files of {args.jets_per_class} jets; the same {n} jets in one shuffled file"
        )
        print(f"{'measurement':34s} {'one file':>10s} {'interleaved':>12s} {'ratio':>7s}")
        for name, measure in (
            ("reading + features (jets/s)", lambda f: reading_rate(f, args.batch_size)),
            (
                "training, small model (jets/s)",
                lambda f: training_rate(f, args.batch_size, args.train_jets),
            ),
        ):
            single, mixed = [], []
            for _ in range(args.repeats):
                single.append(measure(shuffled))
                mixed.append(measure(class_files))
            ratios = [m / s for m, s in zip(mixed, single, strict=True)]
            print(
                f"{name:34s} {statistics.median(single):10,.0f} {statistics.median(mixed):12,.0f} "
                f"{statistics.median(ratios):7.2f}  (per repeat: {', '.join(f'{r:.2f}' for r in ratios)})"
            )


if __name__ == "__main__":
    main()
