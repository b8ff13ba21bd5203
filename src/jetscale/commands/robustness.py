"""``jetscale robustness``: how a tagger's score moves under simulation variations (see :mod:`jetscale.jobs.robustness`)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from jetscale.commands.options import add_experiment_option, add_label_option
from jetscale.commands.progress import add_progress_option, show_progress

HELP = (
    "measure a tagger's robustness to simulation variations on re-simulated files "
    "(jetscale generate --resimulate): score shifts of each variation against a nominal view "
    "of the same hard process, the nominal re-simulation noise, and the change of AUC; "
    "robustness.json and figures"
)
#: Default, repeated from the library so that --help needs neither torch nor ONNX Runtime.
BATCH_SIZE = 512


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="the tagger: an ONNX model (shipped name such as full21, a .onnx file or a "
        "directory holding model.onnx, with preprocess.json beside it) or a jetscale "
        "checkpoint (a run directory of `jetscale train`/`finetune`, its best.pt else "
        "last.pt, or a .pt file)",
    )
    parser.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="FILES",
        help="re-simulated JetClass ROOT files (jetscale generate --resimulate K "
        "--variations nominal,...; globs, directories and .txt lists allowed); every file "
        "needs a 'nominal' view",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("jetscale-robustness"),
        metavar="DIR",
        help="output directory for robustness.json and the score-shift figures "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--signal",
        metavar="CLASS",
        help="signal class of the discriminant p_S / (p_S + p_B), one of the model's classes "
        "(default: the model's non-background class with the most jets in the data)",
    )
    parser.add_argument(
        "--background",
        nargs="+",
        metavar="CLASS",
        help="background class(es) of the model, their probabilities summed in p_B "
        "(default: QCD, as every one-vs-QCD discriminant of jetscale; every class but the "
        "signal for a model without QCD)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        metavar="B",
        help="jets per forward pass (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device of a checkpoint's forward passes; ONNX models run on CPU "
        "(default: %(default)s)",
    )
    parser.add_argument("--no-plots", action="store_true", help="write robustness.json only")
    add_experiment_option(parser)
    add_label_option(parser)
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from jetscale.jobs.robustness import JSON_NAME, run_robustness

    with show_progress("robustness", enabled=not args.no_progress):
        result = run_robustness(
            args.model,
            args.data,
            args.out,
            signal=args.signal,
            background=args.background,
            batch_size=args.batch_size,
            device=args.device,
            plots=not args.no_plots,
            experiment=args.experiment,
            label=args.label,
        )
    print_result(result)
    plots = result.get("plots", [])
    print(f"wrote {args.out / JSON_NAME}" + (f" and {len(plots)} plot files" if plots else ""))
    return 0


def _number(value: float | None, spec: str) -> str:
    """``value`` formatted, or ``-`` for a missing one (NaN is null in the JSON)."""
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


#: Width of one class's columns: pairs, mean shift ± its standard error, std dev, mean |shift|.
SHIFT_WIDTH = 42


def _shift(summary: dict[str, Any]) -> str:
    """One class's columns of a variation's row (``-`` where it has no pairs)."""
    if not summary["pairs"]:
        return f"{'-':>{SHIFT_WIDTH}}"
    mean = f"{_number(summary['mean'], '+.4f')}±{_number(summary['mean_error'], '.4f')}"
    std, mean_abs = _number(summary["std"], ".4f"), _number(summary["mean_abs"], ".4f")
    return f"{summary['pairs']:>7,} {mean:>17} {std:>7} {mean_abs:>8}"


def print_result(result: dict[str, Any]) -> None:
    """Where the numbers come from, then one row per variation: shifts per class and AUCs."""
    model = result["model"]
    print(
        f"{model['kind']} model {model['path']} ({', '.join(model['classes'])}); "
        f"discriminant {result['discriminant']}"
    )
    jets = result["jets"]
    print(
        f"{jets['used']:,} {result['signal']} and {'/'.join(result['background'])} jets in "
        f"{result['groups']:,} groups of {len(result['files'])} file(s); "
        f"{jets['other_classes']:,} jets of other classes and {jets['without_score']:,} "
        f"without a score left out; {result['groups_without_reference']:,} groups without "
        "a nominal view"
    )
    print("shift = D(view) - D(nominal reference view of the same group)")
    columns = f"{'pairs':>7} {'mean±s.e.':>17} {'std':>7} {'mean|Δ|':>8}"
    head = f"{'':<16} {'signal ' + result['signal']:^{SHIFT_WIDTH}}  "
    head += f"{'background ' + '+'.join(result['background']):^{SHIFT_WIDTH}}"
    print(head.rstrip())
    print(f"{'variation':<16} {columns}  {columns}  {'AUC':>6} {'ΔAUC':>7}")
    print("-" * (16 + 2 * SHIFT_WIDTH + 19))
    for row in result["variations"]:
        auc = row["auc"]
        print(
            f"{row['variation']:<16} {_shift(row['signal'])}  {_shift(row['background'])}  "
            f"{_number(auc['variation'], '.4f'):>6} {_number(auc['delta'], '+.4f'):>7}"
        )
    nominal = result["variations"][0]
    if not (nominal["signal"]["pairs"] or nominal["background"]["pairs"]):
        print(
            "no group has a second nominal view: no re-simulation noise floor to compare the "
            "variations with (files with two or more nominal views per group give it)"
        )
