"""``jetscale transfer-study``: fine-tuning against scratch over the number of labelled jets.

Every point of a study (:mod:`jetscale.transfer.study`) is one run in
``OUT/runs/<name>``, an independent dask task through the driver of
``jetscale scan`` (:func:`jetscale.jobs.scan.run_tasks`), with the same
guarantees: a point is finished when its ``result.json`` exists (written
atomically), a rerun skips finished points and resumes unfinished ones from
their last checkpoint, a point whose task fails or whose worker dies is listed in
``failed.json`` and costs nothing else, and the results table is rewritten
atomically after every point. Fine-tuned points run
:func:`jetscale.transfer.finetune.finetune`; scratch points train the backbones'
architecture from a random initialisation with the plain supervised objective
(what the ``scratch`` policy does, without reading a backbone, so the baseline
does not depend on which backbones a study lists).

Each point is read at its best validation loss (``best.pt``: early stopping on
the fixed validation set, see :mod:`jetscale.transfer.study`); its AUC and
background rejection are those of the same evaluation (``val_auc`` and
``val_rejection50`` of the metrics line: one-vs-QCD, :mod:`jetscale.metrics`).

A study directory remembers its data (by content, as a sweep does), its
backbones (an xxHash of each checkpoint) and their architecture; a rerun on
other data, a changed backbone or another architecture is refused, since
finished points would be reused.

Outputs: ``results.csv`` and ``results.parquet`` (:data:`COLUMNS`, one row per
finished point), ``plan.json``, ``failed.json``, ``inputs.json``, and, written
as a set after the runs, ``transfer.json`` (:mod:`jetscale.transfer.effective_data`)
and ``plots/``. ``plan.json``, ``transfer.json`` and the parquet file's metadata
hold the study's :func:`~jetscale.provenance.provenance` (seeds: the runs' and
the analysis bootstrap's).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jetscale._optional import require
from jetscale.io import expand_paths
from jetscale.io.atomic import atomic_path, output_set, write_json
from jetscale.io.identity import data_identity
from jetscale.io.lock import DirectoryLock
from jetscale.jobs.scan import (
    RUNNING_NAME,
    check_same_data,
    finish_point,
    finished_row,
    report_nothing_to_run,
    run_tasks,
    write_table,
)
from jetscale.nn.config import ModelConfig
from jetscale.provenance import provenance
from jetscale.scaling.data_fit import fit_data_law
from jetscale.scaling.sweep_data import count_jets
from jetscale.train.checkpoint import BEST_NAME, LAST_NAME, config_changes
from jetscale.train.config import TrainConfig
from jetscale.transfer.effective_data import (
    ScratchLaw,
    TransferAnalysis,
    losses_by_setting,
    transfer_analysis,
)
from jetscale.transfer.study import SCRATCH, StudyConfig, StudyConfigError, StudyPoint

log = logging.getLogger(__name__)

#: Columns of the results table, in order.
COLUMNS = (
    "point",
    "backbone",  # "scratch" for the baseline
    "policy",
    "n",  # labelled training jets asked for (D_F)
    "seed",
    "task",
    "signal",
    "val_loss",  # the best validation loss (the checkpoint the study reads)
    "last_val_loss",
    "best_step",
    "val_accuracy",  # at the best evaluation, as are auc and rejection50
    "auc",  # signal vs QCD
    "rejection50",  # QCD rejection 1/eps_B at 50% signal efficiency
    "steps",
    "epochs",
    "U",  # unique training jets used: n, unless the files hold fewer jets of the task
    "jets_seen",
    "flops",  # training FLOPs of the run (3 x forward, exact); pretraining not included
    "flops_6nd",
    "wall_time_s",  # training time of the run
    "run_dir",
)
#: What the analysis writes, as a set (``io.atomic.output_set``).
OUTPUTS = ("transfer.json", "plots/")


@dataclasses.dataclass(frozen=True)
class PointRun:
    """What a worker needs to run one point."""

    point: StudyPoint
    train: tuple[str, ...]
    val: tuple[str, ...]
    model: Mapping[str, Any]  # the backbones' ModelConfig as a dict
    backbone: str | None  # path of the backbone; None for scratch
    run_dir: str
    threads: int


@dataclasses.dataclass(frozen=True)
class StudySummary:
    """What a study did, the tables it wrote and its analysis."""

    points: int
    already_done: int
    ran: int
    failed: dict[str, str]  # run name -> reason
    table_csv: Path
    table_parquet: Path
    transfer_json: Path
    plots: list[Path]
    analysis: TransferAnalysis
    wall_time_s: float


def run_point(job: PointRun) -> dict[str, Any]:
    """Train one point (resuming if it was interrupted) and write its ``result.json``.

    Runs on a dask worker; imports torch there, so the driver stays light.
    """
    import torch

    from jetscale.train import train
    from jetscale.train.metrics_file import METRICS_NAME, read_metrics
    from jetscale.transfer.finetune import finetune

    torch.set_num_threads(job.threads)
    out = Path(job.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / RUNNING_NAME) as tmp:  # who runs it: lets a user find the process
        tmp.write_text(
            json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()})
        )
    point = job.point
    config = point.train_config(job.train, job.val, str(out), ModelConfig.from_dict(job.model))
    if point.policy == SCRATCH:
        final = train(config, resume=True)
    else:
        assert job.backbone is not None
        final = finetune(config, job.backbone, point.policy, resume=True, **point.finetune)  # type: ignore[arg-type]
    lines = read_metrics(out / METRICS_NAME)
    best = min(lines, key=lambda line: line["val_loss"])  # the first of equals: best.pt's
    row = {
        "point": point.point_id,
        "backbone": point.backbone,
        "policy": point.policy,
        "n": point.n,
        "seed": point.seed,
        "task": config.task,
        "signal": point.signal,
        "val_loss": best["val_loss"],
        "last_val_loss": final["val_loss"],
        "best_step": best["step"],
        "val_accuracy": best.get("val_accuracy", math.nan),
        "auc": _signal_value(best, "val_auc", point.signal),
        "rejection50": _signal_value(best, "val_rejection50", point.signal),
        "steps": final["step"],
        "epochs": config.epochs,
        "U": int(final["jets_seen"]) // config.epochs,
        "jets_seen": final["jets_seen"],
        "flops": final["flops"],
        "flops_6nd": final["flops_6nd"],
        "wall_time_s": final["wall_time_s"],
        "run_dir": str(out),
    }
    return finish_point(out, row)  # NaN (no AUC) and inf (no QCD jet passes) read back


def _signal_value(line: Mapping[str, Any], key: str, signal: str) -> float:
    """``line[key][signal]``; NaN when the evaluation has no such value (no jets of a class)."""
    value = (line.get(key) or {}).get(signal)
    return float(value) if value is not None else math.nan


def fit_scratch_law(D: np.ndarray, loss: np.ndarray) -> ScratchLaw:
    """The scratch law of the runs (:func:`~jetscale.scaling.data_fit.fit_data_law`, no intervals)."""
    params = fit_data_law(D, loss, n_bootstrap=0).params
    return ScratchLaw(params["L_inf"], params["B"], params["beta"])


def transfer_study(
    config: StudyConfig,
    out: str | os.PathLike[str],
    workers: int | None = None,
    threads_per_worker: int = 1,
    scheduler: str | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    plots: bool = True,
    experiment: str = "none",
) -> StudySummary:
    """Run every unfinished point of ``config``, then analyse every finished one."""
    require("dask", "distributed", extra="dask", purpose="jetscale transfer-study")
    require("torch", extra="ml", purpose="jetscale transfer-study (training)")
    with DirectoryLock(out, "jetscale transfer-study"):  # one driver per study directory
        return _study(
            config, Path(out), workers, threads_per_worker, scheduler, on_result, plots, experiment
        )


def _study(
    config: StudyConfig,
    out_dir: Path,
    workers: int | None,
    threads_per_worker: int,
    scheduler: str | None,
    on_result: Callable[[dict[str, Any]], None] | None,
    plots: bool,
    experiment: str,
) -> StudySummary:
    """The work of :func:`transfer_study`, with the study directory held."""
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or max(os.cpu_count() or 1, 1)
    train = tuple(str(p) for p in expand_paths(config.train))
    val = tuple(str(p) for p in expand_paths(config.val)) if config.val else ()
    _check_enough_jets(config, train, val)
    model, backbones = _backbones(config)
    check_same_data(out_dir, train, val)
    _check_same_backbones(out_dir, model, backbones)
    points = config.points()
    run_dirs = {p.point_id: out_dir / "runs" / p.name for p in points}
    made_by = provenance(
        seeds={"train": list(config.seeds), "analysis": int(config.analysis["seed"])}
    )
    write_json(
        out_dir / "plan.json",
        {
            "study": config.name,
            "source": config.source,
            "provenance": made_by,
            "train": list(train),
            "val": list(val),
            "model": model,
            "points": [
                {
                    "run_dir": str(run_dirs[p.point_id]),
                    "backbone": p.backbone,
                    "policy": p.policy,
                    "n": p.n,
                    "seed": p.seed,
                    "training": dict(p.training),
                    "finetune": dict(p.finetune),
                }
                for p in points
            ],
        },
    )
    rows = {p.point_id: finished_row(run_dirs[p.point_id]) for p in points}
    todo = [p for p in points if rows[p.point_id] is None]
    already = len(points) - len(todo)
    log.info("%d points: %d finished before, %d to run", len(points), already, len(todo))
    csv_path, parquet_path = out_dir / "results.csv", out_dir / "results.parquet"
    write_table(rows, csv_path, parquet_path, COLUMNS, made_by)
    if not todo and points:
        report_nothing_to_run(out_dir, len(points), "jetscale transfer-study")
    failed: dict[str, str] = {}
    if todo:

        def done(job: PointRun, row: dict[str, Any]) -> None:
            if int(row["U"]) < job.point.n:
                log.warning(
                    "%s trained on %s unique jets, not n = %d: the training files hold fewer "
                    "jets of task %s (or the readers dropped some); its n is not its data",
                    job.point.name,
                    row["U"],
                    job.point.n,
                    config.task,
                )
            rows[job.point.point_id] = row
            write_table(rows, csv_path, parquet_path, COLUMNS, made_by)
            if on_result is not None:
                on_result(row)

        jobs = [
            PointRun(
                point,
                train,
                val,
                model,
                None if point.policy == SCRATCH else backbones[point.backbone]["path"],
                str(run_dirs[point.point_id]),
                threads_per_worker,
            )
            for point in todo
        ]
        failed = run_tasks(
            jobs,
            run_point,
            lambda job: job.point.name,
            done,
            scheduler,
            workers,
            threads_per_worker,
        )
    write_json(out_dir / "failed.json", failed)
    finished = [r for r in rows.values() if r is not None]
    analysis, written = _analyse(config, finished, out_dir, plots, experiment, made_by)
    return StudySummary(
        points=len(points),
        already_done=already,
        ran=len(todo) - len(failed),
        failed=failed,
        table_csv=csv_path,
        table_parquet=parquet_path,
        transfer_json=out_dir / "transfer.json",
        plots=written,
        analysis=analysis,
        wall_time_s=time.perf_counter() - started,
    )


def analyse(config: StudyConfig, rows: Sequence[Mapping[str, Any]]) -> TransferAnalysis:
    """The effective data transferred of finished ``rows`` (the best validation loss of each)."""
    scratch, finetuned = losses_by_setting(rows, "val_loss")
    return transfer_analysis(
        scratch,
        finetuned,
        fit_scratch_law,
        n_bootstrap=int(config.analysis["bootstrap"]),
        seed=int(config.analysis["seed"]),
        max_extrapolation=float(config.analysis["max_extrapolation"]),
    )


def _analyse(
    config: StudyConfig,
    rows: Sequence[Mapping[str, Any]],
    out_dir: Path,
    plots: bool,
    experiment: str,
    made_by: Mapping[str, Any],
) -> tuple[TransferAnalysis, list[Path]]:
    """``transfer.json`` and the plots, written as a set (an INCOMPLETE marker stays on failure)."""
    analysis = analyse(config, rows)
    result = {
        "provenance": dict(made_by),
        "study": config.name,
        "source": config.source,
        "task": config.task,
        "signal": config.signal,
        "loss": "val_loss: the best validation loss of each run (mean over seeds per point)",
        "runs": len(rows),
        **analysis.to_dict(),
    }
    written: list[Path] = []
    names = OUTPUTS if plots else OUTPUTS[:1]
    with output_set(out_dir, names, f"jetscale transfer-study {config.source}"):
        write_json(out_dir / "transfer.json", result)  # first: the numbers survive a failed plot
        if plots:
            written = _plots(config, rows, analysis, out_dir / "plots", experiment)
            result["plots"] = [str(p) for p in written]
            write_json(out_dir / "transfer.json", result)
    return analysis, written


def _plots(
    config: StudyConfig,
    rows: Sequence[Mapping[str, Any]],
    analysis: TransferAnalysis,
    out: Path,
    experiment: str,
) -> list[Path]:
    from jetscale.plotting import transfer as tp

    out.mkdir(parents=True, exist_ok=True)
    style = tp.transfer_style(experiment)
    signal = config.signal
    written = tp.plot_metric_vs_labels(
        rows,
        "val_loss",
        "best validation loss [nats/jet]",
        "val_loss_vs_n",
        out,
        style,
    )
    written += tp.plot_metric_vs_labels(
        rows, "auc", f"AUC, {signal} vs QCD", "auc_vs_n", out, style
    )
    written += tp.plot_metric_vs_labels(
        rows,
        "rejection50",
        rf"QCD rejection $1/\varepsilon_B$ at $\varepsilon_S$ = 50% ({signal})",
        "rejection50_vs_n",
        out,
        style,
        log_y=True,
    )
    written += tp.plot_transferred_data(analysis, out, style)
    return written


def _check_enough_jets(config: StudyConfig, train: Sequence[str], val: Sequence[str]) -> None:
    """Every n of the study must fit in the training files (else small runs would silently share U)."""
    val_fraction = (
        None if val else float(config.training.get("val_fraction", TrainConfig.val_fraction))
    )
    available = count_jets(train, val_fraction)
    too_many = [n for n in config.n_labelled if n > available]
    if too_many:
        msg = (
            f"{config.source}: n_labelled {too_many} exceed the {available} training jets of "
            f"{', '.join(config.train)}"
        )
        raise StudyConfigError(msg)


def _checkpoint_of(path: Path) -> Path:
    """The file :func:`~jetscale.transfer.pretrain.backbone_state` reads for ``path``."""
    if path.is_dir():
        return path / BEST_NAME if (path / BEST_NAME).exists() else path / LAST_NAME
    return path


def _backbones(config: StudyConfig) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The study's architecture and each backbone's path and checkpoint identity.

    Every backbone must have the same architecture (but for its head): the
    scratch baseline is trained once for all of them.
    """
    from jetscale.transfer.pretrain import backbone_state

    architecture: dict[str, Any] | None = None
    first = ""
    out = {}
    for name, path in config.backbones.items():
        try:
            model, _ = backbone_state(path)
        except (ValueError, OSError) as err:
            msg = f"{config.source}: backbones.{name}: {err}"
            raise StudyConfigError(msg) from err
        ours = {k: v for k, v in model.to_dict().items() if k != "n_classes"}
        if architecture is None:
            architecture, first = ours, name
        elif ours != architecture:
            differ = ", ".join(
                f"{k}: {first} {architecture.get(k)!r}, {name} {ours.get(k)!r}"
                for k in sorted(set(ours) | set(architecture))
                if ours.get(k) != architecture.get(k)
            )
            msg = (
                f"{config.source}: backbones {first} and {name} differ ({differ}); one study "
                "compares backbones of one architecture against one scratch baseline: "
                "run a study per architecture"
            )
            raise StudyConfigError(msg)
        (identity,) = data_identity([str(_checkpoint_of(Path(path)))])
        out[name] = {"path": str(path), "checkpoint": identity}
    assert architecture is not None  # the config has at least one backbone
    return architecture, out


