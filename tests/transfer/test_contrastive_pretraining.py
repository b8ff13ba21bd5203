"""``jetscale pretrain --objective contrastive``: the loss, batches of whole groups, and a real run."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch

from jetscale import schema
from jetscale.features import build_features
from jetscale.io import QualityReport, write_jetclass
from jetscale.io.errors import JetFileError
from jetscale.io.jetclass import iterate_jetclass, write_jetclass_chunks
from jetscale.nn import ModelConfig, build_model
from jetscale.train import TrainConfig
from jetscale.train.checkpoint import load_checkpoint
from jetscale.train.view_groups import GROUP_ORDER, group_sources, groups_per_batch
from jetscale.transfer.contrastive import (
    DEFAULT_PROJECTION_DIM,
    DEFAULT_TEMPERATURE,
    multi_positive_nt_xent,
)
from jetscale.transfer.pretrain import (
    BACKBONE_NAME,
    ContrastiveObjective,
    backbone_state,
    pretrain,
)

MODEL = ModelConfig(
    d_model=16,
    n_layers=1,
    n_heads=2,
    ff_ratio=2,
    n_class_layers=1,
    feature_set="kinpid",
    max_particles=32,  # above every jet's constituent count: views are told apart whole
)


def write_views(
    path: Path,
    make_jets: Callable[..., ak.Array],
    n_groups: int,
    views: int,
    seed: int,
    single: int = 0,
    view_major: bool = False,
    unphysical: int = 0,
) -> Path:
    """A re-simulated file: each group's views are one jet with its constituents' momenta
    rescaled by 1 + 5% noise (directions kept). The first ``single`` groups have one view;
    the last ``unphysical`` groups have one view with jet pT NaN (the reader drops it).
    ``view_major``: all first views, then all second views, ... (views far apart)."""
    base = make_jets(n_groups, seed=seed, mean_particles=10)
    n_views = np.full(n_groups, views)
    n_views[:single] = 1
    owner = np.repeat(np.arange(n_groups), n_views)
    view = np.concatenate([np.arange(n) for n in n_views])
    if view_major:
        order = np.lexsort((owner, view))
        owner, view = owner[order], view[order]
    jets = base[owner]
    constituents = jets["constituents"]
    counts = ak.num(constituents)
    noise = np.random.default_rng(seed).normal(1.0, 0.05, int(ak.sum(counts)))
    scale = ak.unflatten(noise.astype(np.float32), counts)
    for field in ("px", "py", "pz", "energy"):
        constituents = ak.with_field(constituents, constituents[field] * scale, field)
    jets = ak.with_field(jets, constituents, "constituents")
    if unphysical:
        broken = np.isin(owner, np.arange(n_groups - unphysical, n_groups)) & (view == 0)
        jets = ak.with_field(jets, np.where(broken, np.nan, ak.to_numpy(jets["pt"])), "pt")
    fields = {
        "group": 10 * owner + 3,  # ids need not be consecutive
        "view": view,
        "hard_pt": ak.to_numpy(base["pt"])[owner],
        "hard_eta": ak.to_numpy(base["eta"])[owner],
        "hard_phi": ak.to_numpy(base["phi"])[owner],
        "hard_mass": np.full(len(owner), 125.0),
    }
    for field, values in fields.items():
        jets = ak.with_field(jets, values.astype(schema.VIEW_JET_FIELDS[field]), field)
    names = {"views": [f"variation{v}" for v in range(views)]}
    return write_jetclass_chunks(path, [jets], metadata={schema.VIEWS_KEY: names})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, make_jets: Callable[..., ak.Array]) -> dict:
    where = tmp_path_factory.mktemp("contrastive")
    return {
        # 3 single-view groups and 2 whose second view is unphysical: 5 groups left out
        "pairs": write_views(
            where / "pairs.root", make_jets, 160, 2, seed=1, single=3, unphysical=2
        ),
        "triples": write_views(where / "triples.root", make_jets, 70, 3, seed=2, view_major=True),
        "val": write_views(where / "val.root", make_jets, 40, 2, seed=3),
        "plain": write_jetclass(where / "plain.root", make_jets(50, seed=4, mean_particles=10)),
        "labelled": write_jetclass(
            where / "labelled.root", make_jets(200, seed=5, mean_particles=10)
        ),
    }


def config(data: tuple[Path, ...], out: Path, **changes: object) -> TrainConfig:
    base: dict[str, object] = {
        "data": tuple(str(p) for p in data),
        "out": str(out),
        "model": MODEL,
        "batch_size": 24,
        "eval_every": 5,
        "warmup_steps": 2,
        "lr": 3e-3,
        "device": "cpu",
    }
    return TrainConfig(**{**base, **changes})  # type: ignore[arg-type]


# --- (a) the loss -------------------------------------------------------------


def hand_loss(z: np.ndarray, group: list[int], temperature: float) -> float:
    """SupCon's L_out written out pair by pair: cosine similarities, every view an anchor."""
    n = len(group)
    unit = [[c / math.sqrt(sum(c * c for c in v)) for c in v] for v in z.tolist()]

    def sim(i: int, j: int) -> float:
        return sum(a * b for a, b in zip(unit[i], unit[j], strict=True)) / temperature

    total = 0.0
    for i in range(n):
        denominator = sum(math.exp(sim(i, a)) for a in range(n) if a != i)
        positives = [p for p in range(n) if p != i and group[p] == group[i]]
        total += -sum(math.log(math.exp(sim(i, p)) / denominator) for p in positives) / len(
            positives
        )
    return total / n


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_the_loss_equals_the_hand_computation(temperature: float) -> None:
    rng = np.random.default_rng(0)
    group = [0, 0, 1, 1, 2, 2, 2]  # two pairs and a group of three views
    z = rng.normal(size=(len(group), 5))
    ours = multi_positive_nt_xent(torch.tensor(z), torch.tensor(group), temperature)
    assert float(ours) == pytest.approx(hand_loss(z, group, temperature), rel=1e-6)


