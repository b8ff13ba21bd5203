"""``jetscale generate``: JetClass-format jets from Pythia 8 + FastJet + a detector card."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "generate JetClass-format jets with Pythia 8 + FastJet + a detector card"
EPILOG = (
    "Work units of 500 jets run in this process (--workers 1), in N processes "
    "(--workers N), on a local dask cluster (--executor dask --workers N) or on a running "
    "dask cluster (--scheduler ADDRESS, such as a dask-jobqueue cluster on Slurm or "
    "HTCondor; its workers need jetscale[gen]). Each finished unit is written to OUT/units "
    "at once, and a class's file once all its units are done: a run that stopped (killed, "
    "workers lost) is finished by running the same command again. The same --seed gives "
    "identical files for any executor and number of workers. Exit status 1: units were "
    "lost with their workers (listed); run the command again."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
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
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on this machine, in a pool or a local dask cluster (default: 1)",
    )
    parser.add_argument(
        "--executor",
        choices=("processes", "dask"),
        default=None,
        help="'processes' (default) or 'dask'; --scheduler implies 'dask'",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running dask scheduler, such as tcp://host:8786 (--workers is then unused)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from jetscale.generate import GenerationIncompleteError, generate
    from jetscale.schema import parse_classes

    try:
        summary = generate(
            args.out,
            parse_classes(args.classes),
            args.jets_per_class,
            detector=args.detector,
            seed=args.seed,
            workers=args.workers,
            progress=not args.no_progress,
            executor=args.executor,
            scheduler=args.scheduler,
        )
    except GenerationIncompleteError as err:
        print(err.summary)
        print(f"jetscale generate: {err}", file=sys.stderr)
        return 1
    print(summary)
    return 0
