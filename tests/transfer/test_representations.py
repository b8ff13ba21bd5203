"""Jet-level representations: layer lists, mask-aware pooling, loading, and CKA of two models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from jetscale.features import build_features  # noqa: E402
from jetscale.io import write_jetclass  # noqa: E402
from jetscale.nn import ModelConfig, build_model  # noqa: E402
from jetscale.train.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from jetscale.transfer import cka_matrix  # noqa: E402
from jetscale.transfer.compare import compare_models  # noqa: E402
from jetscale.transfer.representations import (  # noqa: E402
    jet_representations,
    layer_names,
    load_model,
    masked_mean,
    read_jets_for,
)

MakeJets = Callable[..., ak.Array]
TINY = ModelConfig(
    d_model=16,
    n_layers=2,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kin",
    max_particles=32,
)


def model(config: ModelConfig = TINY, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(config).eval()


def inputs(n_jets: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random features, and jets of 1 to 20 real constituents in 32 slots (the rest padded)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_jets, TINY.max_particles, TINY.n_features, generator=generator)
    counts = torch.randint(1, 21, (n_jets,), generator=generator)
    mask = torch.arange(TINY.max_particles)[None, :] < counts[:, None]
    return x, mask


def test_transformer_layers_in_order_with_jet_level_shapes() -> None:
    tagger = model()
    assert layer_names(tagger) == ["embed", "block1", "block2", "class_block1", "norm", "logits"]
    x, mask = inputs()
    reps = jet_representations(tagger, x, mask)
    assert list(reps) == layer_names(tagger)
    assert all(r.dtype == np.float64 for r in reps.values())
    assert {name: r.shape for name, r in reps.items()} == {
        **dict.fromkeys(("embed", "block1", "block2", "class_block1", "norm"), (6, 16)),
        "logits": (6, TINY.n_classes),
    }
    with torch.inference_mode():
        logits = tagger(x, mask)
    np.testing.assert_allclose(reps["logits"], logits.double().numpy())
    assert not tagger._forward_hooks and not tagger.head._forward_hooks  # hooks removed


def test_pfn_layers() -> None:
    pfn = model(ModelConfig(**{**TINY.to_dict(), "architecture": "pfn"}))
    assert layer_names(pfn) == ["embed", "phi", "pooled", "rho1", "rho2", "logits"]
    x, mask = inputs()
    reps = jet_representations(pfn, x, mask)
    assert reps["pooled"].shape == (6, 16) and reps["logits"].shape == (6, TINY.n_classes)


def test_refuses_other_models() -> None:
    with pytest.raises(
        TypeError, match="JetTransformer and ParticleFlowNetwork models, not Linear"
    ):
        layer_names(torch.nn.Linear(2, 2))


def test_masked_mean_ignores_padded_slots() -> None:
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [float("nan"), 1e30]], [[5.0, 6.0], [0, 0], [0, 0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert masked_mean(h, mask).tolist() == [[2.0, 3.0], [0.0, 0.0]]  # no constituent: zeros


@pytest.mark.parametrize("architecture", ["transformer", "pfn"])
def test_padded_slots_change_no_representation(architecture: str) -> None:
    """Other values in the padded slots, or fewer padded slots: every layer gives the same."""
    tagger = model(ModelConfig(**{**TINY.to_dict(), "architecture": architecture}))
    x, mask = inputs()
    reference = jet_representations(tagger, x, mask)
    scrambled = torch.where(mask[..., None], x, 1e3 * torch.randn_like(x))
    changed = jet_representations(tagger, scrambled, mask)
    trimmed = jet_representations(tagger, x[:, :20], mask[:, :20])
    for name in reference:
        np.testing.assert_allclose(changed[name], reference[name], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(trimmed[name], reference[name], rtol=1e-5, atol=1e-6)


def test_model_against_itself_is_one_on_the_diagonal(make_jets: MakeJets) -> None:
    tagger = model()
    jets = make_jets(150, seed=3, mean_particles=12)
    for estimator in ("unbiased", "linear"):
        result = compare_models(tagger, tagger, jets, estimator, batch_size=50)
        assert result.n_jets == 150 and result.n_batches == 3
        np.testing.assert_allclose(np.diag(result.matrix), 1.0, rtol=1e-9)
        assert result.matrix.shape == (6, 6)
        assert np.allclose(result.matrix, result.matrix.T)


def test_models_with_other_inputs_see_the_same_jets(make_jets: MakeJets) -> None:
    """A kin model with 32 slots against a full21 model with 16: each builds its own features."""
    other = ModelConfig(**{**TINY.to_dict(), "feature_set": "full21", "max_particles": 16})
    jets = make_jets(120, seed=4, mean_particles=12)
    result = compare_models(model(), model(other, seed=1), jets, batch_size=40)
    assert result.n_jets == 120 and result.matrix.shape == (6, 6)
    assert np.isfinite(result.matrix).all()


def test_precomputed_representations_of_different_jets_are_refused() -> None:
    tagger = model()
    a = jet_representations(tagger, *inputs(n_jets=10, seed=1))
    b = jet_representations(tagger, *inputs(n_jets=8, seed=2))
    with pytest.raises(
        ValueError, match="same jets, but the jet counts differ.*'embed': 10.*'embed': 8"
    ):
        cka_matrix(a, b)


def checkpoint_state(config: ModelConfig, seed: int) -> dict[str, object]:
    return {
        "model_config": config.to_dict(),
        "model_state": model(config, seed).state_dict(),
        "step": 7,
    }


def test_load_model_prefers_best_then_last(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "last.pt", checkpoint_state(TINY, seed=1))
    loaded = load_model(tmp_path)
    assert loaded.checkpoint == tmp_path / "last.pt" and loaded.step == 7
    assert not loaded.module.training
    save_checkpoint(tmp_path / "best.pt", checkpoint_state(TINY, seed=2))
    assert load_model(tmp_path).checkpoint == tmp_path / "best.pt"
    assert load_model(tmp_path / "last.pt").checkpoint == tmp_path / "last.pt"
    weights = model(TINY, seed=2).state_dict()
    assert all(
        torch.equal(v, load_model(tmp_path).module.state_dict()[k]) for k, v in weights.items()
    )


def test_load_model_names_what_is_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=f"{text}: corrupt or unreadable checkpoint"):
        load_model(text)
    with pytest.raises(CheckpointError, match=f"{tmp_path}: no best.pt or last.pt"):
        load_model(tmp_path)
    save_checkpoint(tmp_path / "other.pt", {"weights": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="other.pt: not a jetscale checkpoint"):
        load_model(tmp_path / "other.pt")
    bigger = ModelConfig(**{**TINY.to_dict(), "d_model": 32})
    save_checkpoint(
        tmp_path / "mixed.pt", {**checkpoint_state(TINY, 0), "model_config": bigger.to_dict()}
    )
    with pytest.raises(CheckpointError, match="mixed.pt: weights do not fit"):
        load_model(tmp_path / "mixed.pt")


def test_read_jets_for_reads_every_needed_field_once(tmp_path: Path, make_jets: MakeJets) -> None:
    write_jetclass(tmp_path / "a.root", make_jets(80, seed=5, mean_particles=10))
    write_jetclass(tmp_path / "b.root", make_jets(40, seed=6, mean_particles=10))
    jets = read_jets_for([str(tmp_path / "*.root")], ["kin", "full21"], max_jets=90)
    assert len(jets) == 90
    for name in ("kin", "full21"):  # both feature sets can be built from the same jets
        x, _ = build_features(jets, name, 16)
        assert len(x) == 90
    with pytest.raises(ValueError, match="max_jets must be >= 1, got 0"):
        read_jets_for([str(tmp_path / "a.root")], ["kin"], max_jets=0)
    empty = write_jetclass(tmp_path / "empty.root", make_jets(5, seed=7)[:0])
    with pytest.raises(ValueError, match=f"no jets in {empty}"):
        read_jets_for([str(empty)], ["kin"], max_jets=10)
