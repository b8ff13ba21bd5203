"""Feature-building throughput: the fused kernel against a per-jet NumPy loop, side by side.

Usage::

    python benchmarks/bench_features.py [--sample DIR_OR_FILES] [--jets 100000]

Jets come from a generated JetClass-format sample (Pythia + detector card; a
small one is generated if none is given) and are tiled up to ``--jets`` so the
multiplicity distribution is realistic. Everything runs on one core in one
process; the printed ratios compare runs made here, now.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import awkward as ak
import numpy as np

from jetscale.features import build_features, feature_batches
from jetscale.features.reference import build_features_loop
from jetscale.io import read_jets


def best_rate(fn, n_jets: int, repeats: int) -> float:  # type: ignore[no-untyped-def]
    """Jets per second of the fastest of ``repeats`` runs (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n_jets / min(times)


def load_sample(spec: list[str] | None) -> ak.Array:
    if spec:
        return read_jets(spec)
    from jetscale.generate import generate

    out = tempfile.mkdtemp(prefix="jetscale-bench-")
    print(f"generating a small sample (QCD, Tbqq, Hbb; 100 jets each) in {out} ...")
    summary = generate(out, ["QCD", "Tbqq", "Hbb"], 100, seed=7, workers=2, progress=False)
    return read_jets(summary.files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", nargs="+", help="JetClass files to take jets from")
    parser.add_argument("--jets", type=int, default=100_000)
    parser.add_argument("--loop-jets", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    sample = load_sample(args.sample)
    reps = -(-args.jets // len(sample))
    jets = ak.to_packed(ak.concatenate([sample] * reps)[: args.jets])
    mean_n = float(ak.mean(ak.num(jets.constituents)))
    print(
        f"{len(jets)} jets (tiled from {len(sample)} generated jets), mean {mean_n:.1f} constituents"
    )
    print("feature set full21, max_particles 128, constant padding, one core\n")

    build_features(jets[:10])  # compile outside the timing

    def batched() -> None:
        for _ in feature_batches(jets, args.batch_size, "full21", 128):
            pass

    whole = best_rate(lambda: build_features(jets, "full21", 128), len(jets), args.repeats)
    batch = best_rate(batched, len(jets), args.repeats)
    loop_jets = jets[: args.loop_jets]
    loop = best_rate(lambda: build_features_loop(loop_jets, "full21", 128), len(loop_jets), 1)

    x, mask = build_features(loop_jets)
    x_ref, mask_ref = build_features_loop(loop_jets)
    agree = np.array_equal(mask, mask_ref) and float(np.abs(x - x_ref).max()) < 1e-5

    print(f"{'method':44s} {'jets/s':>12s} {'vs loop':>9s}")
    print(f"{'per-jet NumPy loop (reference.py)':44s} {loop:12,.0f} {1.0:9.1f}x")
    print(f"{'build_features, whole array (fresh output)':44s} {whole:12,.0f} {whole / loop:9.1f}x")
    print(
        f"{f'feature_batches, {args.batch_size} jets/batch (reused buffer)':44s} {batch:12,.0f} {batch / loop:9.1f}x"
    )
    print(f"\noutputs identical to the loop (|dx| < 1e-5): {agree}")
    print(
        f"output bytes per jet: {128 * 21 * 4 + 128} -> {batch * (128 * 21 * 4 + 128) / 1e9:.2f} GB/s written"
    )


if __name__ == "__main__":
    main()
