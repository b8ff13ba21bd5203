"""``jetscale tag``: tag JetClass or NanoAOD files inside coffea (see :mod:`jetscale.jobs.tag`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jetscale.commands.options import add_experiment_option, add_label_option

HELP = "tag JetClass or NanoAOD files in coffea: .coffea accumulator, ROOT histograms, plots"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="files, globs, directories or .txt file lists")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=["jetclass", "nanoaod"],
        help="input format (nanoaod: PFNano or v15); default: detected, all files must agree",
    )
    parser.add_argument(
        "--model",
        help="shipped model (full21, kinpid) or model.onnx path with preprocess.json beside it; "
        "default: full21 for JetClass and PFNano, kinpid for NanoAOD v15",
    )
    parser.add_argument(
        "--executor",
        choices=["iterative", "futures", "dask"],
        default="iterative",
        help="coffea executor (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="futures/dask worker processes (default: %(default)s)",
    )
    parser.add_argument(
        "--scheduler", help="dask scheduler address (tcp://host:8786); default: a LocalCluster"
    )
    parser.add_argument(
        "--chunksize",
        type=int,
        default=20_000,
        help="events (or jets) per chunk (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("jetscale-tag"),
        help="output directory (default: %(default)s)",
    )
    add_experiment_option(parser)
    add_label_option(parser)
    parser.add_argument(
        "--min-pt",
        type=float,
        default=200.0,
        help="NanoAOD fat-jet pT cut in GeV (default: %(default)s)",
    )
    parser.add_argument(
        "--max-abs-eta",
        type=float,
        default=2.4,
        help="NanoAOD fat-jet |eta| cut (default: %(default)s)",
    )
    parser.add_argument(
        "--jet-id",
        choices=["tight", "loose", "none"],
        default="tight",
        help="NanoAOD fat-jet ID (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from jetscale.commands.progress import show_progress
    from jetscale.jobs.tag import TagConfig, run_tag_job, tagging_summary

    config = TagConfig(
        files=args.files,
        out=args.out,
        fmt=args.fmt,
        model=args.model,
        executor=args.executor,
        workers=args.workers,
        chunksize=args.chunksize,
        scheduler=args.scheduler,
        experiment=args.experiment,
        label=args.label,
        min_pt=args.min_pt,
        max_abs_eta=args.max_abs_eta,
        jet_id=args.jet_id,
        status=not args.no_progress,
    )
    with show_progress("tag", enabled=not args.no_progress):
        result = run_tag_job(config)
    accumulator = result["accumulator"]
    print(f"format: {result['format']}, model: {result['model']}")
    print(f"jets tagged per dataset: {json.dumps(accumulator.get('jets', {}))}")
    print(f"jets per true class: {json.dumps(accumulator.get('jets_per_class', {}))}")
    aucs = {d: a for d, a in tagging_summary(accumulator).get("auc_vs_qcd", {}).items() if a}
    if aucs:
        print(f"AUC vs QCD: {json.dumps(aucs)}")
    skipped = accumulator.get("skipped_files", {})
    print(f"skipped files: {len(skipped)}")
    for path, reason in skipped.items():
        print(f"  {path}: {reason}")
    for key, value in result["outputs"].items():
        shown = f"{len(value)} files" if isinstance(value, list) else str(value)
        print(f"{key}: {shown}")
    return 0
