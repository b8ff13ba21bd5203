"""``jetscale train``: train the set-Transformer tagger; resumes a run directory with a checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from jetscale.features.registry import FEATURE_SETS

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
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        nargs="+",
        help="training files (paths, globs, directories, .txt lists); required without --config",
    )
    parser.add_argument(
        "--out",
        help="run directory (checkpoints, config.json, metrics.jsonl); required without --config",
    )
    parser.add_argument(
        "--config", type=Path, help="TOML or JSON config file; command-line options override it"
    )
    parser.add_argument(
        "--val-data", nargs="+", help="validation files (default: hold out every 10th jet)"
    )
    model = parser.add_argument_group("model (defaults: jetscale.nn.ModelConfig)")
    model.add_argument("--feature-set", choices=list(FEATURE_SETS), help="input features")
    model.add_argument("--max-particles", type=int, help="constituent slots per jet")
    model.add_argument("--d-model", type=int, help="embedding width")
    model.add_argument("--layers", type=int, help="particle self-attention blocks")
    model.add_argument("--heads", type=int, help="attention heads")
    model.add_argument("--class-layers", type=int, help="class-attention blocks")
    model.add_argument("--ff-ratio", type=int, help="feed-forward width / d_model")
    model.add_argument("--dropout", type=float, help="dropout probability")
    train = parser.add_argument_group("training (defaults: jetscale.train.TrainConfig)")
    train.add_argument("--epochs", type=int, help="passes over the training jets")
    train.add_argument(
        "--max-jets", type=int, help="U: train on exactly the first U jets, repeated each epoch"
    )
    train.add_argument("--batch-size", type=int, help="jets per optimizer step")
    train.add_argument("--lr", type=float, help="peak learning rate (AdamW)")
    train.add_argument("--weight-decay", type=float, help="AdamW weight decay")
    train.add_argument("--warmup-steps", type=int, help="linear warm-up steps before cosine decay")
    train.add_argument("--eval-every", type=int, help="steps between validation passes")
    train.add_argument("--seed", type=int, help="random seed")
    train.add_argument("--device", help="torch device (cpu, cuda, cuda:1, ...)")
    train.add_argument(
        "--task",
        help="the classes to learn: label names or named groups, comma-separated, e.g. "
        "'Xbb_m60,QCD' or 'Higgs=Hbb+Hcc,QCD'; jets of other classes are left out and "
        "counted (default: jetclass, the ten JetClass classes)",
    )
    parser.add_argument(
        "--no-resume", action="store_true", help="refuse to continue an existing run"
    )


def run(args: argparse.Namespace) -> int:
    from jetscale.train import train

    config = config_from_args(args, "train")
    if config is None:
        return 2
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