def test_two_views_per_group_is_simclr_s_nt_xent() -> None:
    """SimCLR's form: 2N views, view 2k's positive is 2k+1, loss (1/2N) sum l(i, j)."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 4))
    unit = z / np.linalg.norm(z, axis=1, keepdims=True)
    s = unit @ unit.T / 0.2
    losses = []
    for i in range(6):
        j = i ^ 1  # the other view of the pair
        others = [k for k in range(6) if k != i]
        losses.append(-np.log(np.exp(s[i, j]) / np.exp(s[i, others]).sum()))
    ours = multi_positive_nt_xent(torch.tensor(z), torch.tensor([0, 0, 1, 1, 2, 2]), 0.2)
    assert float(ours) == pytest.approx(np.mean(losses), rel=1e-6)


def test_the_loss_refuses_a_view_without_another_of_its_group() -> None:
    with pytest.raises(ValueError, match="1 of 3 views have no other view of their group"):
        multi_positive_nt_xent(torch.randn(3, 4), torch.tensor([0, 0, 1]), 0.1)
    with pytest.raises(ValueError, match="temperature must be positive"):
        ContrastiveObjective(temperature=0.0)


@pytest.mark.parametrize("architecture", ["transformer", "pfn"])
def test_the_projection_reads_the_exported_jet_embedding(architecture: str) -> None:
    from jetscale.export.embedding import logits_and_embedding

    model = ModelConfig(**{**MODEL.to_dict(), "architecture": architecture})
    module = ContrastiveObjective(projection_dim=6).build(model).eval()
    x = torch.randn(4, model.max_particles, model.n_features)
    mask = torch.arange(model.max_particles)[None, :] < torch.tensor([[3], [32], [1], [9]])
    z, logits = module(x, mask)
    expected_logits, embedding = logits_and_embedding(module.backbone, x, mask)
    assert z.shape == (4, 6) and torch.equal(logits, expected_logits)
    assert torch.equal(z, module.projection(embedding))


# --- (b) batches of whole groups ------------------------------------------------


def group_keys(paths: list[Path]) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """Each jet's fingerprint (real constituents, summed deta and dphi features) and (file, group).

    Views of a group share the constituents' directions, so their fingerprints agree
    (to float rounding); other groups' differ by far more.
    """
    keys, names = [], []
    for path in paths:
        for chunk in iterate_jetclass(path, view_fields=True):
            x, mask = build_features(chunk, MODEL.feature_set, MODEL.max_particles)
            keys.append(fingerprint(x, mask))
            names += [(path.name, int(g)) for g in ak.to_numpy(chunk["group"])]
    return np.concatenate(keys), names


def fingerprint(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    real = mask[..., None]
    return np.column_stack([mask.sum(axis=1), (x[..., -2:] * real).sum(axis=1)])


def groups_of(x: np.ndarray, mask: np.ndarray, keys: np.ndarray, names: list) -> list:
    """(file, group) of each row, by its fingerprint's nearest reference jet."""
    found = fingerprint(x, mask)
    distance = np.linalg.norm(found[:, None, :] - keys[None, :, :], axis=2)
    nearest = distance.argmin(axis=1)
    assert distance[np.arange(len(found)), nearest].max() < 1e-3
    return [names[i] for i in nearest]


