"""Fine-tuning a pretrained backbone: loading its weights, and what each policy trains how fast.

A backbone is a trained jetscale model (a run's checkpoint). Fine-tuning puts a
new head on it for a task (its own classes) and trains with one of these
policies, the ones the transfer-learning literature compares (weaver-core offers
regex freezing and a head learning-rate multiplier; layer-wise decay comes from
BEiT/ELECTRA-style fine-tuning of Transformers):

``scratch``
    the same architecture from a random initialisation: the baseline every
    transfer study compares to (no weights are loaded);
``linear-probe``
    the backbone frozen, only the head trains;
``frozen-then-unfreeze``
    the backbone frozen for ``freeze_steps`` steps, then its learning rate ramps
    linearly to the head's over ``ramp_steps`` steps (a new head's large early
    gradients do not wreck the pretrained features);
``full``
    everything trains, the head at ``head_lr_multiplier`` times the backbone's
    learning rate;
``layer-decay``
    everything trains, each layer at ``layer_decay ** (distance from the head)``
    times the head's learning rate (depth: the input embedding 0, particle block
    i at i, the class token and class blocks above them, the final norm and the
    head on top);
``embedding-and-head``
    for a new detector: only the input embedding (which sees the detector's
    features) and the head train, the Transformer blocks stay frozen.

The learning rate of each parameter group is ``lr_scale x`` the schedule's
learning rate; :func:`apply_learning_rates` sets it every step.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import torch

from jetscale.io.atomic import write_json
from jetscale.nn import ModelConfig
from jetscale.train.objective import Supervised

log = logging.getLogger(__name__)

Policy = Literal[
    "scratch", "linear-probe", "frozen-then-unfreeze", "full", "layer-decay", "embedding-and-head"
]
POLICIES: tuple[str, ...] = get_args(Policy)
#: Parameters of the task-specific head: never loaded from a backbone.
HEAD_PREFIXES = ("head.",)
#: Parameters that see the detector's inputs directly.
EMBEDDING_PREFIXES = ("embed.",)


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What loading a backbone did to each parameter and buffer of the model."""

    loaded: tuple[str, ...]
    initialised: tuple[str, ...]  # new: the head, or absent from the backbone
    refused: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # name, backbone, model
    unused: tuple[str, ...]  # in the backbone, not in the model

    def summary(self) -> str:
        lines = [
            f"{len(self.loaded)} tensors loaded, {len(self.initialised)} newly initialised, "
            f"{len(self.refused)} refused for their shape, {len(self.unused)} unused"
        ]
        lines += [f"  new: {name}" for name in self.initialised]
        lines += [
            f"  refused: {name} (backbone {list(theirs)}, model {list(ours)})"
            for name, theirs, ours in self.refused
        ]
        lines += [f"  unused: {name}" for name in self.unused]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "loaded": list(self.loaded),
            "initialised": list(self.initialised),
            "refused": [
                {"name": n, "backbone_shape": list(b), "model_shape": list(m)}
                for n, b, m in self.refused
            ],
            "unused": list(self.unused),
        }


def load_backbone(model: torch.nn.Module, backbone_state: Mapping[str, torch.Tensor]) -> LoadReport:
    """Copy the backbone's tensors into ``model`` where name and shape match; the head stays new.

    Tensors of another shape (a task with other classes, another feature count)
    keep the model's initialisation and are reported as refused.
    """
    ours = model.state_dict()
    loaded, initialised, refused = [], [], []
    update = {}
    for name, tensor in ours.items():
        theirs = backbone_state.get(name)
        if theirs is None or name.startswith(HEAD_PREFIXES):
            initialised.append(name)
        elif tuple(theirs.shape) != tuple(tensor.shape):
            refused.append((name, tuple(theirs.shape), tuple(tensor.shape)))
        else:
            update[name] = theirs
            loaded.append(name)
    model.load_state_dict({**ours, **update})
    unused = tuple(sorted(set(backbone_state) - set(ours)))
    return LoadReport(tuple(loaded), tuple(initialised), tuple(refused), unused)


def layer_depths(model: torch.nn.Module) -> dict[str, int]:
    """Each parameter's depth for layer-wise decay: 0 at the input, the head on top."""
    n_blocks = len(getattr(model, "blocks", ()))
    n_class = len(getattr(model, "class_blocks", ()))
    top = n_blocks + n_class + 2
    depths = {}
    for name, _ in model.named_parameters():
        first, _, rest = name.partition(".")
        if first == "embed":
            depths[name] = 0
        elif first == "blocks":
            depths[name] = int(rest.split(".")[0]) + 1
        elif first == "class_token":
            depths[name] = n_blocks + 1
        elif first == "class_blocks":
            depths[name] = n_blocks + 1 + int(rest.split(".")[0]) + 1
        else:  # norm, head, and any layer outside the Transformer's stack
            depths[name] = top
    return depths