def _check_same_backbones(
    out_dir: Path, model: Mapping[str, Any], backbones: Mapping[str, Mapping[str, Any]]
) -> None:
    """Refuse a rerun whose architecture or whose backbone of a known name changed."""
    path = out_dir / "inputs.json"
    before = json.loads(path.read_text()) if path.exists() else None
    if before is not None and (out_dir / "runs").exists():
        if before.get("model") != dict(model):
            changed = config_changes(before.get("model") or {}, dict(model), "model.")
            msg = (
                f"{out_dir}: its runs used backbones of another architecture (changed: "
                f"{'; '.join(changed)}); finished points would be reused. Use a new --out"
            )
            raise StudyConfigError(msg)
        for name, now in backbones.items():
            then = before.get("backbones", {}).get(name)
            if then and then["checkpoint"]["xxh3_128"] != now["checkpoint"]["xxh3_128"]:
                msg = (
                    f"{out_dir}: backbone {name} ({now['checkpoint']['file']}) is not the one its "
                    "runs fine-tuned; finished points would be reused. Use a new --out "
                    "(or another backbone name)"
                )
                raise StudyConfigError(msg)
    known = dict(before.get("backbones", {})) if before else {}
    write_json(path, {"model": dict(model), "backbones": {**known, **backbones}})
