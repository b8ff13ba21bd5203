"""Masked particle modelling: what is hidden, what the encoder sees, what the loss counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from jetscale.features.registry import FEATURE_SETS
from jetscale.nn import ModelConfig, build_model
from jetscale.transfer.mpm import MaskedParticleModel, choose_hidden, mpm_loss

CONFIG = ModelConfig(
    d_model=16,
    n_layers=2,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kinpid",
    max_particles=20,
)
NAMES = FEATURE_SETS["kinpid"]


def jets(n_real: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (random continuous values, one-hot PID flags) and masks of jets of given sizes."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(len(n_real), CONFIG.max_particles, len(NAMES), generator=generator)
    flags = [NAMES.index(n) for n in NAMES if n.startswith("part_is")]
    pid = torch.randint(0, len(flags), x.shape[:2], generator=generator)
    x[..., flags] = F.one_hot(pid, len(flags)).float()
    mask = torch.arange(CONFIG.max_particles)[None, :] < torch.tensor(n_real)[:, None]
    x = x.masked_fill(~mask[..., None], 0.0)
    return x, mask


def test_only_real_constituents_are_hidden_in_the_requested_fraction() -> None:
    sizes = [1, 2, 3, 7, 10, 20, 0, 13]
    _, mask = jets(sizes)
    chosen = choose_hidden(mask, 0.35, torch.Generator().manual_seed(4))
    assert not (chosen.hidden & ~mask).any()  # never a padded slot
    # round(0.35 n), at least 1 and at most n - 1; jets of 0 or 1 particles hide none
    by_hand = [0, 1, 1, 2, 4, 7, 0, 5]
    assert chosen.hidden.sum(dim=1).tolist() == by_hand
    assert chosen.too_short == 2


def test_the_choice_is_random_and_reproducible() -> None:
    _, mask = jets([20] * 200)
    first = choose_hidden(mask, 0.3, torch.Generator().manual_seed(1)).hidden
    again = choose_hidden(mask, 0.3, torch.Generator().manual_seed(1)).hidden
    assert torch.equal(first, again)
    # every slot is hidden in about 30% of the jets (binomial, 200 jets: 5 sigma ~ 0.16)
    assert (first.float().mean(dim=0) - 0.3).abs().max() < 0.16


def test_the_encoder_never_sees_a_hidden_particle() -> None:
    torch.manual_seed(0)
    model = MaskedParticleModel(build_model(CONFIG), NAMES)  # type: ignore[arg-type]
    model.eval()
    x, mask = jets([12, 5, 20])
    hidden = choose_hidden(mask, 0.4, torch.Generator().manual_seed(2)).hidden
    before = model(x, mask, hidden)
    changed = x.clone()
    changed[hidden] = torch.randn_like(changed[hidden]) * 10
    after = model(changed, mask, hidden)
    assert torch.equal(before[0], after[0]) and torch.equal(before[1], after[1])  # type: ignore[arg-type]
    # ... while a visible particle does matter
    visible = mask & ~hidden
    changed = x.clone()
    changed[visible] += 1.0
    assert not torch.allclose(model(changed, mask, hidden)[0], before[0])


def test_the_loss_counts_only_hidden_particles_and_equals_the_hand_computed_one() -> None:
    torch.manual_seed(0)
    model = MaskedParticleModel(build_model(CONFIG), NAMES)  # type: ignore[arg-type]
    x, mask = jets([9, 14])
    hidden = choose_hidden(mask, 0.35, torch.Generator().manual_seed(3)).hidden
    with torch.no_grad():
        continuous, logits = model(x, mask, hidden)
        assert logits is not None
        loss, parts = mpm_loss(model, (continuous, logits), x, hidden)
    # by hand: L1 over hidden particles' continuous features + CE over their PID flags
    cont = [i for i, n in enumerate(NAMES) if not n.startswith("part_is")]
    flags = [i for i, n in enumerate(NAMES) if n.startswith("part_is")]
    rows = hidden.nonzero().tolist()
    l1 = sum((continuous[b, p] - x[b, p, cont]).abs().sum() for b, p in rows) / (
        len(rows) * len(cont)
    )
    ce = sum(
        -torch.log_softmax(logits[b, p], dim=0)[int(x[b, p, flags].argmax())] for b, p in rows
    ) / len(rows)
    assert float(loss) == pytest.approx(float(l1 + ce), rel=1e-5)
    assert parts["mpm_regression"] == pytest.approx(float(l1), rel=1e-5)
    # outputs at other slots do not count
    moved = continuous.clone()
    moved[~hidden] += 100.0
    other = mpm_loss(model, (moved, logits), x, hidden)[0]
    assert float(other) == pytest.approx(float(loss), rel=1e-6)


def test_a_batch_of_too_short_jets_has_zero_loss_and_still_backpropagates() -> None:
    model = MaskedParticleModel(build_model(CONFIG), NAMES)  # type: ignore[arg-type]
    x, mask = jets([1, 0, 1])
    chosen = choose_hidden(mask, 0.35)
    assert chosen.too_short == 3 and not chosen.hidden.any()
    loss, _ = mpm_loss(model, model(x, mask, chosen.hidden), x, chosen.hidden)
    assert float(loss.detach()) == 0.0
    loss.backward()  # a graph, no error


def test_bad_settings_are_named() -> None:
    _, mask = jets([5])
    with pytest.raises(ValueError, match=r"fraction of hidden particles must be in \(0, 1\)"):
        choose_hidden(mask, 1.0)
    pfn = build_model(ModelConfig(architecture="pfn", feature_set="kinpid", max_particles=20))
    with pytest.raises(TypeError, match=r"needs a Transformer backbone, got ParticleFlowNetwork"):
        MaskedParticleModel(pfn, NAMES)  # type: ignore[arg-type]
