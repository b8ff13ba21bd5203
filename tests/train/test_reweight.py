"""Mass decorrelation weights: every class flat over its occupied (pT, m_SD) bins."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import uproot

from jetscale.export.onnx_export import model_card
from jetscale.io import write_jetclass
from jetscale.nn import ModelConfig
from jetscale.train import TrainConfig, train
from jetscale.train.checkpoint import load_checkpoint
from jetscale.train.objective import Supervised
from jetscale.train.reweight import MassPtWeights

PT_EDGES = (200.0, 400.0, 800.0)
MSD_EDGES = (20.0, 60.0, 100.0)


def test_weights_by_hand() -> None:
    # Class 0: 3 jets in bin (0,0), 1 jet in bin (1,1), 1 jet off the grid (m_SD 10).
    # Class 1: 4 jets in bin (0,1), 2 in bin (1,0).
    label = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    pt = np.array([250, 300, 390, 500, 300, 210, 220, 230, 240, 600, 700.0])
    msd = np.array([30, 40, 50, 80, 10, 70, 80, 90, 95, 25, 55.0])
    weights = MassPtWeights.fit(
        label, pt, msd, 2, min_jets=1, pt_edges=PT_EDGES, msd_edges=MSD_EDGES
    )
    # Class 0 has 5 jets over 2 occupied bins: 2.5 per bin; class 1 has 6 jets over 2: 3 per bin.
    want = np.array([2.5 / 3] * 3 + [2.5, 0.0] + [3 / 4] * 4 + [3 / 2] * 2)
    np.testing.assert_allclose(weights(label, pt, msd), want)
    assert weights.zero_weight_jets == (1, 0)
    # min_jets=2 drops class 0's single-jet bin: its 5 jets' weight goes to the 3-jet bin.
    sparse = MassPtWeights.fit(
        label, pt, msd, 2, min_jets=2, pt_edges=PT_EDGES, msd_edges=MSD_EDGES
    )
    np.testing.assert_allclose(sparse(label, pt, msd)[:5], [5 / 3] * 3 + [0.0, 0.0])
    assert sparse.zero_weight_jets == (2, 0)
    # Negative labels (outside the task), NaN and off-grid jets weigh nothing.
    assert weights(
        np.array([-1, 0, 1]), np.array([300, np.nan, 900.0]), np.array([30, 30, 30.0])
    ).tolist() == [0, 0, 0]


def test_each_class_comes_out_flat() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    label = rng.integers(0, 3, n)
    pt = 200 * np.exp(rng.exponential(0.6, n))  # steeply falling, as generated jets
    msd = np.where(label == 0, rng.exponential(40, n) + 20, rng.normal(80 + 40 * label, 10, n))
    weights = MassPtWeights.fit(label, pt, msd, 3)
    w = weights(label, pt, msd)
    for c in range(3):
        chosen = label == c
        h, _, _ = np.histogram2d(
            pt[chosen], msd[chosen], bins=[weights.pt_edges, weights.msd_edges], weights=w[chosen]
        )
        occupied = h[h > 0]
        np.testing.assert_allclose(occupied, occupied.mean(), rtol=1e-6)  # flat (float32 weights)
        assert w[chosen].sum() == pytest.approx(chosen.sum())  # the class keeps its size


def test_weighted_loss_is_the_weighted_mean() -> None:
    torch.manual_seed(0)
    logits = torch.randn(5, 3)

    class Fixed(torch.nn.Module):
        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return logits

    label = torch.tensor([0, 1, 2, 1, 0])
    weight = torch.tensor([1.0, 0.0, 2.0, 0.5, 3.0])
    per_jet = [float(F.cross_entropy(logits[i : i + 1], label[i : i + 1])) for i in range(5)]
    want = sum(w * ce for w, ce in zip(weight.tolist(), per_jet, strict=True)) / float(weight.sum())
    x, mask = torch.zeros(5, 2, 1), torch.ones(5, 2, dtype=torch.bool)
    got = Supervised().loss(Fixed(), x, mask, label, 0, weight)
    assert float(got) == pytest.approx(want, rel=1e-6)
    assert float(Supervised().loss(Fixed(), x, mask, label, 0)) == pytest.approx(
        np.mean(per_jet), rel=1e-6
    )
    assert float(Supervised().loss(Fixed(), x, mask, label, 0, torch.zeros(5))) == 0.0


def test_training_records_phase_space_and_trains_weighted(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    """A mass-decorrelated run: the record matches the file's jets read with uproot."""
    data = write_jetclass(tmp_path / "jets.root", make_jets(400, seed=5, mean_particles=12))
    tiny = ModelConfig(
        d_model=16, n_layers=1, n_heads=2, ff_ratio=2, feature_set="kin", max_particles=32
    )
    base = {"data": (str(data),), "model": tiny, "epochs": 1, "batch_size": 50, "warmup_steps": 2}
    out = tmp_path / "run"
    line = train(TrainConfig(out=str(out), mass_decorrelation="flat-pt-msd", **base))  # type: ignore[arg-type]
    record = json.loads((out / "training_data.json").read_text())
    with uproot.open(data) as file:
        branches = file["tree"].arrays(["jet_pt", "jet_eta", "jet_sdmass"], library="np")
    # The training jets: all but every 10th (the held-out validation jets).
    kept = np.arange(len(branches["jet_pt"])) % 10 != 9
    pt, eta = branches["jet_pt"][kept], branches["jet_eta"][kept]
    assert record["jets"] == int(kept.sum())
    assert record["phase_space"] == {
        "pt_gev": [math.floor(pt.min()), math.ceil(pt.max())],
        "abs_eta_max": math.ceil(np.abs(eta).max() * 100) / 100,
    }
    assert record["mass_decorrelation"]["method"] == "flat-pt-msd"
    assert "val_sculpting_jsd" in line and "val_auc_pt_bins" in line
    state = load_checkpoint(out / "best.pt")
    card = model_card(out, state)
    assert card["training_phase_space"] == record["phase_space"]
    assert card["mass_decorrelation"] == record["mass_decorrelation"]
    assert card["final_validation"]["val_sculpting_jsd"] == line["val_sculpting_jsd"]
    with pytest.raises(ValueError, match="mass_decorrelation must be one of none, flat-pt-msd"):
        TrainConfig(out=str(out), mass_decorrelation="flat", **base)  # type: ignore[arg-type]
    plain = tmp_path / "plain"
    train(TrainConfig(out=str(plain), **base))  # type: ignore[arg-type]
    assert json.loads((plain / "training_data.json").read_text())["mass_decorrelation"] is None


