"""``jetscale finetune``: fine-tune a pretrained backbone with a policy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jetscale.commands import train as train_command
from jetscale.commands.progress import show_progress

HELP = "fine-tune a pretrained backbone (jetscale pretrain or train run) with a policy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "backbone",
        type=Path,
        help="the backbone: a run directory (best.pt, else last.pt) or a .pt file",
    )
    train_command.add_arguments(parser, model_from="the backbone's")
    tuning = parser.add_argument_group("fine-tuning")
    tuning.add_argument(
        "--policy",
        choices=[
            "scratch",
            "linear-probe",
            "frozen-then-unfreeze",
            "full",
            "layer-decay",
            "embedding-and-head",
        ],
        default="full",
        help="what trains: see the transfer page of the docs (default: %(default)s)",
    )
    tuning.add_argument(
        "--head-lr-multiplier",
        type=float,
        default=1.0,
        help="full: the head's learning rate over the backbone's (default: %(default)s)",
    )
    tuning.add_argument(
        "--layer-decay",
        type=float,
        default=0.75,
        help="layer-decay: factor per layer towards the input (default: %(default)s)",
    )
    tuning.add_argument(
        "--freeze-steps",
        type=int,
        default=0,
        help="frozen-then-unfreeze: steps with the backbone frozen (default: %(default)s)",
    )
    tuning.add_argument(
        "--ramp-steps",
        type=int,
        default=0,
        help="frozen-then-unfreeze: steps of the backbone's linear ramp after (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from jetscale.transfer.finetune import finetune
    from jetscale.transfer.pretrain import backbone_state

    backbone_config, _ = backbone_state(args.backbone)
    # The backbone's architecture, not its head: the head follows --task.
    model = {k: v for k, v in backbone_config.to_dict().items() if k != "n_classes"}
    config = train_command.config_from_args(args, "finetune", model)
    if config is None:
        return 2
    with show_progress("finetune", not args.no_progress):
        line = finetune(
            config,
            args.backbone,
            args.policy,
            head_lr_multiplier=args.head_lr_multiplier,
            layer_decay=args.layer_decay,
            freeze_steps=args.freeze_steps,
            ramp_steps=args.ramp_steps,
        )
    print(json.dumps(line, indent=2))
    train_command.report_data_quality(Path(config.out), "finetune")
    return 0
