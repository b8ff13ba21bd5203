"""Transfer studies: the YAML file, its points, and ``jetscale transfer-study`` on a local dask cluster."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from jetscale.transfer.study import SCRATCH, StudyConfig, StudyConfigError

REPO = Path(__file__).resolve().parents[2]


def study(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "data": {"train": ["train.root"], "val": "val.root"},
        "task": "Hbb,QCD",
        "backbones": {"mpm": "runs/mpm", "sup": "runs/sup"},
        "policies": ["scratch", "full", "frozen-then-unfreeze"],
        "n_labelled": [1000, 100],
        "seeds": 2,
    }
    return {**raw, **changes}


def test_expansion_runs_scratch_once_per_n_and_seed() -> None:
    config = StudyConfig.from_dict(study())
    assert (config.signal, config.n_labelled, config.seeds) == ("Hbb", (100, 1000), (1, 2))
    points = config.points()
    scratch = [p for p in points if p.policy == SCRATCH]
    assert len(scratch) == 2 * 2  # n x seed, not once per backbone
    assert {p.backbone for p in scratch} == {SCRATCH}
    assert len(points) == 4 + 2 * 2 * 2 * 2  # + backbones x policies x n x seeds
    assert len({p.name for p in points}) == len({p.point_id for p in points}) == len(points)
    assert [(p.seed, p.n) for p in points[:6]] == [(1, 100)] * 5 + [(1, 1000)]  # seed by seed
    first = points[0]
    assert first.name.startswith("scratch-n100-s1-") and first.finetune == {}
    tuned = next(p for p in points if p.policy == "frozen-then-unfreeze")
    assert tuned.name.startswith("mpm-frozen-then-unfreeze-n100-s1-")
    assert tuned.finetune == {"freeze_steps": 100, "ramp_steps": 100}  # a tenth of 1000 steps
    assert next(p for p in points if p.policy == "full").finetune == {"head_lr_multiplier": 1.0}
    # At least 1000 steps and one pass: 100 jets are one batch of 128, 1000 are 8.
    assert {p.n: p.training["epochs"] for p in points} == {100: 1000, 1000: 125}
    assert config.epochs_for(10**6) == 1
    model = first.train_config(("a.root",), (), "out", _backbone_model())
    assert (model.max_jets, model.seed, model.task, model.model.n_classes) == (100, 1, "Hbb,QCD", 2)
    assert (model.batch_size, model.lr, model.eval_every) == (128, 5e-4, 50)


def test_a_point_is_known_by_what_changes_its_result() -> None:
    ids = {p.point_id for p in StudyConfig.from_dict(study()).points()}
    moved = study(training={"device": "cpu"}, data={"train": "elsewhere/*.root"})
    assert {p.point_id for p in StudyConfig.from_dict(moved).points()} == ids
    changed = StudyConfig.from_dict(study(training={"lr": 1.0e-4})).points()
    assert not {p.point_id for p in changed} & ids
    # Another layer decay changes only the layer-decay points (there are none here).
    other = StudyConfig.from_dict(study(finetune={"layer_decay": 0.5})).points()
    assert {p.point_id for p in other} == ids


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sweep": 1}, "unknown top-level key(s) sweep"),
        ({"task": None}, "task must be a string"),
        ({"task": "Hbb,Hcc"}, "task 'Hbb,Hcc' has no class 'QCD'"),
        ({"signal": "Zqq"}, "signal must be one of the task's classes Hbb, got 'Zqq'"),
        ({"policies": ["scratch", "fulll"]}, "policies: unknown 'fulll'"),
        ({"policies": ["full"]}, "policies must include 'scratch'"),
        ({"backbones": {"scratch": "x"}}, "backbones: name 'scratch'"),
        ({"backbones": {}}, "backbones must map names"),
        ({"n_labelled": [100, 0]}, "n_labelled must be a non-empty list of positive integers"),
        ({"n_labelled": [100, 100]}, "n_labelled: each value once"),
        ({"seeds": 0}, "seeds must be >= 1"),
        ({"training": {"lr": "1e-3"}}, "training: lr must be a number"),
        ({"training": {"max_jets": 5}}, "training: max_jets set by the study itself"),
        ({"training": {"widht": 5}}, "training: unknown setting(s) widht"),
        ({"training": {"steps": 10, "epochs": 2}}, "give steps or epochs, not both"),
        ({"training": {"steps": 0}}, "training.steps must be a positive integer"),
        ({"training": {"batch_size": 0}}, "TrainConfig.batch_size must be >= 1"),
        ({"finetune": {"layer_decay": 1.5}}, "finetune.layer_decay must be in (0, 1]"),
        ({"finetune": {"freeze": 1}}, "finetune: unknown setting(s) freeze"),
        (
            {"analysis": {"max_extrapolation": 0.5}},
            "analysis.max_extrapolation must be a number >= 1",
        ),
        ({"data": {"generate": {}}}, "data must be a mapping with train"),
        ({"data": {"train": "a", "test": "b"}}, "data has unknown key(s) test"),
    ],
)
def test_bad_study_files_name_the_file_and_the_key(
    changes: dict[str, Any], message: str, tmp_path: Path
) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(study(**changes)))
    with pytest.raises(StudyConfigError, match=re.escape(message)) as info:
        StudyConfig.from_file(path)
    assert str(info.value).startswith(f"{path}: ")


def test_unreadable_and_missing_keys(tmp_path: Path) -> None:
    with pytest.raises(StudyConfigError, match="cannot read the study file"):
        StudyConfig.from_file(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("data: [")
    with pytest.raises(StudyConfigError, match="not valid YAML"):
        StudyConfig.from_file(tmp_path / "bad.yaml")
    with pytest.raises(StudyConfigError, match="missing backbones, policies"):
        StudyConfig.from_dict({"data": {"train": "a"}, "task": "jetclass", "n_labelled": [1]})


def test_the_documented_study_file_expands() -> None:
    """The YAML example of docs/transfer.md is a valid study."""
    import yaml

    page = (REPO / "docs" / "transfer.md").read_text()
    section = page.split("## Transfer studies", 1)[1]
    (block,) = re.findall(r"```yaml\n(.*?)```", section.split("\n## ", 1)[0], flags=re.DOTALL)
    config = StudyConfig.from_dict(yaml.safe_load(block), "docs/transfer.md")
    assert config.policies == ("scratch", "linear-probe", "full")
    assert len(config.points()) == 5 * 3 * (1 + 2 * 2)


# --- end to end ------------------------------------------------------------------------


def _backbone_model() -> Any:
    from jetscale.nn import ModelConfig

    return ModelConfig(
        d_model=16,
        n_layers=1,
        n_heads=2,
        ff_ratio=2,
        n_class_layers=1,
        feature_set="kin",
        max_particles=16,
    )


def _two_class_file(path: Path, make_jets: Callable[..., ak.Array], n: int, seed: int) -> Path:
    """QCD and Hbb jets alternating (labels 0 and 1 of JetClass's classes)."""
    from jetscale.io import write_jetclass

    jets = make_jets(n, seed=seed, mean_particles=8)
    return write_jetclass(path, ak.with_field(jets, np.arange(n, dtype=np.int32) % 2, "label"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.dask
def test_a_tiny_study_end_to_end_and_its_rerun(
    tmp_path: Path, make_jets: Callable[..., ak.Array]
) -> None:
    pytest.importorskip("dask.distributed")
    import yaml

    from jetscale.train import TrainConfig
    from jetscale.transfer.pretrain import pretrain

    train = _two_class_file(tmp_path / "train.root", make_jets, 200, seed=31)
    val = _two_class_file(tmp_path / "val.root", make_jets, 80, seed=32)
    backbone = tmp_path / "backbone"
    pretrain(
        TrainConfig(
            data=(str(train),),
            val_data=(str(val),),
            out=str(backbone),
            model=_backbone_model(),
            batch_size=100,
            eval_every=2,
            warmup_steps=1,
            device="cpu",
        ),
        "supervised",
    )
    raw = study(
        data={"train": str(train), "val": str(val)},
        backbones={"sup": str(backbone)},
        policies=["scratch", "full"],
        n_labelled=[40, 100],
        training={"steps": 3, "batch_size": 50, "eval_every": 2, "warmup_steps": 1},
        analysis={"bootstrap": 5},
    )
    config = tmp_path / "study.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "study"
    argv = [sys.executable, "-m", "jetscale.cli", "transfer-study", str(config)]
    argv += ["--out", str(out), "--workers", "1"]

    first = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "8 points: 0 finished before, 8 ran now, 0 failed" in first.stdout
    assert "jetscale transfer-study: point 8/8 done (" in first.stderr, first.stderr[-3000:]
    made_by = json.loads((out / "plan.json").read_text())["provenance"]
    assert made_by["seeds"] == {"train": [1, 2], "analysis": 0}
    assert made_by["command_line"][1:3] == ["transfer-study", str(config)]
    # Two n values cannot fit a three-parameter law: D_T is undefined, and says why.
    assert "scratch law: not fitted" in first.stdout
    rows = _rows(out / "results.csv")
    assert len(rows) == 8
    assert {(r["backbone"], r["policy"]) for r in rows} == {("scratch", "scratch"), ("sup", "full")}
    assert sorted((int(r["n"]), int(r["seed"])) for r in rows if r["policy"] == "scratch") == [
        (40, 1),
        (40, 2),
        (100, 1),
        (100, 2),
    ]
    for row in rows:
        metrics = [
            json.loads(line)
            for line in Path(row["run_dir"], "metrics.jsonl").read_text().splitlines()
        ]
        best = min(metrics, key=lambda m: m["val_loss"])
        assert float(row["val_loss"]) == pytest.approx(best["val_loss"])
        assert int(row["best_step"]) == best["step"]
        assert float(row["auc"]) == pytest.approx(best["val_auc"]["Hbb"])
        assert float(row["rejection50"]) == pytest.approx(best["val_rejection50"]["Hbb"])
        assert float(row["last_val_loss"]) == pytest.approx(metrics[-1]["val_loss"])
        # At least 3 steps and one pass: 40 jets are one batch (3 epochs), 100 are two (2).
        assert (int(row["steps"]), int(row["epochs"])) == ((3, 3) if row["n"] == "40" else (4, 2))
        assert int(row["U"]) == int(row["n"])
        assert int(row["jets_seen"]) == int(row["n"]) * int(row["epochs"])
        assert float(row["flops"]) > 0 and row["task"] == "Hbb,QCD"
        assert Path(row["run_dir"], "load_report.json").exists() == (row["policy"] == "full")
    import pyarrow.parquet as pq

    assert sorted(pq.read_table(out / "results.parquet").to_pydict()["point"]) == sorted(
        r["point"] for r in rows
    )
    metadata = pq.read_schema(out / "results.parquet").metadata
    assert json.loads(metadata[b"jetscale.provenance"]) == made_by
    transfer = json.loads((out / "transfer.json").read_text())
    assert transfer["provenance"] == made_by
    assert transfer["scratch"]["status"] == "no_scratch_fit"
    assert {p["status"] for p in transfer["points"]} == {"no_scratch_fit"}
    assert all(p["D_E"] is None and p["n_seeds"] == 2 for p in transfer["points"])
    assert transfer["runs"] == 8 and transfer["fits"][0]["k"] is None
    stems = ("val_loss_vs_n", "auc_vs_n", "rejection50_vs_n", "transferred_data")
    for stem in stems:
        assert (out / "plots" / f"{stem}.png").stat().st_size > 10_000
        assert (out / "plots" / f"{stem}.pdf").is_file()
    assert not (out / "INCOMPLETE").exists()
    assert json.loads((out / "failed.json").read_text()) == {}
    stamps = {r["run_dir"]: Path(r["run_dir"], "result.json").stat().st_mtime_ns for r in rows}

    again = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "8 points: 8 finished before, 0 ran now, 0 failed" in again.stdout
    assert f"{out}: all 8 points are finished already" in again.stderr
    for run_dir, stamp in stamps.items():  # finished points were not run again
        assert Path(run_dir, "result.json").stat().st_mtime_ns == stamp
    assert len(_rows(out / "results.csv")) == 8

    # Another backbone under the same name: its finished points must not be reused.
    pretrain(
        TrainConfig(
            data=(str(val),), out=str(tmp_path / "other"), model=_backbone_model(), device="cpu"
        ),
        "supervised",
    )
    raw["backbones"] = {"sup": str(tmp_path / "other")}
    config.write_text(yaml.safe_dump(raw))
    refused = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "backbone sup" in refused.stderr, refused.stderr
