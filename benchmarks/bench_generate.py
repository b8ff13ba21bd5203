"""Generator throughput: jets/s of one worker for each JetClass class, per detector card.

Usage::

    python benchmarks/bench_generate.py [--jets 20] [--detector cms cms_parametric]

Each class runs in this one process (one worker), Pythia initialisation
included, so the numbers are what one `--workers` process delivers. With several
cards, each class is generated with every card in turn (same seed, so the same
Pythia events) and the last columns give each card's time relative to the first:
side by side in one run, so a busy machine slows every card alike.
"""

from __future__ import annotations

import argparse
import time

from jetscale.generate import generate_class
from jetscale.schema import CLASS_NAMES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jets", type=int, default=20, help="jets per class and card")
    parser.add_argument(
        "--detector",
        nargs="+",
        default=["cms"],
        help="detector card(s); with several, every class is generated with each in turn",
    )
    parser.add_argument("--seed", type=int, default=3, help="generator seed (same for every card)")
    args = parser.parse_args()
    cards = args.detector
    header = f"{'class':6s} " + " ".join(f"{c + ' jets/s':>22s}" for c in cards)
    header += "".join(f" {c + '/' + cards[0] + ' time':>30s}" for c in cards[1:])
    print(header)
    totals = {card: [0, 0.0] for card in cards}
    for name in CLASS_NAMES:
        seconds: dict[str, float] = {}
        for card in cards:
            start = time.perf_counter()
            jets = generate_class(name, args.jets, detector=card, seed=args.seed)
            seconds[card] = time.perf_counter() - start
            totals[card][0] += len(jets)
            totals[card][1] += seconds[card]
        rates = " ".join(f"{args.jets / seconds[c]:22.1f}" for c in cards)
        ratios = "".join(f" {seconds[c] / seconds[cards[0]]:30.2f}" for c in cards[1:])
        print(f"{name:6s} {rates}{ratios}")
    rates = " ".join(f"{totals[c][0] / totals[c][1]:22.1f}" for c in cards)
    ratios = "".join(f" {totals[c][1] / totals[cards[0]][1]:30.2f}" for c in cards[1:])
    print(f"{'all':6s} {rates}{ratios}")


if __name__ == "__main__":
    main()
