"""Generator throughput: jets/s of one worker for each JetClass class.

Usage::

    python benchmarks/bench_generate.py [--jets 20] [--detector cms]

Each class runs in this one process (one worker), Pythia initialisation
included, so the numbers are what one `--workers` process delivers.
"""

from __future__ import annotations

import argparse
import time

from jetscale.generate import generate_class
from jetscale.schema import CLASS_NAMES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jets", type=int, default=20, help="jets per class")
    parser.add_argument("--detector", default="cms")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    print(f"{'class':6s} {'jets':>5s} {'seconds':>8s} {'jets/s/worker':>14s}")
    total_jets, total_time = 0, 0.0
    for name in CLASS_NAMES:
        start = time.perf_counter()
        jets = generate_class(name, args.jets, detector=args.detector, seed=args.seed)
        seconds = time.perf_counter() - start
        total_jets += len(jets)
        total_time += seconds
        print(f"{name:6s} {len(jets):5d} {seconds:8.1f} {len(jets) / seconds:14.1f}")
    print(f"{'all':6s} {total_jets:5d} {total_time:8.1f} {total_jets / total_time:14.1f}")


if __name__ == "__main__":
    main()
