"""``jetscale features``: feature arrays (.npz) of JetClass or parquet files."""

from __future__ import annotations

import argparse
from pathlib import Path

from jetscale.commands.options import add_feature_options

HELP = "write feature arrays (.npz) for JetClass/parquet files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="files, globs, directories or .txt file lists")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    add_feature_options(parser)


def run(args: argparse.Namespace) -> int:
    from jetscale.features.files import feature_file_name, write_feature_file
    from jetscale.io import QualityReport, expand_paths

    report = QualityReport()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in expand_paths(args.files):
        target = args.out / feature_file_name(path, args.feature_set)
        written, n_jets = write_feature_file(
            path, target, args.feature_set, args.max_particles, report
        )
        print(f"{written}: {n_jets} jets")
    print(report.summary())
    return 0