def test_weighted_validation_old_runs_and_files_without_sdmass(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    jets = make_jets(300, seed=8, mean_particles=10)
    tiny = ModelConfig(
        d_model=16, n_layers=1, n_heads=2, ff_ratio=2, feature_set="kin", max_particles=32
    )
    data = write_jetclass(tmp_path / "jets.root", jets)
    base = {"data": (str(data),), "model": tiny, "epochs": 1, "batch_size": 50, "warmup_steps": 2}
    # A mass-decorrelated run validates on the weighted loss it minimises.
    line = train(TrainConfig(out=str(tmp_path / "md"), mass_decorrelation="flat-pt-msd", **base))  # type: ignore[arg-type]
    assert line["val_loss_unweighted"] != line["val_loss"] > 0
    # A run directory from before mass decorrelation (no such key) resumes as "none".
    plain = tmp_path / "plain"
    first = train(TrainConfig(out=str(plain), **base))  # type: ignore[arg-type]
    config = json.loads((plain / "config.json").read_text())
    del config["mass_decorrelation"]
    (plain / "config.json").write_text(json.dumps(config))
    assert train(TrainConfig(out=str(plain), **base)) == first  # type: ignore[arg-type]
    # Files without jet_sdmass train as before; only mass decorrelation needs the mass.
    with uproot.open(data) as file:
        branches = file["tree"].arrays(library="ak")
    bare = tmp_path / "bare.root"
    with uproot.recreate(bare) as file:
        kept = {k: branches[k] for k in branches.fields if k != "jet_sdmass"}
        file.mktree("tree", {k: v.type for k, v in kept.items()}).extend(kept)
    bare_base = {**base, "data": (str(bare),)}
    assert train(TrainConfig(out=str(tmp_path / "bare_run"), **bare_base))["val_loss"] > 0  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="jet_sdmass"):
        train(
            TrainConfig(
                out=str(tmp_path / "bare_md"), mass_decorrelation="flat-pt-msd", **bare_base
            )
        )  # type: ignore[arg-type]