def test_batches_hold_whole_groups_and_validation_shares_none(files: dict) -> None:
    paths = [files["pairs"], files["triples"]]
    keys, names = group_keys(paths)
    views = {name: names.count(name) for name in set(names)}
    surviving = {name for name, n in views.items() if n >= 2}
    assert len(surviving) == 160 - 5 + 70
    train, val = group_sources(
        [str(p) for p in paths], [], MODEL.feature_set, MODEL.max_particles, None, 0.1, 10_000, 60
    )
    batches = list(train.batches(24, seed=5, epoch=0))
    assert len(batches) == train.batches_per_epoch(24, train.nominal_jets())
    seen: list = []
    for batch in batches:
        owners = groups_of(batch.x, batch.mask, keys, names)
        assert len(batch.label) <= 24 and len(set(batch.label)) <= groups_per_batch(24, 3)
        for index in set(batch.label.tolist()):
            members = {owners[i] for i in np.flatnonzero(batch.label == index)}
            assert len(members) == 1  # one label, one group ...
            (member,) = members
            assert (batch.label == index).sum() == views[member]  # ... with all its views
            seen.append(member)
    assert len(seen) == len(set(seen))  # each group once per epoch
    validation = val.load_all()
    held = groups_of(validation.x, validation.mask, keys, names)
    held_groups = set(held)
    for index in set(validation.label.tolist()):
        assert len({held[i] for i in np.flatnonzero(validation.label == index)}) == 1
    assert not held_groups & set(seen)  # no group on both sides
    assert held_groups | set(seen) == surviving  # every group of 2+ views on one side
    assert 15 <= len(held_groups) <= 30  # every 10th group of each file
    # The same (seed, epoch) gives the same batches; another epoch another order.
    again = list(train.batches(24, seed=5, epoch=0))
    assert all(np.array_equal(a.x, b.x) for a, b in zip(batches, again, strict=True))
    other = list(train.batches(24, seed=5, epoch=1))
    assert not all(np.array_equal(a.x, b.x) for a, b in zip(batches, other, strict=False))


def test_u_takes_whole_groups_from_the_front(files: dict) -> None:
    paths = [str(files["pairs"]), str(files["triples"])]
    small, _ = group_sources(paths, [str(files["val"])], "kinpid", 32, 101, 0.1, 100, 1000)
    large, _ = group_sources(paths, [str(files["val"])], "kinpid", 32, 200, 0.1, 100, 1000)
    assert 99 <= small.nominal_jets() <= 101  # whole groups of 2 or 3 views
    a, b = small.kinematics()["pt"], large.kinematics()["pt"]
    assert np.array_equal(a, b[: len(a)])  # nested: the first U jets of a larger U


# --- (c) what is left out, and files without groups ------------------------------


def test_single_view_groups_are_dropped_and_counted(files: dict) -> None:
    train, _ = group_sources(
        [str(files["pairs"])], [str(files["val"])], "kinpid", 32, None, 0.1, 1000, 1000
    )
    report = QualityReport()
    jets = sum(len(b.label) for b in train.batches(24, seed=1, epoch=0, report=report))
    assert report.single_view_groups == 5  # 3 with one view, 2 with one view left physical
    assert report.jets_dropped == 2  # the unphysical views, counted by the reader
    assert jets == train.nominal_jets() == 2 * (160 - 5)
    assert "5 groups of views with a single view left out" in report.summary()


def test_a_file_without_group_ids_is_named_before_any_step(files: dict, tmp_path: Path) -> None:
    run = config((files["pairs"], files["plain"]), tmp_path / "run", val_data=(str(files["val"]),))
    with pytest.raises(JetFileError, match=r"plain\.root.*jet_group.*not a re-simulated file"):
        pretrain(run, "contrastive")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_batch_too_small_for_two_groups_is_refused(files: dict, tmp_path: Path) -> None:
    run = config((files["triples"],), tmp_path / "small", batch_size=5)
    with pytest.raises(ValueError, match="batch_size 5 holds fewer than two groups of 3 views"):
        pretrain(run, "contrastive")


