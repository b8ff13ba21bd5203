"""The ``jetscale`` command line: thin argparse wrappers around the library.

Subcommands: ``run`` (the main job on the embedded default), ``generate``
(JetClass-format jets from Pythia), ``features`` (feature arrays of files),
``cards`` (list detector cards).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from jetscale import __version__
from jetscale.features import FEATURE_SETS


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except (ValueError, OSError) as err:  # JetFileError and CardError are ValueErrors
        print(f"jetscale {args.command}: error: {err}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jetscale", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"jetscale {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="the main job: generate (or reuse) a sample, build features, plot"
    )
    run.add_argument("--out", type=Path, default=Path("jetscale-output"), help="output directory")
    run.add_argument(
        "--data", nargs="+", help="use these JetClass/parquet files instead of generating"
    )
    run.add_argument("--jets-per-class", type=int, default=150)
    run.add_argument("--detector", default="cms")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--feature-set", choices=list(FEATURE_SETS), default="full21")
    run.add_argument("--max-particles", type=int, default=128)
    run.add_argument(
        "--experiment", default="CMS", help="mplhep style and label (CMS, ATLAS, LHCb, ALICE)"
    )
    run.set_defaults(handler=_run)

    gen = sub.add_parser(
        "generate", help="generate JetClass-format jets with Pythia 8 + FastJet + a detector card"
    )
    gen.add_argument("--out", type=Path, required=True, help="output directory for the ROOT files")
    gen.add_argument(
        "--classes", default="all", help="'all' or a comma-separated list such as QCD,Tbqq"
    )
    gen.add_argument("--jets-per-class", type=int, required=True)
    gen.add_argument("--detector", default="cms", help="detector card name (see `jetscale cards`)")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--workers", type=int, default=1)
    gen.add_argument("--no-progress", action="store_true")
    gen.set_defaults(handler=_generate)

    feat = sub.add_parser("features", help="write feature arrays (.npz) for JetClass/parquet files")
    feat.add_argument("files", nargs="+", help="files, globs, directories or .txt file lists")
    feat.add_argument("--out", type=Path, required=True, help="output directory")
    feat.add_argument("--feature-set", choices=list(FEATURE_SETS), default="full21")
    feat.add_argument("--max-particles", type=int, default=128)
    feat.set_defaults(handler=_features)

    cards = sub.add_parser("cards", help="list the detector cards")
    cards.set_defaults(handler=_cards)
    return parser


def _run(args: argparse.Namespace) -> int:
    from jetscale.mainjob import MainJobConfig, run_main_job

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
    )
    summary = run_main_job(config)
    print(json.dumps({k: v for k, v in summary.items() if k != "plots"}, indent=2))
    print(f"{len(summary['plots'])} plot files in {args.out / 'plots'}")  # type: ignore[arg-type]
    return 0


def _generate(args: argparse.Namespace) -> int:
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


def _features(args: argparse.Namespace) -> int:
    from jetscale.arrays import write_feature_file
    from jetscale.io import QualityReport, expand_paths

    report = QualityReport()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in expand_paths(args.files):
        target = args.out / f"{path.stem}_{args.feature_set}.npz"
        written, n_jets = write_feature_file(
            path, target, args.feature_set, args.max_particles, report
        )
        print(f"{written}: {n_jets} jets")
    print(report.summary())
    return 0


def _cards(args: argparse.Namespace) -> int:
    from jetscale.generate.cards import available_cards, load_card

    for name in available_cards():
        card = load_card(name)
        print(f"{name}: {card.description}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
