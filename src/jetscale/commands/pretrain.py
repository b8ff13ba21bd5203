"""``jetscale pretrain``: pretrain a backbone (supervised, masked particle modelling, both, or contrastive)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jetscale.commands import train as train_command
from jetscale.commands.progress import show_progress

HELP = (
    "pretrain a backbone: supervised, masked particle modelling (mpm), supervised+mpm, "
    "or contrastive on re-simulated views"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    train_command.add_arguments(parser)
    pretraining = parser.add_argument_group("pretraining")
    pretraining.add_argument(
        "--objective",
        choices=["supervised", "mpm", "supervised+mpm", "contrastive"],
        default="mpm",
        help="what the backbone learns: the ten classes, masked particle modelling on the "
        "jets alone, both losses summed, or to tell re-simulated views of one jet from other "
        "jets (files of jetscale generate --resimulate; default: %(default)s)",
    )
    pretraining.add_argument(
        "--mpm-fraction",
        type=float,
        default=0.35,
        help="share of each jet's real constituents hidden (default: %(default)s)",
    )
    pretraining.add_argument(
        "--mpm-loss",
        choices=["l1", "huber"],
        default="l1",
        help="regression loss of the hidden particles' continuous features (default: %(default)s)",
    )
    pretraining.add_argument(
        "--decoder-layers",
        type=int,
        default=1,
        help="self-attention blocks of the MPM decoder (default: %(default)s)",
    )
    pretraining.add_argument(
        "--temperature",
        type=float,
        default=0.1,
        help="temperature of the contrastive loss (NT-Xent); smaller weights the hardest "
        "negatives more (default: %(default)s, SimCLR's)",
    )
    pretraining.add_argument(
        "--projection-dim",
        type=int,
        default=128,
        help="width of the contrastive projection head's output, discarded after pretraining "
        "(default: %(default)s)",
    )
    pretraining.add_argument(
        "--random-directions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="contrastive: rotate every view about the beam and boost it along the beam to a "
        "random jet direction (another jet's rapidity), so views cannot be matched by the "
        "direction they share; --no-random-directions trains on the views as written "
        "(default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from jetscale.transfer.pretrain import pretrain

    config = train_command.config_from_args(args, "pretrain")
    if config is None:
        return 2
    with show_progress("pretrain", not args.no_progress):
        line = pretrain(
            config,
            args.objective,
            fraction=args.mpm_fraction,
            regression=args.mpm_loss,
            decoder_layers=args.decoder_layers,
            temperature=args.temperature,
            projection_dim=args.projection_dim,
            random_directions=args.random_directions,
        )
    print(json.dumps(line, indent=2))
    train_command.report_data_quality(Path(config.out), "pretrain")
    return 0
