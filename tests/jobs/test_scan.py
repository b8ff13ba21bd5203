"""Sweeps: expansion of the YAML file, and ``jetscale scan`` on a real local dask cluster."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("dask.distributed")

from jetscale.io import read_jets, write_jetclass
from jetscale.nn import build_model
from jetscale.scaling.sweep_config import SweepConfig, SweepConfigError

BASE = {
    "feature_set": "kin",
    "max_particles": 16,
    "n_heads": 2,
    "n_class_layers": 1,
    "ff_ratio": 2,
    "batch_size": 50,
    "warmup_steps": 2,
    "eval_every": 3,
    "val_max_jets": 100,
}


def sweep(train: str | list[str], val: str, **studies: Any) -> dict[str, Any]:
    files = [train] if isinstance(train, str) else train
    return {"name": "t", "data": {"train": files, "val": [val]}, "base": BASE, "studies": studies}


def test_expansion_counts_ids_and_isoflop_jets() -> None:
    raw = sweep(
        "a.root",
        "b.root",
        grid={
            "grid": {
                "shape": [{"d_model": 8, "n_layers": 1}, {"d_model": 16, "n_layers": 2}],
                "max_jets": [100, 200, 400],
            }
        },
        extra={
            "points": [
                {"d_model": 8, "n_layers": 1, "max_jets": 100},
                {"d_model": 8, "n_layers": 1, "max_jets": 100, "epochs": 4},
            ]
        },
        iso={"isoflop": {"budgets": [1e9, 1e14], "d_model": [8, 16], "n_layers": [1]}},
    )
    config = SweepConfig.from_dict(raw)
    points, skipped = config.points(lambda p: 10.0, available_jets=100_000)
    grid = [p for p in points if p.study == "grid"]
    assert len(grid) == 6
    # The first extra point repeats a grid point: kept once, under the first study.
    assert [p.settings["epochs"] for p in points if p.study == "extra"] == [4]
    iso = [p for p in points if p.study == "iso"]
    # N (non-embedding) of d=8, 1 block, ff 2, 1 class block, by hand: two blocks of
    # norms 4d + attention (d*d+d) + (d*2d+2d) + (d*d+d) + ff (d*2d+2d) + (2d*d+d), plus
    # class token d, final norm 2d, head d*10+10.
    d = 8
    block = (
        4 * d
        + (d * d + d)
        + (d * 2 * d + 2 * d)
        + (d * d + d)
        + (d * 2 * d + 2 * d)
        + (2 * d * d + d)
    )
    n8 = 2 * block + d + 2 * d + d * 10 + 10
    assert [p.settings["max_jets"] for p in iso if p.settings["d_model"] == 8] == [
        round(1e9 / (6 * n8 * 10))
    ]
    # 1e14 FLOPs would need more jets than the data has: left out, and said so
    assert len(skipped) == 2 and all("1e+14" in s for s in skipped)
    ids = {p.point_id for p in points}
    again, _ = SweepConfig.from_dict(raw).points(lambda p: 10.0, available_jets=100_000)
    assert {p.point_id for p in again} == ids and len(ids) == len(points)
    # device does not change a point's identity; lr does
    moved = {**raw, "base": {**BASE, "device": "cpu"}}
    assert {
        p.point_id for p in SweepConfig.from_dict(moved).points(lambda p: 10.0, 100_000)[0]
    } == ids
    changed = {**raw, "base": {**BASE, "lr": 3e-3}}
    assert (
        not {p.point_id for p in SweepConfig.from_dict(changed).points(lambda p: 10.0, 100_000)[0]}
        & ids
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"data": {"train": ["a"]}, "studies": {"s": {"grid": {"widht": [8]}}}},
            "unknown setting(s) widht",
        ),
        (
            {"data": {"train": ["a"]}, "studies": {"s": {"grid": {"d_model": 8}}}},
            "must be a non-empty list",
        ),
        (
            {"data": {"train": ["a"]}, "studies": {"s": {"sizes": [8]}}},
            "needs a 'grid', 'points' or 'isoflop'",
        ),
        (
            {"data": {}, "studies": {"s": {"grid": {"d_model": [8]}}}},
            "exactly one of 'generate' and 'train'",
        ),
        (
            {
                "data": {"train": ["a"]},
                "studies": {"s": {"grid": {"d_model": [12], "n_heads": [8]}}},
            },
            "not divisible",
        ),
        (
            {"data": {"train": ["a"]}, "studies": {"s": {"isoflop": {"d_model": [8]}}}},
            "needs 'budgets'",
        ),
    ],
)
def test_bad_sweep_files(raw: dict[str, Any], message: str, tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SweepConfigError, match=re.escape(message)) as info:
        SweepConfig.from_file(path).points(lambda p: 10.0, 1000)
    assert str(path) in str(info.value)


def test_scan_checks_every_setting_before_it_generates_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo'd value used to surface only after the jets were generated (minutes of Pythia)."""
    from jetscale.jobs import scan as scan_module
    from jetscale.scaling.sweep_config import DataSpec

    def no_data(*args: object) -> None:
        raise AssertionError("data prepared before the settings were checked")

    monkeypatch.setattr(scan_module, "prepare_data", no_data)
    generate = {"classes": ["QCD"], "train_jets_per_class": 10, "val_jets_per_class": 10}
    # Built directly (not from a file), so nothing has checked it yet.
    config = SweepConfig(
        "t", DataSpec(generate=generate), {**BASE, "lr": "1e-3"}, {"s": {"grid": {}}}, "s.yaml"
    )
    with pytest.raises(SweepConfigError, match=r"^s.yaml: base: lr must be a number \(float\)"):
        scan_module.scan(config, tmp_path / "out")
    assert not (tmp_path / "out" / "data").exists()


