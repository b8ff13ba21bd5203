"""Load a backbone into a model for a binary task and fine-tune it with layer-wise decay.

Run from the repository root: python docs/examples/finetune_policies.py
"""

import torch

from jetscale.nn import ModelConfig, build_model
from jetscale.transfer.finetune import apply_learning_rates, load_backbone, parameter_groups

config = ModelConfig(d_model=16, n_layers=2, n_heads=2, feature_set="kin", max_particles=16)
backbone = build_model(config)  # in practice: a run's checkpoint, loaded weights_only
task = build_model(ModelConfig(**{**config.to_dict(), "n_classes": 2}))  # e.g. Hbb vs QCD
report = load_backbone(task, backbone.state_dict())
print(report.summary())  # the head is new, everything else loaded

groups = parameter_groups(task, "layer-decay", weight_decay=0.05, layer_decay=0.5)
optimizer = torch.optim.AdamW(groups)
apply_learning_rates(optimizer, lr=1e-3, step=0)  # every step, with the schedule's rate
rates = sorted({group["lr"] for group in optimizer.param_groups})
print("learning rates:", ", ".join(f"{rate:.2e}" for rate in rates))
