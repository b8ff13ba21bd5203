"""CKA over every layer pair of two ~1.6M-parameter Transformers on 10,000 jets, one core.

Usage (about 1.5 minutes on one core of a 2-core VM)::

    python benchmarks/bench_cka.py [--sample FILES] [--jets 10000] [--d-model 128] \
        [--n-layers 6] [--batch-size 256]

Two models with the same shape and different random weights (``--seed`` and
``--seed + 1``): d_model 128, 6 self-attention and 2 class-attention blocks,
``full21``, 128 slots, so 11 compared layers each (121 pairs). The jets are read
from ``--sample`` (JetClass ROOT or parquet) or made here like the tests' synthetic
jets (physical four-vectors, exponential pT fractions, about 40 constituents).

Two parts are timed separately, on one thread (``torch.set_num_threads(1)``,
``OMP_NUM_THREADS=1``): the representation pass (feature building and both
models' forward passes with hooks, :func:`jetscale.transfer.representations.representation_batches`),
and the CKA over all layer pairs from the stored representations
(:class:`jetscale.transfer.cka.MinibatchCKA`), for each estimator. The target
is the CKA of all pairs in under a minute.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import awkward as ak
import numpy as np
import torch
import vector

from jetscale.nn import ModelConfig, build_model, count_parameters
from jetscale.transfer.cka import ESTIMATORS, MinibatchCKA
from jetscale.transfer.representations import layer_names, read_jets_for, representation_batches

TARGET_S = 60.0  # the target for the CKA over all layer pairs


def synthetic_jets(n_jets: int, seed: int, mean_particles: float = 40.0) -> ak.Array:
    """Jets in the internal layout with physical values (as ``tests/conftest.py`` makes them)."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(mean_particles, n_jets) + 1
    n = int(counts.sum())
    jet_pt, jet_eta = rng.uniform(500, 1000, n_jets), rng.uniform(-2, 2, n_jets)
    jet_phi = rng.uniform(-np.pi, np.pi, n_jets)
    owner = np.repeat(np.arange(n_jets), counts)
    frac = rng.exponential(1.0, n)
    frac /= np.bincount(owner, weights=frac)[owner]
    deta, dphi = rng.normal(0, 0.2, n), rng.normal(0, 0.2, n)
    p4 = vector.array(
        {
            "pt": frac * jet_pt[owner],
            "eta": jet_eta[owner] + deta,
            "phi": jet_phi[owner] + dphi,
            "mass": np.full(n, 0.14),
        }
    )
    pid = rng.integers(0, 5, n)
    columns = {
        "px": p4.px,
        "py": p4.py,
        "pz": p4.pz,
        "energy": p4.E,
        "deta": deta,
        "dphi": dphi,
        "d0val": rng.normal(0, 0.05, n),
        "d0err": rng.uniform(0.005, 0.2, n),
        "dzval": rng.normal(0, 0.1, n),
        "dzerr": rng.uniform(0.005, 0.2, n),
        "charge": rng.integers(-1, 2, n),
    }
    constituents = {
        k: ak.unflatten(np.asarray(v, dtype=np.float32), counts) for k, v in columns.items()
    }
    flags = ("isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon")
    for index, flag in enumerate(flags):
        constituents[flag] = ak.unflatten((pid == index).astype(np.int32), counts)
    jet_p4 = vector.array(
        {"pt": jet_pt, "eta": jet_eta, "phi": jet_phi, "mass": rng.uniform(10, 200, n_jets)}
    )
    record = {
        "pt": jet_pt.astype(np.float32),
        "eta": jet_eta.astype(np.float32),
        "phi": jet_phi.astype(np.float32),
        "energy": np.asarray(jet_p4.E, dtype=np.float32),
        "label": rng.integers(0, 10, n_jets).astype(np.int32),
        "constituents": ak.zip(constituents),
    }
    return ak.zip(record, depth_limit=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", nargs="+", help="jet files (default: synthetic jets)")
    parser.add_argument("--jets", type=int, default=10_000, help="jets compared (default: 10000)")
    parser.add_argument("--d-model", type=int, default=128, help="model width (default: 128)")
    parser.add_argument(
        "--n-layers", type=int, default=6, help="self-attention blocks (default: 6)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=256, help="jets per minibatch (default: 256)"
    )
    parser.add_argument("--seed", type=int, default=0, help="weights and synthetic jets")
    args = parser.parse_args()
    torch.set_num_threads(1)

    config = ModelConfig(d_model=args.d_model, n_layers=args.n_layers, n_heads=8)
    models = []
    for offset in (0, 1):
        torch.manual_seed(args.seed + offset)
        models.append(build_model(config).eval())
    if args.sample:
        jets = read_jets_for(args.sample, [config.feature_set], args.jets)
        source = f"{len(jets):,} jets of {', '.join(args.sample)}"
    else:
        jets = synthetic_jets(args.jets, args.seed)
        source = f"{len(jets):,} synthetic jets"
    n_layers = len(layer_names(models[0]))
    mean_particles = float(np.mean(np.minimum(ak.num(jets["constituents"]), 128)))
    print(
        f"models: d_model {config.d_model}, {config.n_layers}+{config.n_class_layers} blocks, "
        f"{config.max_particles} slots, {count_parameters(config).total:,} parameters each; "
        f"{n_layers} layers each, {n_layers**2} pairs"
    )
    print(f"jets: {source}, {mean_particles:.1f} constituents on average; one thread")

    start = time.perf_counter()
    batches = [
        (list(a.values()), list(b.values()))
        for a, b in representation_batches(models, jets, args.batch_size)
    ]
    representation_s = time.perf_counter() - start
    print(
        f"representation pass (features, 2 forward passes, hooks): {representation_s:.1f} s "
        f"({len(jets) / representation_s:,.0f} jets/s, {len(batches)} minibatches)"
    )
    for estimator in ESTIMATORS:
        start = time.perf_counter()
        accumulator = MinibatchCKA(n_layers, n_layers, estimator)
        for a, b in batches:
            accumulator.update(a, b)
        matrix = accumulator.matrix()
        cka_s = time.perf_counter() - start
        verdict = "met" if cka_s < TARGET_S else "NOT met"
        print(
            f"CKA, {estimator} estimator, all {n_layers**2} pairs: {cka_s:.2f} s "
            f"(target < {TARGET_S:.0f} s: {verdict}); diagonal mean {np.diag(matrix).mean():.3f}"
        )


if __name__ == "__main__":
    main()