def test_validation_groups_too_large_for_the_batch_are_refused_before_any_step(
    files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training pairs fit a batch of 5 jets twice, the validation triples do not: said at once."""
    steps = []
    loss = ContrastiveObjective.loss
    monkeypatch.setattr(
        ContrastiveObjective, "loss", lambda self, *a, **k: steps.append(1) or loss(self, *a, **k)
    )
    run = config((files["pairs"],), tmp_path / "val_small", batch_size=5)
    run = dataclasses.replace(run, val_data=(str(files["triples"]),))
    with pytest.raises(ValueError, match="batch_size 5 holds fewer than two groups of 3 views"):
        pretrain(run, "contrastive")
    assert steps == []  # refused before the first training step, not at the first evaluation


# --- (d) a real run, fine-tuned and exported ----------------------------------------


@pytest.fixture(scope="module")
def pretrained(files: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("contrastive_run") / "backbone"
    data = (files["pairs"], files["triples"])
    pretrain(config(data, out, epochs=3), "contrastive", temperature=0.2, projection_dim=8)
    return out


def test_a_contrastive_run_learns_and_describes_its_backbone(files: dict, pretrained: Path) -> None:
    metrics = [json.loads(x) for x in (pretrained / "metrics.jsonl").read_text().splitlines()]
    first, last = metrics[0], metrics[-1]
    assert last["val_loss"] == last["val_contrastive_loss"] < first["val_contrastive_loss"]
    assert last["val_positive_cosine"] > last["val_negative_cosine"]
    assert "val_accuracy" not in last  # no classes were learned
    described = json.loads((pretrained / BACKBONE_NAME).read_text())
    assert described["objective"] == {
        "name": "contrastive",
        "temperature": 0.2,
        "projection_dim": 8,
        "random_directions": True,  # the default
    }
    checkpoint = load_checkpoint(pretrained / "last.pt")
    assert checkpoint["data_order"] == GROUP_ORDER
    quality = json.loads((pretrained / "data_quality.json").read_text())
    assert quality["train"]["single_view_groups"] == 5 and quality["val"]["single_view_groups"] == 0
    # The backbone comes back under its own names, the projection head left out.
    model_config, state = backbone_state(pretrained)
    backbone = build_model(model_config)
    backbone.load_state_dict(state)
    assert not any(k.startswith("projection") for k in state)
    from jetscale.transfer.representations import load_model

    assert load_model(pretrained, backbones=True).config == model_config  # jetscale cka reads it


def test_the_backbone_fine_tunes_and_exports_with_parity(
    files: dict, pretrained: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from jetscale.export.onnx_export import check_parity, export_run
    from jetscale.transfer.finetune import finetune

    tuned = tmp_path / "tuned"
    tune = config((files["labelled"],), tuned, batch_size=50, eval_every=4)
    line = finetune(tune, pretrained, "full")
    assert line["step"] == 4 and np.isfinite(line["val_loss"])
    report = json.loads((tuned / "load_report.json").read_text())
    assert any(name.startswith("blocks.0") for name in report["loaded"])
    assert not any(name.startswith("projection") for name in report["unused"])
    paths = export_run(tuned, tmp_path / "model" / "model.onnx")
    assert check_parity(tuned, paths["onnx"]) < 1e-4


# --- (e) resumption, FLOPs, the command line ------------------------------------------


def test_an_interrupted_contrastive_run_resumes_to_the_same_weights(
    files: dict, tmp_path: Path
) -> None:
    data = (files["pairs"], files["triples"])
    changes = {"epochs": 2, "chunk_jets": 100, "val_data": (str(files["val"]),)}
    pretrain(config(data, tmp_path / "whole", **changes), "contrastive")  # type: ignore[arg-type]
    parts = config(data, tmp_path / "parts", **changes)  # type: ignore[arg-type]
    pretrain(parts, "contrastive", stop_after_steps=11)  # as if killed mid-epoch
    pretrain(parts, "contrastive")
    a = load_checkpoint(tmp_path / "whole" / "last.pt")
    b = load_checkpoint(tmp_path / "parts" / "last.pt")
    assert a["step"] == b["step"] > 11
    assert all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])


def test_contrastive_flops_match_torch_s_own_count() -> None:
    """torch's FlopCounterMode misses the fused attention kernel: it is added by hand."""
    from torch.utils.flop_counter import FlopCounterMode

    objective = ContrastiveObjective(projection_dim=12)
    module = objective.build(MODEL)
    n, d, jets = 20, MODEL.d_model, 3
    x = torch.randn(jets, n, MODEL.n_features)
    mask = torch.ones(jets, n, dtype=torch.bool)
    with FlopCounterMode(display=False) as counter:
        module(x, mask)
    attention = MODEL.n_layers * 4 * n * n * d + MODEL.n_class_layers * 4 * (n + 1) * d
    counted = counter.get_total_flops() / jets + attention
    assert objective.forward_flops(MODEL, n) == pytest.approx(counted, rel=1e-12)


def test_the_command_line(files: dict, tmp_path: Path) -> None:
    from jetscale.cli import build_parser

    defaults = build_parser().parse_args(["pretrain", "--data", "x", "--out", "y"])
    assert (defaults.temperature, defaults.projection_dim, defaults.random_directions) == (
        DEFAULT_TEMPERATURE,
        DEFAULT_PROJECTION_DIM,
        True,
    )
    out = tmp_path / "cli"
    argv = [sys.executable, "-m", "jetscale.cli", "pretrain", "--objective", "contrastive"]
    argv += ["--data", str(files["triples"]), "--val-data", str(files["val"]), "--out", str(out)]
    argv += ["--feature-set", "kin", "--max-particles", "16", "--d-model", "16", "--layers", "1"]
    argv += ["--heads", "2", "--class-layers", "1", "--batch-size", "30", "--epochs", "1"]
    argv += ["--eval-every", "3", "--temperature", "0.3", "--projection-dim", "4"]
    argv += ["--no-random-directions"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    line = json.loads(result.stdout)
    assert line["step"] == 7 and np.isfinite(line["val_contrastive_loss"])  # 70 groups / 10
    described = json.loads((out / BACKBONE_NAME).read_text())["objective"]
    assert described == {
        "name": "contrastive",
        "temperature": 0.3,
        "projection_dim": 4,
        "random_directions": False,
    }


@pytest.mark.slow
@pytest.mark.dask  # a multi-process test, like the dask ones
def test_two_processes_train_like_one_with_the_doubled_batch(files: dict, tmp_path: Path) -> None:
    """Negatives are gathered over processes: torchrun with batch B equals one process with 2B."""
    common = ["pretrain", "--objective", "contrastive", "--data", str(files["pairs"])]
    common += ["--val-data", str(files["val"]), "--feature-set", "kin", "--max-particles", "16"]
    common += ["--d-model", "16", "--layers", "1", "--heads", "2", "--class-layers", "1"]
    common += ["--epochs", "1", "--eval-every", "100", "--max-jets", "240"]
    single = [sys.executable, "-m", "jetscale.cli", *common, "--batch-size", "40"]
    subprocess.run([*single, "--out", str(tmp_path / "one")], check=True, capture_output=True)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    double = [*torchrun, "-m", "jetscale.cli", *common, "--batch-size", "20"]
    subprocess.run([*double, "--out", str(tmp_path / "two")], check=True, capture_output=True)
    one = load_checkpoint(tmp_path / "one" / "last.pt")
    two = load_checkpoint(tmp_path / "two" / "last.pt")
    assert one["step"] == two["step"] == 6  # 120 pairs: 6 batches of 20 pairs, or 12 of 10
    assert one["jets_seen"] == two["jets_seen"]
    for key, value in one["model_state"].items():
        torch.testing.assert_close(two["model_state"][key], value, atol=2e-5, rtol=1e-4)


def test_group_ids_are_per_file(files: dict, tmp_path: Path) -> None:
    """Two files with the same group ids: their groups stay apart (a group is (file, group))."""
    copy = tmp_path / "copy.root"
    copy.write_bytes(Path(files["val"]).read_bytes())
    train, _ = group_sources(
        [str(files["val"]), str(copy)], [str(files["val"])], "kinpid", 32, None, 0.1, 100, 1000
    )
    assert train.nominal_jets() == 2 * 80
    sizes = list(
        itertools.chain.from_iterable(np.bincount(b.label) for b in train.batches(8, 1, 0))
    )
    assert set(sizes) == {2}  # never a "group" of the four views sharing one id
