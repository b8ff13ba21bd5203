"""A transfer study as data: the YAML file behind ``jetscale transfer-study``, expanded into points.

How much labelled data is a pretrained backbone worth? A study fine-tunes each
backbone with each policy on ``n`` labelled jets, for every ``n`` of a list and
several seeds, and trains the same architecture from scratch on the same jets;
:mod:`jetscale.transfer.effective_data` turns the losses into the effective data
transferred. A study file::

    name: xbb-few-labels            # optional, for labels
    data:
      train: data/xbb/train/*.root  # a path, glob, directory, .txt list, or a list of them
      val: data/xbb/val/*.root      # optional: without it val_fraction of train is held out
    task: Xbb_m60,QCD               # the classes (jetscale.task); the head follows
    signal: Xbb_m60                 # optional: AUC and rejection of this class against QCD
    backbones:                      # name: a pretraining run (or checkpoint)
      mpm: backbones/mpm
    policies: [scratch, full, linear-probe]
    n_labelled: [100, 300, 1000, 3000, 10000]
    seeds: 3                        # or a list [1, 2, 3]
    training: {steps: 1000, batch_size: 128, lr: 5.0e-4}
    finetune: {head_lr_multiplier: 1.0, layer_decay: 0.75, freeze_steps: 100, ramp_steps: 100}
    analysis: {bootstrap: 100, max_extrapolation: 10}

The points are backbone x policy x n x seed for every policy but ``scratch``,
and ``scratch`` once per n x seed: it needs no backbone, and every backbone of a
study has one architecture (the study's model), so one baseline serves all.

**Training for few labels.** With n = 100 jets an epoch is one batch, so a fixed
number of epochs would give the small-n runs a handful of steps and compare
under-trained models. Every run therefore takes at least ``steps`` optimizer
steps (default 1000) and at least one pass over its n jets: ``epochs = max(1,
ceil(steps / ceil(n / batch_size)))``. Small n then repeats its jets many times
and overfits late in the run; the study reads each run at its best validation
loss (``best.pt``, evaluated every ``eval_every`` steps: early stopping on the
fixed validation set), which is what a few-label analysis would do. ``epochs``
instead of ``steps`` fixes the epochs for every n. The other defaults
(:data:`TRAINING_DEFAULTS`): batches of 128 (n = 100 is one batch of 100), a
learning rate of 5e-4 for every policy (between the 1e-3 of scratch training and
the 1e-4 often used to fine-tune), a short warm-up, an evaluation every 50 steps
on at most 10,000 validation jets. ``training`` takes any other
:class:`~jetscale.train.TrainConfig` field except those the study sets itself
(:data:`STUDY_SETS`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jetscale._fields import FieldTypeError, check_value, field_types
from jetscale.metrics import BACKGROUND
from jetscale.nn.config import ModelConfig
from jetscale.task import parse_task
from jetscale.train.config import TrainConfig

SCRATCH = "scratch"  # the baseline's policy, and its name in the results
#: Training settings of a study unless its file says otherwise (see the module doc).
TRAINING_DEFAULTS: dict[str, Any] = {
    "batch_size": 128,
    "lr": 5e-4,
    "warmup_steps": 50,
    "eval_every": 50,
    "val_max_jets": 10_000,
}
DEFAULT_STEPS = 1000
#: TrainConfig fields a study sets itself (per point, or from the backbone).
STUDY_SETS = frozenset({"data", "val_data", "out", "model", "max_jets", "seed", "task", "epochs"})
TRAINING_KEYS = frozenset(f.name for f in dataclasses.fields(TrainConfig)) - STUDY_SETS
#: Settings of the fine-tuning policies, and the policies each one changes.
FINETUNE_SETTINGS: dict[str, tuple[type, tuple[str, ...]]] = {
    "head_lr_multiplier": (float, ("full",)),
    "layer_decay": (float, ("layer-decay",)),
    "freeze_steps": (int, ("frozen-then-unfreeze",)),
    "ramp_steps": (int, ("frozen-then-unfreeze",)),
}
ANALYSIS_DEFAULTS: dict[str, Any] = {"bootstrap": 100, "max_extrapolation": 10.0, "seed": 0}
#: Settings that do not change a point's result (left out of its identity).
NOT_IDENTITY = frozenset({"device"})
TOP_LEVEL = (
    "name",
    "data",
    "task",
    "signal",
    "backbones",
    "policies",
    "n_labelled",
    "seeds",
    "training",
    "finetune",
    "analysis",
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


class StudyConfigError(ValueError):
    """A transfer-study file that cannot be used; the message names the file and the key."""


@dataclasses.dataclass(frozen=True)
class StudyPoint:
    """One run of the study: a backbone fine-tuned with a policy (or scratch) on n jets, one seed."""

    backbone: str  # "scratch" for the baseline
    policy: str
    n: int  # labelled training jets (TrainConfig.max_jets)
    seed: int
    task: str
    signal: str
    training: Mapping[str, Any]  # TrainConfig fields, epochs included (no paths, no model)
    finetune: Mapping[str, Any]  # the settings of this policy only

    @property
    def point_id(self) -> str:
        """A hash of everything that changes the point's result."""
        identity = {
            "backbone": self.backbone,
            "policy": self.policy,
            "n": self.n,
            "seed": self.seed,
            "task": self.task,
            "signal": self.signal,
            "training": {k: v for k, v in self.training.items() if k not in NOT_IDENTITY},
            "finetune": dict(self.finetune),
        }
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:10]

    @property
    def name(self) -> str:
        """Run-directory name: backbone, policy, n, seed, then the identity hash."""
        setting = SCRATCH if self.policy == SCRATCH else f"{self.backbone}-{self.policy}"
        return f"{setting}-n{self.n}-s{self.seed}-{self.point_id}"

    def train_config(
        self, train: Sequence[str], val: Sequence[str], out: str, model: ModelConfig
    ) -> TrainConfig:
        """The run's configuration; ``model`` is the backbones' (its head follows the task)."""
        # The backbone's head size is its pretraining task's; the default lets the task decide.
        model = dataclasses.replace(model, n_classes=ModelConfig().n_classes)
        return TrainConfig(
            data=tuple(train),
            val_data=tuple(val),
            out=out,
            model=model,
            max_jets=self.n,
            seed=self.seed,
            task=self.task,
            **self.training,
        )


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """A study file, checked (``StudyConfig.from_file``); :meth:`points` expands it."""

    name: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    task: str
    signal: str
    backbones: Mapping[str, str]  # name -> pretraining run or checkpoint
    policies: tuple[str, ...]
    n_labelled: tuple[int, ...]
    seeds: tuple[int, ...]
    training: Mapping[str, Any]  # TrainConfig fields, defaults filled in, without epochs
    steps: int | None  # at least this many optimizer steps per run ...
    epochs: int | None  # ... or this many epochs for every n
    finetune: Mapping[str, Any]
    analysis: Mapping[str, Any]  # bootstrap, max_extrapolation, seed
    source: str  # the file it was read from, for messages

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> StudyConfig:
        import yaml

        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except OSError as err:
            msg = f"{path}: cannot read the study file ({err})"
            raise StudyConfigError(msg) from err
        except yaml.YAMLError as err:
            msg = f"{path}: not valid YAML ({err})"
            raise StudyConfigError(msg) from err
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str = "<study>") -> StudyConfig:
        """Check every key and value; errors are :class:`StudyConfigError` naming ``source`` and the key."""
        if not isinstance(raw, Mapping):
            msg = f"{source}: a study file is a mapping with {', '.join(TOP_LEVEL)}"
            raise StudyConfigError(msg)
        unknown = sorted(set(raw) - set(TOP_LEVEL))
        if unknown:
            msg = f"{source}: unknown top-level key(s) {', '.join(unknown)} (known: {', '.join(TOP_LEVEL)})"
            raise StudyConfigError(msg)
        missing = [
            k for k in ("data", "task", "backbones", "policies", "n_labelled") if k not in raw
        ]
        if missing:
            msg = f"{source}: missing {', '.join(missing)}"
            raise StudyConfigError(msg)
        train, val = _data(raw["data"], source)
        task, signal = _task(raw["task"], raw.get("signal"), source)
        training, steps, epochs = _training(raw.get("training"), source)
        config = cls(
            name=_string(raw.get("name", "transfer-study"), "name", source),
            train=train,
            val=val,
            task=task,
            signal=signal,
            backbones=_backbones(raw["backbones"], source),
            policies=_policies(raw["policies"], source),
            n_labelled=_n_labelled(raw["n_labelled"], source),
            seeds=_seeds(raw.get("seeds", 3), source),
            training=training,
            steps=steps,
            epochs=epochs,
            finetune=_finetune(raw.get("finetune"), steps, source),
            analysis=_analysis(raw.get("analysis"), source),
            source=source,
        )
        config.points()  # every point's TrainConfig builds
        return config

    def epochs_for(self, n: int) -> int:
        """Epochs of a run on ``n`` jets: at least :attr:`steps` steps and one pass (module doc)."""
        if self.epochs is not None:
            return self.epochs
        # max(..., 1): a batch size < 1 is reported by TrainConfig, naming the key
        steps_per_epoch = math.ceil(n / max(int(self.training["batch_size"]), 1))
        return max(1, math.ceil(int(self.steps or DEFAULT_STEPS) / steps_per_epoch))

    def points(self) -> list[StudyPoint]:
        """Seed by seed, n by n: the scratch point, then every backbone x fine-tuning policy.

        A study stopped early thus has whole seeds done, enough for an analysis.
        """
        tuned = [p for p in self.policies if p != SCRATCH]
        points = []
        for seed in self.seeds:
            for n in self.n_labelled:
                training = {**self.training, "epochs": self.epochs_for(n)}
                settings = [(SCRATCH, SCRATCH)] if SCRATCH in self.policies else []
                settings += [(b, p) for b in self.backbones for p in tuned]
                for backbone, policy in settings:
                    finetune = {
                        k: v for k, v in self.finetune.items() if policy in FINETUNE_SETTINGS[k][1]
                    }
                    point = StudyPoint(
                        backbone, policy, n, seed, self.task, self.signal, training, finetune
                    )
                    try:  # types and values of every setting, by building the run's config
                        point.train_config(("x",), (), "x", ModelConfig())
                    except (ValueError, TypeError) as err:
                        msg = f"{self.source}: training: {err}"
                        raise StudyConfigError(msg) from err
                    points.append(point)
        return points


