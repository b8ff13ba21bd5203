"""``jetscale scan``: a scaling sweep (YAML) as dask tasks (see :mod:`jetscale.jobs.scan`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jetscale.commands.progress import add_progress_option, show_progress

HELP = "run a scaling sweep (YAML) as dask tasks; restartable; writes results.csv/.parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="sweep file (YAML; see analysis_examples/scaling_demo/sweep.yaml and docs/scaling.md)",
    )
    parser.add_argument("--out", type=Path, required=True, help="sweep directory")
    parser.add_argument(
        "--workers", type=int, default=None, help="local-cluster worker processes (default: cores)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per worker (default: %(default)s)"
    )
    parser.add_argument(
        "--scheduler", default=None, help="address of a running dask scheduler (default: local)"
    )
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from jetscale.jobs.scan import scan
    from jetscale.scaling.sweep_config import SweepConfig

    config = SweepConfig.from_file(args.config)

    def report(row: dict[str, object]) -> None:
        print(
            f"done {row['run_dir']}: loss {row['loss']:.4f}, {row['wall_time_s']:.0f} s", flush=True
        )

    with show_progress("scan", not args.no_progress):
        summary = scan(
            config, args.out, args.workers, args.threads, args.scheduler, on_result=report
        )
    print(
        f"{summary.points} points: {summary.already_done} finished before, {summary.ran} ran now, "
        f"{len(summary.failed)} failed ({summary.wall_time_s:.0f} s)"
    )
    for reason in summary.skipped:
        print(f"left out: {reason}")
    print(f"results: {summary.table_csv} and {summary.table_parquet}")
    if summary.failed:
        for name, reason in summary.failed.items():
            print(f"failed {name}: {reason}", file=sys.stderr)
        print(
            f"jetscale scan: {len(summary.failed)} point(s) failed (listed in {args.out / 'failed.json'}); "
            "run the same command again to retry them",
            file=sys.stderr,
        )
        return 1
    return 0
