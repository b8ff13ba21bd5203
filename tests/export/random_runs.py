"""Run directories holding random models, for export tests that need no training."""

from __future__ import annotations

from pathlib import Path

import torch

from jetscale.nn import ModelConfig, build_model
from jetscale.train.checkpoint import save_checkpoint


def random_run(base: Path, task: str | None = None, **model: object) -> Path:
    """A run directory whose ``last.pt`` holds a random model with non-zero biases.

    ``task`` (e.g. ``"Tbqq,QCD"``) is recorded as the training's task.
    """
    config = ModelConfig(
        **{"d_model": 24, "n_heads": 3, "ff_ratio": 2, "n_layers": 2, "n_class_layers": 2, **model}  # type: ignore[arg-type]
    )
    torch.manual_seed(11)
    network = build_model(config)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0.0, 0.2)  # biases and norms too: every term of the graph counts
    base.mkdir(parents=True)
    state = {"model_config": config.to_dict(), "model_state": network.state_dict(), "step": 0}
    if task is not None:
        state["train_config"] = {"task": task}
    save_checkpoint(base / "last.pt", state)
    return base