def _string(value: Any, key: str, source: str) -> str:
    if not isinstance(value, str) or not value:
        msg = f"{source}: {key} must be a non-empty string, got {value!r}"
        raise StudyConfigError(msg)
    return value


def _paths(value: Any, key: str, source: str) -> tuple[str, ...]:
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    msg = f"{source}: {key} must be a path or a non-empty list of paths, got {value!r}"
    raise StudyConfigError(msg)


def _data(raw: Any, source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(raw, Mapping) or "train" not in raw:
        msg = f"{source}: data must be a mapping with train: [...] (and val: [...]), got {raw!r}"
        raise StudyConfigError(msg)
    unknown = sorted(set(raw) - {"train", "val"})
    if unknown:
        msg = f"{source}: data has unknown key(s) {', '.join(unknown)} (known: train, val)"
        raise StudyConfigError(msg)
    val = _paths(raw["val"], "data.val", source) if raw.get("val") is not None else ()
    return _paths(raw["train"], "data.train", source), val


def _task(raw: Any, signal: Any, source: str) -> tuple[str, str]:
    """The task's written form and the signal class (checked against the task's classes)."""
    if not isinstance(raw, str):
        msg = f"{source}: task must be a string such as 'Xbb_m60,QCD' or 'jetclass', got {raw!r}"
        raise StudyConfigError(msg)
    try:
        task = parse_task(raw)
    except ValueError as err:
        msg = f"{source}: task: {err}"
        raise StudyConfigError(msg) from err
    if BACKGROUND not in task.names:
        msg = (
            f"{source}: task {task.spec!r} has no class {BACKGROUND!r}: AUC and background "
            f"rejection are one-vs-{BACKGROUND}, so name the background class (or group) {BACKGROUND}"
        )
        raise StudyConfigError(msg)
    signals = [name for name in task.names if name != BACKGROUND]
    if signal is None:
        return task.spec, signals[0]
    if signal not in signals:
        msg = f"{source}: signal must be one of the task's classes {', '.join(signals)}, got {signal!r}"
        raise StudyConfigError(msg)
    return task.spec, str(signal)


def _backbones(raw: Any, source: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        msg = f"{source}: backbones must map names to pretraining runs (name: path), got {raw!r}"
        raise StudyConfigError(msg)
    out = {}
    for name, path in raw.items():
        if not isinstance(name, str) or not _NAME.match(name) or name == SCRATCH:
            msg = (
                f"{source}: backbones: name {name!r} must be letters, digits and _.+- "
                f"(and not {SCRATCH!r}, the baseline's name)"
            )
            raise StudyConfigError(msg)
        out[name] = _string(path, f"backbones.{name}", source)
    return out


def _policies(raw: Any, source: str) -> tuple[str, ...]:
    from jetscale.transfer.finetune import POLICIES  # imports torch: only when a file is read

    if not isinstance(raw, list) or not raw:
        msg = f"{source}: policies must be a non-empty list of {', '.join(POLICIES)}"
        raise StudyConfigError(msg)
    unknown = [p for p in raw if p not in POLICIES]
    if unknown:
        msg = f"{source}: policies: unknown {', '.join(map(repr, unknown))}; known: {', '.join(POLICIES)}"
        raise StudyConfigError(msg)
    if len(set(raw)) != len(raw):
        msg = f"{source}: policies: each policy once, got {raw}"
        raise StudyConfigError(msg)
    if SCRATCH not in raw:
        msg = (
            f"{source}: policies must include {SCRATCH!r}: it is the baseline of the effective data"
        )
        raise StudyConfigError(msg)
    return tuple(raw)


def _positive_ints(raw: Any, key: str, source: str, what: str) -> tuple[int, ...]:
    good = isinstance(raw, list) and bool(raw)
    good = good and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw)
    if not good:
        msg = f"{source}: {key} must be a non-empty list of positive integers ({what}), got {raw!r}"
        raise StudyConfigError(msg)
    if len(set(raw)) != len(raw):
        msg = f"{source}: {key}: each value once, got {raw}"
        raise StudyConfigError(msg)
    return tuple(raw)


def _n_labelled(raw: Any, source: str) -> tuple[int, ...]:
    return tuple(sorted(_positive_ints(raw, "n_labelled", source, "labelled training jets")))


def _seeds(raw: Any, source: str) -> tuple[int, ...]:
    if isinstance(raw, int) and not isinstance(raw, bool):
        if raw < 1:
            msg = f"{source}: seeds must be >= 1 (a count, or a list of seeds), got {raw}"
            raise StudyConfigError(msg)
        return tuple(range(1, raw + 1))
    return _positive_ints(raw, "seeds", source, "a list of seeds, or their number")


def _training(raw: Any, source: str) -> tuple[dict[str, Any], int | None, int | None]:
    """TrainConfig settings (defaults filled in) and the step or epoch budget."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        msg = f"{source}: training must be a mapping of TrainConfig settings, got {raw!r}"
        raise StudyConfigError(msg)
    settings = dict(raw)
    steps, epochs = settings.pop("steps", None), settings.pop("epochs", None)
    owned = sorted(set(settings) & STUDY_SETS)
    if owned:
        msg = f"{source}: training: {', '.join(owned)} set by the study itself (data, n_labelled, seeds, task, the backbone)"
        raise StudyConfigError(msg)
    unknown = sorted(set(settings) - TRAINING_KEYS)
    if unknown:
        msg = f"{source}: training: unknown setting(s) {', '.join(unknown)}; known: steps, epochs, {', '.join(sorted(TRAINING_KEYS))}"
        raise StudyConfigError(msg)
    if steps is not None and epochs is not None:
        msg = f"{source}: training: give steps or epochs, not both"
        raise StudyConfigError(msg)
    for key, value in (("steps", steps), ("epochs", epochs)):
        if value is not None and not (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ):
            msg = f"{source}: training.{key} must be a positive integer, got {value!r}"
            raise StudyConfigError(msg)
    types = field_types(TrainConfig)
    for key, value in settings.items():
        try:
            check_value(key, value, types[key])
        except FieldTypeError as err:
            msg = f"{source}: training: {err}"
            raise StudyConfigError(msg) from err
    if epochs is None and steps is None:
        steps = DEFAULT_STEPS
    return {**TRAINING_DEFAULTS, **settings}, steps, epochs


def _finetune(raw: Any, steps: int | None, source: str) -> dict[str, Any]:
    """Fine-tuning settings; unfreezing defaults to a tenth of the step budget each."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        msg = f"{source}: finetune must be a mapping of {', '.join(FINETUNE_SETTINGS)}, got {raw!r}"
        raise StudyConfigError(msg)
    unknown = sorted(set(raw) - set(FINETUNE_SETTINGS))
    if unknown:
        msg = f"{source}: finetune: unknown setting(s) {', '.join(unknown)}; known: {', '.join(FINETUNE_SETTINGS)}"
        raise StudyConfigError(msg)
    tenth = (steps or DEFAULT_STEPS) // 10
    settings = {
        "head_lr_multiplier": 1.0,
        "layer_decay": 0.75,
        "freeze_steps": tenth,
        "ramp_steps": tenth,
        **raw,
    }
    for key, value in settings.items():
        kind = FINETUNE_SETTINGS[key][0]
        try:
            check_value(key, value, kind)
        except FieldTypeError as err:
            msg = f"{source}: finetune: {err}"
            raise StudyConfigError(msg) from err
        value = kind(value)
        bad = value < 0 if kind is int else value <= 0
        if bad or (key == "layer_decay" and value > 1):
            limits = "in (0, 1]" if key == "layer_decay" else ">= 0" if kind is int else "> 0"
            msg = f"{source}: finetune.{key} must be {limits}, got {value!r}"
            raise StudyConfigError(msg)
        settings[key] = value
    return settings


def _analysis(raw: Any, source: str) -> dict[str, Any]:
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        msg = f"{source}: analysis must be a mapping of {', '.join(ANALYSIS_DEFAULTS)}, got {raw!r}"
        raise StudyConfigError(msg)
    unknown = sorted(set(raw) - set(ANALYSIS_DEFAULTS))
    if unknown:
        msg = f"{source}: analysis: unknown key(s) {', '.join(unknown)}; known: {', '.join(ANALYSIS_DEFAULTS)}"
        raise StudyConfigError(msg)
    settings = {**ANALYSIS_DEFAULTS, **raw}
    ok = {
        "bootstrap": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "max_extrapolation": lambda v: (
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 1
        ),
        "seed": lambda v: isinstance(v, int) and not isinstance(v, bool),
    }
    what = {
        "bootstrap": "an integer >= 0 (replicates)",
        "max_extrapolation": "a number >= 1",
        "seed": "an integer",
    }
    for key, value in settings.items():
        if not ok[key](value):
            msg = f"{source}: analysis.{key} must be {what[key]}, got {value!r}"
            raise StudyConfigError(msg)
    settings["max_extrapolation"] = float(settings["max_extrapolation"])
    return settings
