"""``jetscale fit``: scaling-law fits of a results table (see :mod:`jetscale.jobs.fit`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jetscale.commands.options import add_experiment_option
from jetscale.commands.progress import add_progress_option, show_progress

HELP = (
    "fit scaling laws to a results table (CSV or parquet with N = non-embedding parameters, "
    "D = jets seen, loss); JSON and plots"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", type=Path, help="results table (results.csv of `jetscale scan`)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=100,
        help="bootstrap resamples of every fit (default: %(default)s)",
    )
    parser.add_argument(
        "--loss-column",
        default="loss",
        help="which loss to fit: loss (the final one) or best_loss (default: %(default)s)",
    )
    parser.add_argument(
        "--group",
        action="append",
        metavar="COLUMN=VALUE",
        help="main group of runs, e.g. --group feature_set=kin (default: the largest group)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    add_experiment_option(parser)
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from jetscale.jobs.fit import run_fit

    group = {}
    for item in args.group or []:
        column, sep, value = item.partition("=")
        if not sep:
            print(f"jetscale fit: error: --group {item!r} is not COLUMN=VALUE", file=sys.stderr)
            return 2
        group[column] = value
    with show_progress("fit", not args.no_progress):
        result = run_fit(
            args.table,
            args.out,
            n_bootstrap=args.bootstrap,
            loss_column=args.loss_column,
            group=group or None,
            plots=not args.no_plots,
            experiment=args.experiment,
        )
    print_result(result)
    print((args.out / "comparison.md").read_text(), end="")
    print(
        f"wrote {args.out / 'fit.json'}"
        + (f" and {len(result.get('plots', []))} plot files" if not args.no_plots else "")
    )
    return 0


def print_result(result: dict[str, Any]) -> None:
    """The fitted laws, frontier and repetition, one line each, with their intervals.

    Floors and bounds read as the fit's ``reading`` says: "consistent with 0" for
    an E the runs do not resolve, "unbounded" for an R* interval without an upper end.
    """
    from jetscale.scaling.bounds import format_value

    print(
        f"main group {result['group'] or '(all runs)'}: {result['single_epoch_runs']} single-epoch runs"
    )
    fit = result["parametric"]
    print("L(N, D) = E + A / N^alpha + B / D^beta (90% bootstrap intervals):")
    readings = fit.get("reading", {})
    for name, value in fit["params"].items():
        shown = format_value(value, fit["intervals"][name], readings.get(name))
        print(f"  {name:>6} = {shown}")
    print(f"  rms log residual {fit['rms_log_residual']:.4f} on {fit['n_points']} runs")
    frontier = result["frontier_from_parametric_fit"]
    print(f"compute-optimal frontier ({frontier['convention']}):")
    if "undefined" in frontier:
        print(f"  parametric fit: undefined ({frontier['undefined']})")
    else:
        print(
            f"  parametric fit: N_opt ~ C^{frontier['N_opt_exponent']:.3f}, D_opt ~ C^{frontier['D_opt_exponent']:.3f}"
        )
    for label, key in (
        ("envelope (approach 1)", "approach_1_envelope"),
        ("IsoFLOP (approach 2)", "approach_2_isoflop"),
    ):
        law = result[key]["N_opt"]
        if law is None:
            why = result[key].get("note") or "; ".join(result[key].get("skipped", []))
            print(f"  {label}: no power law ({why})")
        else:
            low, high = law["exponent_interval"]
            print(f"  {label}: N_opt ~ C^{law['exponent']:.3f} [{low:.3f}, {high:.3f}]")
    repetition = result["repetition"]
    if "R_star" in repetition:
        read = repetition.get("reading", {}).get("R_star")
        r_star = format_value(repetition["R_star"], repetition["R_star_interval"], read, 3)
        gain = (
            "unbounded"
            if read and read["value"] == "unbounded"
            else f"{repetition['max_gain']:.3g}"
        )
        print(f"repetition: R* = {r_star}, largest gain 1 + R* = {gain}")
    else:
        print(f"repetition: {repetition['skipped']}")