def _scan(config: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "jetscale.cli",
        "scan",
        "--config",
        str(config),
        "--out",
        str(out),
        "--workers",
        "1",
    ]


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as handle:
        return {row["point"]: row for row in csv.DictReader(handle)}


@pytest.mark.slow
@pytest.mark.dask
def test_scan_survives_a_killed_worker_and_restarts_only_that_point(
    tmp_path: Path, make_jets: Any
) -> None:
    import yaml

    # Per-class training files, as JetClass ships them: the scan uses them as they are.
    train = []
    for label, name in enumerate(("QCD", "Hbb")):
        jets = make_jets(200, seed=5 + label, mean_particles=12)
        jets = ak.with_field(jets, np.full(200, label, dtype=np.int32), "label")
        train.append(str(write_jetclass(tmp_path / f"{name}.root", jets)))
    val = write_jetclass(tmp_path / "val.root", make_jets(100, seed=6, mean_particles=12))
    raw = sweep(
        train,
        str(val),
        main={"grid": {"d_model": [8, 16], "n_layers": [1], "max_jets": [150]}},
        rep={"points": [{"d_model": 8, "n_layers": 1, "max_jets": 100, "epochs": 3}]},
    )
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "scan"

    process = subprocess.Popen(
        _scan(config, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline, killed = time.time() + 180, None
    while time.time() < deadline and killed is None:
        for marker in (out / "runs").glob("*/running.json") if (out / "runs").exists() else []:
            try:
                pid = json.loads(marker.read_text())["pid"]
            except (json.JSONDecodeError, FileNotFoundError):
                continue
            os.kill(pid, signal.SIGKILL)  # the worker process dies mid-point
            killed = marker.parent
            break
        time.sleep(0.02)
    stdout, stderr = process.communicate(timeout=300)
    assert killed is not None, stderr
    assert process.returncode == 1, stdout + stderr
    assert "1 point(s) failed" in stderr and "run the same command again" in stderr, stderr[-3000:]
    assert "jetscale scan: point 3/3 " in stderr and " failed (" in stderr
    made_by = json.loads((out / "plan.json").read_text())["provenance"]
    assert made_by["seeds"] == {"train": [1], "data": None}
    failed = json.loads((out / "failed.json").read_text())
    assert list(failed) == [killed.name]
    rows = _rows(out / "results.csv")
    assert len(rows) == 2 and killed.name not in {Path(r["run_dir"]).name for r in rows.values()}
    stamps = {
        name: (out / "runs" / name / "result.json").stat().st_mtime_ns
        for name in (Path(r["run_dir"]).name for r in rows.values())
    }

    again = subprocess.run(_scan(config, out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "3 points: 2 finished before, 1 ran now, 0 failed" in again.stdout
    for name, stamp in stamps.items():  # finished points were not re-run
        assert (out / "runs" / name / "result.json").stat().st_mtime_ns == stamp
    rows = _rows(out / "results.csv")
    assert len(rows) == 3 and json.loads((out / "failed.json").read_text()) == {}

    # The table's accounting, checked independently of the training loop.
    # Nothing was merged; training read the two files side by side, alternating.
    assert not (out / "data").exists()
    stream = ak.concatenate([read_jets(train[0]), read_jets(train[1])])[
        np.ravel(np.stack([np.arange(200), 200 + np.arange(200)], axis=1))
    ]
    counts = np.minimum(ak.to_numpy(ak.num(stream.constituents)), 16)
    for row in rows.values():
        settings = {**BASE, "d_model": int(row["d_model"]), "n_layers": int(row["n_layers"])}
        model = build_model(_model_config(settings))
        non_embedding = sum(
            p.numel() for name, p in model.named_parameters() if not name.startswith("embed")
        )
        u, epochs = int(row["U"]), int(row["epochs"])
        assert int(row["N"]) == non_embedding
        assert int(row["D"]) == u * epochs
        assert float(row["C"]) == pytest.approx(
            6 * non_embedding * epochs * counts[:u].sum(), rel=1e-9
        )
        metrics = [
            json.loads(line)
            for line in Path(row["run_dir"], "metrics.jsonl").read_text().splitlines()
        ]
        assert float(row["loss"]) == pytest.approx(metrics[-1]["val_loss"])
        assert float(row["best_loss"]) == pytest.approx(min(m["val_loss"] for m in metrics))
    assert sorted((int(r["U"]), int(r["epochs"])) for r in rows.values()) == [
        (100, 3),
        (150, 1),
        (150, 1),
    ]
    import pyarrow.parquet as pq

    table = pq.read_table(out / "results.parquet").to_pydict()
    assert sorted(table["point"]) == sorted(rows)
    metadata = pq.read_schema(out / "results.parquet").metadata
    assert json.loads(metadata[b"jetscale.provenance"])["seeds"] == made_by["seeds"]

    # new jets under the same file name: the finished points must not be reused
    write_jetclass(train[1], make_jets(300, seed=9, mean_particles=12))
    other = subprocess.run(_scan(config, out), capture_output=True, text=True, timeout=300)
    assert other.returncode == 2 and "trained on other data" in other.stderr


def _model_config(settings: dict[str, Any]) -> Any:
    from jetscale.nn import ModelConfig

    keys = {
        "d_model",
        "n_layers",
        "n_heads",
        "ff_ratio",
        "n_class_layers",
        "feature_set",
        "max_particles",
    }
    return ModelConfig(**{k: v for k, v in settings.items() if k in keys})


@pytest.mark.parametrize("name", ["sweep.yaml", "gpu_study.yaml"])
def test_shipped_sweep_files_expand(name: str) -> None:
    path = Path(__file__).resolve().parents[2] / "analysis_examples" / "scaling_demo" / name
    config = SweepConfig.from_file(path)
    points, _ = config.points(lambda max_particles: 0.8 * max_particles, available_jets=100_000_000)
    studies = {p.study for p in points}
    assert {"size_data", "repetition", "features", "particles", "isoflop"} <= studies
    assert {p.model.feature_set for p in points} == {"kin", "kinpid", "full", "full21"}
    assert any(p.settings["epochs"] > 1 for p in points)
