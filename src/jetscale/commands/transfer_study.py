"""``jetscale transfer-study``: fine-tuning against scratch over labelled jets (see :mod:`jetscale.jobs.transfer_study`)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from jetscale.commands.options import add_experiment_option
from jetscale.commands.progress import add_progress_option, show_progress

HELP = (
    "data-efficiency study (YAML): backbones fine-tuned with policies against scratch for "
    "each number of labelled jets and seed, as dask tasks; restartable; results table, "
    "effective data transferred (transfer.json) and plots"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        type=Path,
        metavar="CONFIG.yaml",
        help="study file (YAML: data, task, backbones, policies, n_labelled, seeds, training; "
        "see the transfer page of the docs)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="study directory: runs/, results.csv/.parquet, transfer.json, plots/; "
        "rerun with the same --out to resume (finished points are kept)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="local-cluster worker processes (default: cores)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per worker (default: %(default)s)"
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        help="address of a running dask scheduler, e.g. tcp://host:8786 (default: a local cluster)",
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="skip the plots (transfer.json is still written)"
    )
    add_experiment_option(parser)
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from jetscale.jobs.transfer_study import transfer_study
    from jetscale.transfer.study import StudyConfig

    config = StudyConfig.from_file(args.config)

    def report(row: dict[str, Any]) -> None:
        print(
            f"done {row['run_dir']}: val_loss {row['val_loss']:.4f}, AUC {row['auc']:.4f}, "
            f"{row['wall_time_s']:.0f} s",
            flush=True,
        )

    with show_progress("transfer-study", not args.no_progress):
        summary = transfer_study(
            config,
            args.out,
            args.workers,
            args.threads,
            args.scheduler,
            on_result=report,
            plots=not args.no_plots,
            experiment=args.experiment,
        )
    print(
        f"{summary.points} points: {summary.already_done} finished before, {summary.ran} ran now, "
        f"{len(summary.failed)} failed ({summary.wall_time_s:.0f} s)"
    )
    scratch = summary.analysis.scratch
    if scratch["params"] is None:
        print(f"scratch law: not fitted ({scratch['reason']}); D_T undefined")
    else:
        p = scratch["params"]
        print(
            f"scratch law: L(D) = L_inf + {p['B']:.4g} / D^{p['beta']:.3f}, L_inf = {_floor(scratch)}"
        )
    for fit in summary.analysis.fits:
        name = f"{fit.backbone}, {fit.policy}"
        if fit.k is None or fit.alpha is None:
            why = "no scratch law" if fit.status == "no_scratch_fit" else fit.reason
            print(f"{name}: D_T = k D_F^alpha not fitted ({why})")
            continue
        interval = _interval(fit.alpha_interval)
        print(f"{name}: D_T = {fit.k:.4g} D_F^{fit.alpha:.3f}{interval} on D_F {list(fit.D_F)}")
    print(f"results: {summary.table_csv}, {summary.table_parquet} and {summary.transfer_json}")
    if summary.failed:
        for name, reason in summary.failed.items():
            print(f"failed {name}: {reason}", file=sys.stderr)
        print(
            f"jetscale transfer-study: {len(summary.failed)} point(s) failed (listed in "
            f"{args.out / 'failed.json'}); run the same command again to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _floor(scratch: dict[str, Any]) -> str:
    """The scratch law's L_inf as it reads ("consistent with 0" below a thousandth of the losses)."""
    from jetscale.scaling.bounds import floor_zero_below, format_value, reading

    value = scratch["params"]["L_inf"]
    interval = (scratch.get("intervals") or {}).get("L_inf")
    losses = [v for v in (scratch.get("mean_loss") or {}).values() if math.isfinite(v)]
    if not losses:
        return f"{value:.4g}"
    return format_value(value, interval, reading(value, interval, floor_zero_below(min(losses))))


def _interval(bounds: tuple[float, float] | None) -> str:
    if bounds is None or not all(math.isfinite(b) for b in bounds):
        return ""
    return f" (alpha 90% interval [{bounds[0]:.3f}, {bounds[1]:.3f}])"
