"""Fine-tuning policies: which parameters train, at which learning rate, and what a backbone load does.

"Trains" is checked by its effect: the parameters that differ after one AdamW
step, against sets written out by hand from the parameter names.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from jetscale.nn import ModelConfig, build_model
from jetscale.transfer.finetune import (
    POLICIES,
    apply_learning_rates,
    backbone_scale,
    load_backbone,
    parameter_groups,
)

TINY = ModelConfig(
    d_model=16,
    n_layers=2,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kin",
    max_particles=12,
)


def batch(config: ModelConfig, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(8, config.max_particles, config.n_features, generator=generator)
    mask = torch.arange(config.max_particles)[None, :] < torch.randint(
        1, config.max_particles, (8, 1), generator=generator
    )
    label = torch.randint(0, config.n_classes, (8,), generator=generator)
    return x, mask, label


def changed_after_one_step(policy: str, step: int = 0) -> set[str]:
    torch.manual_seed(1)
    model = build_model(TINY)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    groups = parameter_groups(model, policy, 0.01, freeze_steps=3, ramp_steps=2)  # type: ignore[arg-type]
    optimizer = torch.optim.AdamW(groups)
    apply_learning_rates(optimizer, 1e-2, step)
    x, mask, label = batch(TINY)
    torch.nn.functional.cross_entropy(model(x, mask), label).backward()
    optimizer.step()
    return {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}


ALL = {n for n, _ in build_model(TINY).named_parameters()}
HEAD = {"head.weight", "head.bias"}
EMBED = {n for n in ALL if n.startswith("embed.")}


@pytest.mark.parametrize(
    ("policy", "step", "expected"),
    [
        ("scratch", 0, ALL),
        ("full", 0, ALL),
        ("layer-decay", 0, ALL),
        ("linear-probe", 0, HEAD),
        ("frozen-then-unfreeze", 0, HEAD),  # frozen for 3 steps
        ("frozen-then-unfreeze", 3, ALL),  # then the backbone trains again
        ("embedding-and-head", 0, EMBED | HEAD),
    ],
)
def test_each_policy_trains_exactly_its_parameters(
    policy: str, step: int, expected: set[str]
) -> None:
    assert changed_after_one_step(policy, step) == expected


def test_every_policy_is_covered() -> None:
    assert set(POLICIES) == {
        "scratch",
        "linear-probe",
        "frozen-then-unfreeze",
        "full",
        "layer-decay",
        "embedding-and-head",
    }


def test_layer_decay_rates_match_the_hand_computed_ones() -> None:
    model = build_model(TINY)
    optimizer = torch.optim.AdamW(
        parameter_groups(model, "layer-decay", weight_decay=0.0, layer_decay=0.5)
    )
    apply_learning_rates(optimizer, 1e-3, step=0)
    rate = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    # Depths: embed 0, blocks.0 1, blocks.1 2, class token 3, class_blocks.0 4, norm/head 5.
    by_hand = {"embed": 1 / 32, "blocks.0": 1 / 16, "blocks.1": 1 / 8, "class_token": 1 / 4}
    by_hand |= {"class_blocks.0": 1 / 2, "norm": 1.0, "head": 1.0}
    for name, parameter in model.named_parameters():
        prefix = next(k for k in by_hand if name == k or name.startswith(k + "."))
        assert rate[id(parameter)] == pytest.approx(1e-3 * by_hand[prefix]), name


def test_full_fine_tuning_runs_the_head_faster() -> None:
    model = build_model(TINY)
    optimizer = torch.optim.AdamW(
        parameter_groups(model, "full", weight_decay=0.0, head_lr_multiplier=10.0)
    )
    apply_learning_rates(optimizer, 1e-3, step=0)
    rate = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    for name, parameter in model.named_parameters():
        assert rate[id(parameter)] == pytest.approx(1e-3 if name in HEAD else 1e-4), name


def test_unfreezing_ramps_linearly() -> None:
    assert [backbone_scale(s, 3, 4) for s in range(9)] == [0, 0, 0, 0.25, 0.5, 0.75, 1, 1, 1]
    assert backbone_scale(3, 3, 0) == 1.0


def test_a_backbone_loads_everything_but_the_head_and_gives_the_same_embedding() -> None:
    torch.manual_seed(2)
    backbone = build_model(TINY)  # ten classes
    task = build_model(dataclasses.replace(TINY, n_classes=2))  # a binary task
    report = load_backbone(task, backbone.state_dict())
    assert set(report.initialised) == HEAD
    assert set(report.loaded) == set(backbone.state_dict()) - HEAD
    assert report.refused == () and report.unused == ()
    embeddings = []
    for model in (backbone, task):  # the normed class token, what the head reads
        captured: list[torch.Tensor] = []
        model.norm.register_forward_hook(lambda m, i, o, c=captured: c.append(o))
        model(*batch(TINY)[:2])
        embeddings.append(captured[0])
    assert torch.equal(embeddings[0], embeddings[1])


def test_a_backbone_for_other_inputs_is_refused_tensor_by_tensor() -> None:
    backbone = build_model(TINY)
    other = build_model(dataclasses.replace(TINY, feature_set="full21"))  # 21 features, not 7
    report = load_backbone(other, backbone.state_dict())
    refused = {name: (theirs, ours) for name, theirs, ours in report.refused}
    assert set(refused) == {"embed.0.weight"}
    assert refused["embed.0.weight"] == ((16, TINY.n_features), (16, 21))
    assert "refused: embed.0.weight (backbone [16, 7], model [16, 21])" in report.summary()


def test_unknown_policy_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown fine-tuning policy 'partial'; known: scratch"):
        parameter_groups(build_model(TINY), "partial", weight_decay=0.0)  # type: ignore[arg-type]


def test_frozen_then_unfreeze_rates_by_step() -> None:
    model = build_model(TINY)
    groups = parameter_groups(model, "frozen-then-unfreeze", 0.0, freeze_steps=3, ramp_steps=2)
    optimizer = torch.optim.AdamW(groups)
    head = {id(p) for n, p in model.named_parameters() if n in HEAD}
    for step, backbone in ((0, 0.0), (2, 0.0), (3, 0.5), (4, 1.0), (9, 1.0)):
        apply_learning_rates(optimizer, 2e-3, step)
        for group in optimizer.param_groups:
            is_head = all(id(p) in head for p in group["params"])
            assert group["lr"] == pytest.approx(2e-3 if is_head else 2e-3 * backbone), step
