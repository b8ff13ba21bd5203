"""``jetscale generate``: JetClass-format jets from Pythia 8 + FastJet + a detector card."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "generate JetClass-format jets with Pythia 8 + FastJet + a detector card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, required=True, help="output directory for the ROOT files"
    )
    parser.add_argument(
        "--classes", default="all", help="'all' or a comma-separated list such as QCD,Tbqq"
    )
    parser.add_argument("--jets-per-class", type=int, required=True, help="jets per class")
    parser.add_argument(
        "--detector",
        default="cms",
        help="detector card, see `jetscale cards` (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from jetscale.generate import generate
    from jetscale.schema import parse_classes

    summary = generate(
        args.out,
        parse_classes(args.classes),
        args.jets_per_class,
        detector=args.detector,
        seed=args.seed,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(summary)
    return 0
