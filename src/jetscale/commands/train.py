"""``jetscale train``: train the set-Transformer tagger; resumes a run directory with a checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from jetscale.commands.progress import add_progress_option, show_progress
from jetscale.features.registry import FEATURE_SETS
from jetscale.nn.config import ModelConfig

HELP = "train the set-Transformer tagger; continues the run in --out if it has a checkpoint"

#: Command-line option -> ModelConfig field.
MODEL_OPTIONS = {
    "feature_set": "feature_set",
    "max_particles": "max_particles",
    "d_model": "d_model",
    "layers": "n_layers",
    "heads": "n_heads",
    "class_layers": "n_class_layers",
    "ff_ratio": "ff_ratio",
    "dropout": "dropout",
}
#: Command-line options that are TrainConfig fields of the same name.
TRAIN_OPTIONS = (
    "epochs",
    "max_jets",
    "batch_size",
    "lr",
    "weight_decay",
    "warmup_steps",
    "eval_every",
    "seed",
    "device",
    "task",
    "mass_decorrelation",
)
#: Values of --mass-decorrelation (jetscale.train.reweight.METHODS, repeated for --help).
MASS_DECORRELATION = ("none", "flat-pt-msd")
#: TrainConfig's defaults of TRAIN_OPTIONS, repeated so that --help needs no torch (a
#: test checks them against jetscale.train.TrainConfig); max_jets None is every jet.
TRAIN_DEFAULTS: dict[str, object] = {
    "epochs": 1,
    "max_jets": None,
    "batch_size": 256,
    "lr": 1e-3,
    "weight_decay": 0.05,
    "warmup_steps": 100,
    "eval_every": 200,
    "seed": 1,
    "device": "auto",
    "task": "jetclass",
    "mass_decorrelation": "none",
}


def add_arguments(parser: argparse.ArgumentParser, model_from: str | None = None) -> None:
    """The options of a training run (``train``, ``pretrain`` and ``finetune`` share them).

    Each option overrides the ``--config`` file, which overrides the defaults;
    ``model_from`` names where the model options default from instead of
    :class:`~jetscale.nn.ModelConfig` (fine-tuning: the backbone).
    """
    parser.add_argument(
        "--data",
        nargs="+",
        help="training files (paths, globs, directories, .txt lists); required without "
        "--config (default: the --config file's)",
    )
    parser.add_argument(
        "--out",
        help="run directory (checkpoints, config.json, metrics.jsonl); required without "
        "--config (default: the --config file's)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML or JSON config file of TrainConfig fields; command-line options override "
        "it (default: none, the options alone)",
    )
    parser.add_argument(
        "--val-data",
        nargs="+",
        help="validation files (default: hold out every 10th training jet)",
    )
    model = parser.add_argument_group(
        "model", "override the --config file, which overrides the defaults shown"
    )
    defaults = ModelConfig()

    def default(field: str) -> str:
        return f"(default: {model_from or getattr(defaults, field)})"

    model.add_argument(
        "--feature-set",
        choices=list(FEATURE_SETS),
        help=f"input features {default('feature_set')}",
    )
    model.add_argument(
        "--max-particles", type=int, help=f"constituent slots per jet {default('max_particles')}"
    )
    model.add_argument("--d-model", type=int, help=f"embedding width {default('d_model')}")
    model.add_argument(
        "--layers", type=int, help=f"particle self-attention blocks {default('n_layers')}"
    )
    model.add_argument("--heads", type=int, help=f"attention heads {default('n_heads')}")
    model.add_argument(
        "--class-layers", type=int, help=f"class-attention blocks {default('n_class_layers')}"
    )
    model.add_argument(
        "--ff-ratio", type=int, help=f"feed-forward width / d_model {default('ff_ratio')}"
    )
    model.add_argument("--dropout", type=float, help=f"dropout probability {default('dropout')}")
    train = parser.add_argument_group(
        "training", "override the --config file, which overrides the defaults shown"
    )
    train.add_argument(
        "--epochs",
        type=int,
        help=f"passes over the training jets (default: {TRAIN_DEFAULTS['epochs']})",
    )
    train.add_argument(
        "--max-jets",
        type=int,
        help="U: train on exactly the first U jets, repeated each epoch (default: all jets)",
    )
    train.add_argument(
        "--batch-size",
        type=int,
        help=f"jets per optimizer step (default: {TRAIN_DEFAULTS['batch_size']})",
    )
    train.add_argument(
        "--lr", type=float, help=f"peak learning rate (AdamW) (default: {TRAIN_DEFAULTS['lr']})"
    )
    train.add_argument(
        "--weight-decay",
        type=float,
        help=f"AdamW weight decay (default: {TRAIN_DEFAULTS['weight_decay']})",
    )
    train.add_argument(
        "--warmup-steps",
        type=int,
        help="linear warm-up steps before the cosine decay; warned about when longer than "
        f"half the run (default: {TRAIN_DEFAULTS['warmup_steps']})",
    )
    train.add_argument(
        "--eval-every",
        type=int,
        help="steps between validation passes and checkpoints "
        f"(default: {TRAIN_DEFAULTS['eval_every']})",
    )
    train.add_argument(
        "--seed",
        type=int,
        help=f"random seed of the weights and the data order (default: {TRAIN_DEFAULTS['seed']})",
    )
    train.add_argument(
        "--device",
        help="torch device: auto (CUDA when available, else the CPU), cpu, cuda, cuda:1, ... "
        f"(default: {TRAIN_DEFAULTS['device']})",
    )
    train.add_argument(
        "--task",
        help="the classes to learn: label names or named groups, comma-separated, e.g. "
        "'Xbb_m60,QCD' or 'Higgs=Hbb+Hcc,QCD'; jets of other classes are left out and "
        f"counted (default: {TRAIN_DEFAULTS['task']}, the ten JetClass classes)",
    )
    train.add_argument(
        "--mass-decorrelation",
        choices=MASS_DECORRELATION,
        help="flat-pt-msd: weight every class flat in (pT, soft-drop mass), so the tagger "
        "cannot learn the mass (see the training page of the docs) "
        f"(default: {TRAIN_DEFAULTS['mass_decorrelation']})",
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="refuse to continue a run directory that has a checkpoint (by default it is "
        "resumed; a finished run is returned as it is, with a warning)",
    )
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from jetscale.train import train

    config = config_from_args(args, "train")
    if config is None:
        return 2
    with show_progress("train", not args.no_progress):
        line = train(config)
    print(json.dumps(line, indent=2))
    report_data_quality(Path(config.out), "train")
    return 0


def config_from_args(
    args: argparse.Namespace, command: str, model_base: dict[str, Any] | None = None
) -> Any:
    """The ``TrainConfig`` of the options of :func:`add_arguments`; None after an error message.

    ``model_base``: model settings the options override (a backbone's, for fine-tuning).
    """
    from jetscale.train import TrainConfig
    from jetscale.train.checkpoint import LAST_NAME

    overrides: dict[str, object] = {
        k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k) is not None
    }
    overrides["model"] = dict(model_base or {}) | {
        v: getattr(args, k) for k, v in MODEL_OPTIONS.items() if getattr(args, k) is not None
    }
    if args.data:
        overrides["data"] = args.data
    if args.val_data:
        overrides["val_data"] = args.val_data
    if args.out:
        overrides["out"] = args.out
    if args.config:
        config = TrainConfig.from_file(args.config, **overrides)
    else:
        if "data" not in overrides or "out" not in overrides:
            print(
                f"jetscale {command}: error: --data and --out are required without --config",
                file=sys.stderr,
            )
            return None
        config = TrainConfig.from_dict(overrides)
    if args.no_resume and (Path(config.out) / LAST_NAME).exists():
        print(
            f"jetscale {command}: error: {config.out} already has a checkpoint (drop --no-resume to continue it)",
            file=sys.stderr,
        )
        return None
    return config


def report_data_quality(out: Path, command: str) -> None:
    """One line on stderr when the readers dropped jets or constituents (stdout stays JSON)."""
    from jetscale.train.data_quality import DATA_QUALITY_NAME, summary_line

    path = out / DATA_QUALITY_NAME
    if not path.exists():
        return
    line = summary_line(json.loads(path.read_text()))
    if line is not None:
        print(f"jetscale {command}: {line} (details in {path})", file=sys.stderr)
