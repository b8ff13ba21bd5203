"""The tagger: exact counts, invariances, and that it can learn."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from jetscale.nn import JetTransformer, ModelConfig, count_parameters, forward_flops  # noqa: E402

CONFIGS = [
    ModelConfig(d_model=32, n_layers=2, n_heads=4, ff_ratio=2, n_class_layers=1, feature_set="kin"),
    ModelConfig(
        d_model=64, n_layers=3, n_heads=8, ff_ratio=4, n_class_layers=2, feature_set="full21"
    ),
]


def inputs(
    config: ModelConfig, batch: int, particles: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, particles, config.n_features, generator=gen)
    counts = torch.randint(1, particles + 1, (batch,), generator=gen)
    mask = torch.arange(particles)[None, :] < counts[:, None]
    return x * mask[..., None], mask


@pytest.mark.parametrize("config", CONFIGS)
def test_parameter_count_is_exact(config: ModelConfig) -> None:
    model = JetTransformer(config)
    counted = count_parameters(config)
    assert counted.total == sum(p.numel() for p in model.parameters())
    assert counted.embedding == sum(p.numel() for p in model.embed.parameters())
    assert counted.non_embedding == counted.total - counted.embedding


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("particles", [1, 16, 128])
def test_forward_flops_match_torch_counter(config: ModelConfig, particles: int) -> None:
    model = JetTransformer(config).eval()
    x, mask = inputs(config, batch=4, particles=particles)
    # The math backend decomposes attention into bmm, which the counter sees; the
    # fused CPU kernel has no FLOP formula registered and would count as zero.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(x, mask)
    measured = counter.get_total_flops() / 4
    # The issue asks for 10%; the analytic count is in fact exact for matrix products.
    assert forward_flops(config, particles) == pytest.approx(measured, rel=1e-9)


@pytest.mark.parametrize("config", CONFIGS)
def test_permutation_and_padding_invariance(config: ModelConfig) -> None:
    model = JetTransformer(config).eval()
    x, mask = inputs(config, batch=6, particles=20, seed=3)
    with torch.no_grad():
        reference = model(x, mask)
        perm = torch.randperm(20, generator=torch.Generator().manual_seed(1))
        permuted = model(x[:, perm], mask[:, perm])
        padded_x = torch.cat(
            [x, torch.randn(6, 30, config.n_features)], dim=1
        )  # garbage in padding
        padded_mask = torch.cat([mask, torch.zeros(6, 30, dtype=torch.bool)], dim=1)
        padded = model(padded_x, padded_mask)
    torch.testing.assert_close(permuted, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded, reference, atol=1e-5, rtol=1e-5)


def test_empty_jet_gives_finite_output() -> None:
    config = CONFIGS[0]
    model = JetTransformer(config).eval()
    x = torch.zeros(2, 8, config.n_features)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[1, :3] = True
    with torch.no_grad():
        out = model(x, mask)
    assert torch.isfinite(out).all()


@pytest.mark.slow
def test_overfits_a_small_batch() -> None:
    torch.manual_seed(0)
    config = ModelConfig(
        d_model=32, n_layers=2, n_heads=4, ff_ratio=2, n_class_layers=1, feature_set="kin"
    )
    model = JetTransformer(config)
    x, mask = inputs(config, batch=32, particles=12, seed=5)
    labels = torch.randint(0, config.n_classes, (32,), generator=torch.Generator().manual_seed(2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(300):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, mask), labels)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.02


def test_bad_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="d_model=30 is not divisible by n_heads=4"):
        ModelConfig(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="unknown feature set 'full22'"):
        ModelConfig(feature_set="full22")
    with pytest.raises(ValueError, match="unknown ModelConfig keys: width"):
        ModelConfig.from_dict({"width": 3})


def test_pfn_baseline_counts_and_invariance() -> None:
    from jetscale.nn import build_model

    config = ModelConfig(d_model=32, architecture="pfn", feature_set="kinpid")
    model = build_model(config).eval()
    assert count_parameters(config).total == sum(p.numel() for p in model.parameters())
    x, mask = inputs(config, batch=4, particles=24, seed=7)
    with FlopCounterMode(display=False) as counter:
        reference = model(x, mask)
    assert forward_flops(config, 24) == pytest.approx(counter.get_total_flops() / 4, rel=1e-9)
    perm = torch.randperm(24, generator=torch.Generator().manual_seed(3))
    padded = torch.cat([x, torch.randn(4, 5, config.n_features)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(4, 5, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(
            model(x[:, perm], mask[:, perm]), reference, atol=1e-5, rtol=1e-5
        )
        torch.testing.assert_close(model(padded, padded_mask), reference, atol=1e-5, rtol=1e-5)


def test_training_flops_is_six_n_d() -> None:
    """C = 6 N T by hand, for numbers and arrays; C / (6 N D) gives constituents per jet back."""
    import numpy as np

    from jetscale.nn import training_flops

    assert training_flops(1_000, 500) == 3_000_000
    n, d = np.array([10.0, 20.0]), np.array([100.0, 50.0])
    compute = training_flops(n, d * 40.0)  # 40 constituents per jet
    np.testing.assert_array_equal(compute, [240_000.0, 240_000.0])
    np.testing.assert_allclose(compute / training_flops(n, d), 40.0)
