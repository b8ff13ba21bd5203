"""``jetscale cka``: layer-by-layer similarity of two trained models (see :mod:`jetscale.jobs.cka`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from jetscale.commands.options import add_experiment_option

HELP = (
    "compare what two trained models learned: Centered Kernel Alignment (CKA) between every "
    "layer of one and every layer of the other on the same jets; cka.json and a heatmap"
)
#: Defaults, repeated from the library so that --help needs neither torch nor NumPy.
MAX_JETS, BATCH_SIZE, ESTIMATORS = 10_000, 256, ("unbiased", "linear")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for which in ("A", "B"):
        parser.add_argument(
            f"run_{which.lower()}",
            type=Path,
            metavar=f"RUN_{which}",
            help=f"model {which}: a run directory of `jetscale train` (its best.pt, else "
            "last.pt) or a checkpoint file",
        )
    parser.add_argument(
        "--data",
        nargs="+",
        required=True,
        metavar="FILES",
        help="jet files (JetClass ROOT or parquet; globs allowed): both models see the same "
        "jets, each with its own feature set and max_particles",
    )
    parser.add_argument(
        "--max-jets",
        type=int,
        default=MAX_JETS,
        metavar="N",
        help="use the first N jets, class-mixed as in training (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        metavar="B",
        help="jets per minibatch of the forward passes and of the unbiased estimator; "
        "minibatches hold B to 2B-1 jets, all jets if fewer than B (default: %(default)s)",
    )
    parser.add_argument(
        "--estimator",
        choices=ESTIMATORS,
        default=ESTIMATORS[0],
        help="unbiased: minibatch HSIC estimator of Nguyen et al. 2021 (about 0 for unrelated "
        "layers); linear: linear CKA of Kornblith et al. 2019 over all jets (biased upwards) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("jetscale-cka"),
        metavar="DIR",
        help="output directory for cka.json, cka.png and cka.pdf (default: %(default)s)",
    )
    parser.add_argument(
        "--names",
        nargs=2,
        metavar=("NAME_A", "NAME_B"),
        help="model names on the heatmap's axes (default: the run directory names)",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device of the forward passes (default: %(default)s)"
    )
    parser.add_argument("--no-plots", action="store_true", help="write cka.json only")
    add_experiment_option(parser)


def run(args: argparse.Namespace) -> int:
    from jetscale.jobs.cka import run_cka

    result = run_cka(
        args.run_a,
        args.run_b,
        args.data,
        args.out,
        max_jets=args.max_jets,
        batch_size=args.batch_size,
        estimator=args.estimator,
        names=tuple(args.names) if args.names else None,
        device=args.device,
        plots=not args.no_plots,
        experiment=args.experiment,
    )
    print_result(result)
    print(
        f"wrote {args.out / 'cka.json'}"
        + (f" and {len(result.get('plots', []))} plot files" if not args.no_plots else "")
    )
    return 0


def print_result(result: dict[str, Any]) -> None:
    """Where the numbers come from, then each layer of A's best match in B."""
    a, b = result["models"]["a"], result["models"]["b"]
    print(
        f"{result['estimator']} CKA on {result['n_jets']:,} jets of {len(result['files'])} "
        f"file(s), {result['n_batches']} minibatch(es)"
    )
    for model in (a, b):
        print(
            f"  {model['name']}: {model['checkpoint']} (step {model['step']}, "
            f"{model['architecture']}, {model['feature_set']}, {model['max_particles']} slots)"
        )
    print(f"best match in {b['name']} of each layer of {a['name']}:")
    for name, row in zip(result["layers_a"], result["matrix"], strict=True):
        values = [(v, j) for j, v in enumerate(row) if v == v]  # NaN: a constant layer
        if values:
            value, j = max(values)
            print(f"  {name:>14} -> {result['layers_b'][j]:<14} CKA {float(value):.3f}")
        else:
            print(f"  {name:>14} -> (constant over the jets: CKA undefined)")
    seconds = result["seconds"]
    print(
        f"representations {seconds['representations']:.1f} s, CKA over "
        f"{len(result['layers_a'])} x {len(result['layers_b'])} layer pairs {seconds['cka']:.2f} s"
    )