def parameter_groups(
    model: torch.nn.Module,
    policy: Policy,
    weight_decay: float,
    head_lr_multiplier: float = 1.0,
    layer_decay: float = 0.75,
    freeze_steps: int = 0,
    ramp_steps: int = 0,
) -> list[dict[str, Any]]:
    """AdamW parameter groups with an ``lr_scale`` each; frozen parameters get no gradient.

    The head's scale is 1 (it trains at the schedule's rate); with ``full`` the
    backbone's is ``1 / head_lr_multiplier``. With ``frozen-then-unfreeze`` the
    backbone groups carry ``freeze_steps`` and ``ramp_steps`` (see
    :func:`backbone_scale`). Weight decay applies to matrices only, as in
    :func:`jetscale.train.objective.make_optimizer`.
    """
    if policy not in POLICIES:
        msg = f"unknown fine-tuning policy {policy!r}; known: {', '.join(POLICIES)}"
        raise ValueError(msg)
    if head_lr_multiplier <= 0 or not 0 < layer_decay <= 1:
        msg = f"need head_lr_multiplier > 0 and 0 < layer_decay <= 1, got {head_lr_multiplier}, {layer_decay}"
        raise ValueError(msg)
    depths = layer_depths(model)
    top = max(depths.values())
    groups: dict[tuple[float, bool, str], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        head = name.startswith(HEAD_PREFIXES)
        scale = _lr_scale(policy, name, head, depths[name], top, head_lr_multiplier, layer_decay)
        parameter.requires_grad_(scale > 0)
        if scale == 0:
            continue
        decays = parameter.dim() >= 2 and parameter.shape[0] > 1
        part = "head" if head else "backbone"
        groups.setdefault((scale, decays, part), []).append(parameter)
    unfreeze = (freeze_steps, ramp_steps) if policy == "frozen-then-unfreeze" else (0, 0)
    return [
        {
            "params": params,
            "lr_scale": scale,
            "weight_decay": weight_decay if decays else 0.0,
            "part": part,
            "unfreeze": unfreeze if part == "backbone" else (0, 0),
        }
        for (scale, decays, part), params in groups.items()
    ]


def _lr_scale(
    policy: Policy,
    name: str,
    head: bool,
    depth: int,
    top: int,
    head_lr_multiplier: float,
    layer_decay: float,
) -> float:
    if head or policy == "scratch":
        return 1.0
    if policy in ("linear-probe", "frozen-then-unfreeze"):
        return 0.0 if policy == "linear-probe" else 1.0  # the latter is gated by backbone_scale
    if policy == "embedding-and-head":
        return 1.0 if name.startswith(EMBEDDING_PREFIXES) else 0.0
    if policy == "full":
        return 1.0 / head_lr_multiplier
    return float(layer_decay ** (top - depth))  # layer-decay


def backbone_scale(step: int, freeze_steps: int, ramp_steps: int) -> float:
    """``frozen-then-unfreeze``: 0 for ``freeze_steps`` steps, then linear to 1 over ``ramp_steps``."""
    if step < freeze_steps:
        return 0.0
    if ramp_steps <= 0:
        return 1.0
    return min((step - freeze_steps + 1) / ramp_steps, 1.0)


def apply_learning_rates(optimizer: torch.optim.Optimizer, lr: float, step: int) -> None:
    """Set every group's learning rate at ``step``: ``lr x lr_scale``, gated while frozen.

    A frozen step has learning rate 0 (AdamW's decoupled weight decay scales with
    it, so the weights do not move at all).
    """
    for group in optimizer.param_groups:
        freeze_steps, ramp_steps = group.get("unfreeze", (0, 0))
        gate = backbone_scale(step, freeze_steps, ramp_steps)
        group["lr"] = lr * group["lr_scale"] * gate


def trainable(parameters: Iterable[tuple[str, torch.nn.Parameter]]) -> list[str]:
    """Names of the parameters that receive gradients."""
    return [name for name, p in parameters if p.requires_grad]


class FineTuneObjective(Supervised):
    """The training loop's objective for fine-tuning a backbone with a policy (``jetscale finetune``).

    The model has the backbone's architecture and inputs; the backbone's
    weights are loaded (all but the head; none for ``scratch``), the load report
    is logged and written to ``report_path``, and the policy decides what trains
    at which learning rate, step by step. The loss, validation and FLOPs are the
    tagger's (:class:`~jetscale.train.objective.Supervised`).
    """

    name = "finetune"

    def __init__(
        self,
        backbone: str | os.PathLike[str],
        policy: Policy,
        report_path: str | os.PathLike[str] | None = None,
        head_lr_multiplier: float = 1.0,
        layer_decay: float = 0.75,
        freeze_steps: int = 0,
        ramp_steps: int = 0,
    ) -> None:
        from jetscale.transfer.pretrain import backbone_state

        if policy not in POLICIES:
            msg = f"unknown fine-tuning policy {policy!r}; known: {', '.join(POLICIES)}"
            raise ValueError(msg)
        self.backbone_path = Path(backbone)
        self.backbone_config, self.backbone_weights = backbone_state(backbone)
        self.policy: Policy = policy
        self.report_path = Path(report_path) if report_path is not None else None
        self.settings = {
            "head_lr_multiplier": head_lr_multiplier,
            "layer_decay": layer_decay,
            "freeze_steps": freeze_steps,
            "ramp_steps": ramp_steps,
        }
        self.report: LoadReport | None = None

    def check_compatible(self, config: ModelConfig) -> None:
        """The fine-tuned model must be the backbone's (but for its number of classes)."""
        theirs = self.backbone_config.to_dict()
        ours = config.to_dict()
        differ = [k for k in theirs if k not in ("n_classes", "dropout") and theirs[k] != ours[k]]
        if differ:
            detail = ", ".join(f"{k}: backbone {theirs[k]!r}, model {ours[k]!r}" for k in differ)
            msg = f"{self.backbone_path}: the backbone does not fit the model ({detail})"
            raise ValueError(msg)

    def build(self, config: ModelConfig) -> torch.nn.Module:
        from jetscale.nn import build_model

        self.check_compatible(config)
        model = build_model(config)
        if self.policy == "scratch":
            ours = tuple(model.state_dict())
            self.report = LoadReport((), ours, (), tuple(sorted(self.backbone_weights)))
        else:
            self.report = load_backbone(model, self.backbone_weights)
        log.info("%s: %s", self.backbone_path, self.report.summary())
        if self.report_path is not None and int(os.environ.get("RANK", "0")) == 0:
            write_json(
                self.report_path,
                {
                    "backbone": str(self.backbone_path),
                    "policy": self.policy,
                    **self.report.to_dict(),
                },
            )
        return model

    def optimizer(self, module: torch.nn.Module, config: Any) -> torch.optim.Optimizer:
        groups = parameter_groups(
            module,
            self.policy,
            config.weight_decay,
            float(self.settings["head_lr_multiplier"]),
            float(self.settings["layer_decay"]),
            int(self.settings["freeze_steps"]),
            int(self.settings["ramp_steps"]),
        )
        return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95))

    def set_learning_rate(self, optimizer: torch.optim.Optimizer, lr: float, step: int) -> None:
        apply_learning_rates(optimizer, lr, step)

    def describe(self) -> dict[str, Any]:
        from jetscale.io.identity import data_identity

        (identity,) = data_identity([str(self._checkpoint_file())])
        return {
            "name": self.name,
            "policy": self.policy,
            "backbone": identity["file"],
            "backbone_xxh3_128": identity["xxh3_128"],
            **self.settings,
        }

    def _checkpoint_file(self) -> Path:
        from jetscale.train.checkpoint import BEST_NAME, LAST_NAME

        path = self.backbone_path
        if path.is_dir():
            return path / BEST_NAME if (path / BEST_NAME).exists() else path / LAST_NAME
        return path


#: The load report of a fine-tuning run, in its run directory.
LOAD_REPORT_NAME = "load_report.json"


def finetune(
    config: Any,
    backbone: str | os.PathLike[str],
    policy: Policy = "full",
    head_lr_multiplier: float = 1.0,
    layer_decay: float = 0.75,
    freeze_steps: int = 0,
    ramp_steps: int = 0,
    resume: bool = True,
    stop_after_steps: int | None = None,
) -> dict[str, Any]:
    """Fine-tune ``backbone`` (a pretraining run or checkpoint) with ``policy``; the last metrics line.

    ``config`` is a :class:`~jetscale.train.TrainConfig` whose model is the
    backbone's (a mismatch is an error naming the backbone, before any step).
    """
    from jetscale.train import train

    objective = FineTuneObjective(
        backbone,
        policy,
        Path(config.out) / LOAD_REPORT_NAME,
        head_lr_multiplier,
        layer_decay,
        freeze_steps,
        ramp_steps,
    )
    objective.check_compatible(config.model)
    return train(config, resume, stop_after_steps, objective=objective)
