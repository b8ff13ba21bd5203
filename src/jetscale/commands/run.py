"""``jetscale run``: the main job on the embedded default (see :mod:`jetscale.jobs.main`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jetscale.commands.options import (
    add_experiment_option,
    add_feature_options,
    add_label_option,
)
from jetscale.commands.progress import add_progress_option, show_progress

HELP = "the main job: generate (or reuse) a sample, build features, histogram, tag, plot"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("jetscale-output"),
        help="output directory (default: %(default)s)",
    )
    parser.add_argument(
        "--data",
        nargs="+",
        help="use these JetClass/parquet files instead of generating (default: generate a sample "
        "in OUT/sample, reused by the next run of the same settings)",
    )
    parser.add_argument(
        "--jets-per-class",
        type=int,
        default=150,
        help="jets generated per class (default: %(default)s)",
    )
    parser.add_argument(
        "--detector",
        default="cms",
        help="detector card to generate with, see `jetscale cards` (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default: %(default)s)")
    parser.add_argument(
        "--workers", type=int, default=2, help="generator worker processes (default: %(default)s)"
    )
    add_feature_options(parser)
    add_experiment_option(parser)
    add_progress_option(parser)
    add_label_option(parser)
    parser.add_argument(
        "--nanoaod",
        type=Path,
        default=Path("../shared/data/nanoaod"),
        help="directory of NanoAOD files to tag too, when present (default: %(default)s)",
    )
    parser.add_argument("--no-nanoaod", action="store_true", help="do not tag NanoAOD files")


def run(args: argparse.Namespace) -> int:
    from jetscale.jobs.main import MainJobConfig, run_main_job

    config = MainJobConfig(
        out=args.out,
        data=args.data,
        jets_per_class=args.jets_per_class,
        detector=args.detector,
        seed=args.seed,
        workers=args.workers,
        feature_set=args.feature_set,
        max_particles=args.max_particles,
        experiment=args.experiment,
        label=args.label,
        nanoaod_dir=None if args.no_nanoaod else args.nanoaod,
    )
    with show_progress("run", enabled=not args.no_progress):
        summary = run_main_job(config)
    plots = summary["plots"]
    assert isinstance(plots, list)
    print(json.dumps({k: v for k, v in summary.items() if k != "plots"}, indent=2))
    print(f"{len(plots)} plot files in {args.out / 'plots'}")
    return 0
