"""The training loop: explicit, resumable, and accounted in jets, steps and FLOPs.

Compute accounting: ``flops`` is 3 x the exact forward matrix-product FLOPs of
every batch as processed (forward + backward = 3 forward passes; padded slots
count because they are computed), so it includes the attention term 4 L n^2 d per
jet. ``flops_6nd`` is the scaling-law convention C = 6 N D with N the non-embedding
parameters and D the real constituents seen; the two differ by the embedding,
the attention term and padding.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from jetscale.io import QualityReport
from jetscale.io.atomic import write_json
from jetscale.io.lock import DirectoryLock
from jetscale.nn import training_flops
from jetscale.provenance import provenance
from jetscale.task import parse_task
from jetscale.train.checkpoint import (
    BEST_NAME,
    LAST_NAME,
    CheckpointError,
    config_changes,
    load_checkpoint,
    save_checkpoint,
)
from jetscale.train.config import TrainConfig
from jetscale.train.data import (
    TRAINING_DATA_NAME,
    Batch,
    TrainingData,
    check_task_classes,
    split_sources,
    training_record,
    with_training_record,
)
from jetscale.train.data_quality import write_data_quality
from jetscale.train.distributed import Distributed
from jetscale.train.metrics_file import (
    METRICS_NAME,
    append_metrics,
    read_metrics,
    reconcile_metrics,
)
from jetscale.train.objective import Objective, ReadsOwnData, Supervised, make_optimizer
from jetscale.train.schedule import get_lr, warmup_warning

log = logging.getLogger(__name__)

LAST = LAST_NAME
BEST = BEST_NAME


class TrainingError(RuntimeError):
    """Training stopped on purpose (NaN loss, ...); completed work is in the last checkpoint."""


#: Progress lines (step, loss, learning rate, jets/s, ETA) go to this logger at INFO;
#: ``jetscale train``, ``pretrain`` and ``finetune`` show them on stderr.
progress_log = logging.getLogger("jetscale.progress.train")
#: Seconds between progress lines; every evaluation gets one too.
PROGRESS_EVERY_S = 10.0
#: The run directory's record of every process that trained it (version, revision, command).
PROVENANCE_NAME = "provenance.json"


class TrainingProgress:
    """Progress lines of one training call: one per :data:`PROGRESS_EVERY_S` and per evaluation.

    ``loss`` is the mean training loss since the previous line, summed on the
    device so that it costs one synchronisation per line, not per step. The ETA
    is the remaining steps at this call's average pace (evaluations included).
    """

    def __init__(
        self,
        total_steps: int,
        step: int,
        jets_seen: int,
        device: torch.device,
        every_s: float | None = None,
    ) -> None:
        self.total_steps = total_steps
        self.every_s = PROGRESS_EVERY_S if every_s is None else every_s
        self.started = self.last_time = time.perf_counter()
        self.first_step, self.last_jets = step, jets_seen
        self.loss_sum = torch.zeros((), device=device)
        self.n_losses = 0

    def add(self, loss: torch.Tensor) -> None:
        """Count one step's training loss."""
        self.loss_sum += loss.detach().float()
        self.n_losses += 1

    def due(self) -> bool:
        """Whether a line is due without an evaluation."""
        return time.perf_counter() - self.last_time >= self.every_s

    def report(
        self,
        state: dict[str, Any],
        lr: float,
        evaluation: dict[str, Any] | None = None,
        evaluation_s: float = 0.0,
    ) -> None:
        """Log the line for ``state`` (the loop's counters), then start the next interval.

        ``evaluation_s``: seconds of the evaluation just made, left out of jets/s.
        """
        now = time.perf_counter()
        if progress_log.isEnabledFor(logging.INFO) and state["step"] > self.first_step:
            loss = self.loss_sum.item() / self.n_losses if self.n_losses else math.nan
            seconds = max(now - self.last_time - evaluation_s, 1e-9)
            per_step = (now - self.started) / (state["step"] - self.first_step)
            progress_log.info(
                progress_line(
                    state["step"],
                    self.total_steps,
                    loss,
                    lr,
                    (state["jets_seen"] - self.last_jets) / seconds,
                    now - self.started,
                    per_step * (self.total_steps - state["step"]),
                    evaluation,
                )
            )
        self.loss_sum.zero_()
        self.n_losses, self.last_time, self.last_jets = 0, now, state["jets_seen"]


def progress_line(
    step: int,
    total_steps: int,
    loss: float,
    lr: float,
    jets_per_s: float,
    elapsed_s: float,
    eta_s: float,
    evaluation: dict[str, Any] | None = None,
) -> str:
    """One progress line, such as ``step 120/900 (13%) | loss 1.2345 | lr 8.00e-04 | ...``.

    With ``evaluation`` (a metrics line) it ends with the validation loss and the best so far.
    """
    width = len(str(total_steps))
    parts = [
        f"step {step:>{width}}/{total_steps} ({100 * step / total_steps:.0f}%)",
        f"loss {loss:.4f}",
        f"lr {lr:.2e}",
        f"{jets_per_s:,.0f} jets/s",
        f"{_duration(elapsed_s)} elapsed",
        f"ETA {_duration(eta_s)}",
    ]
    if evaluation is not None:
        parts.append(
            f"val_loss {evaluation['val_loss']:.4f} (best {evaluation['best_val_loss']:.4f})"
        )
    return " | ".join(parts)


def _duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    minutes, secs = divmod(round(max(seconds, 0.0)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def select_device(name: str) -> torch.device:
    """``auto``: CUDA when available, else the CPU; any other name as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(
    config: TrainConfig,
    resume: bool = True,
    stop_after_steps: int | None = None,
    objective: Objective | None = None,
) -> dict[str, Any]:
    """Train (or resume) the run in ``config.out``; returns the final metrics line.

    ``objective`` is what is learned (default: :class:`~jetscale.train.objective.Supervised`,
    the tagger's classes); pretraining passes its own (:mod:`jetscale.transfer.pretrain`).

    ``stop_after_steps`` ends the process early after that many optimizer steps in
    this call (used to test resumption); the run is then resumable as if killed.
    The run directory is held for this process (one writer; under torchrun, rank 0
    holds it): a second process on the same directory gets
    :class:`~jetscale.io.lock.DirectoryBusyError`.
    """
    main_rank = int(os.environ.get("RANK", "0")) == 0
    lock = DirectoryLock(config.out, "jetscale train") if main_rank else contextlib.nullcontext()
    with lock:
        return _train(config, resume, stop_after_steps, objective or Supervised())


def _train(
    config: TrainConfig, resume: bool, stop_after_steps: int | None, objective: Objective
) -> dict[str, Any]:
    """The training of :func:`train`, with the run directory held."""
    out = Path(config.out)
    ddp = Distributed.from_environment()
    device = ddp.device(select_device(config.device))
    if ddp.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if not resume:  # starting over: the previous run's config cannot object
            _forget_previous_run(out)
        _check_or_write_config(out, config)
    ddp.barrier()
    torch.manual_seed(config.seed)

    model = objective.build(config.model).to(device)
    optimizer = objective.optimizer(model, config)
    if config.mass_decorrelation != "none" and not isinstance(objective, Supervised):
        msg = f"mass_decorrelation={config.mass_decorrelation!r} needs the supervised objective, not {objective.name!r}"
        raise ValueError(msg)
    train_source: TrainingData
    val_source: TrainingData
    if isinstance(objective, ReadsOwnData):  # contrastive pretraining: whole groups of views
        train_source, val_source = objective.data_sources(config)
        record = training_record(train_source.kinematics())
    else:
        jets, val_source = split_sources(
            config.data,
            config.val_data,
            config.model.feature_set,
            config.model.max_particles,
            config.max_jets,
            config.val_fraction,
            config.val_max_jets,
            config.chunk_jets,
            objective.needs_labels,
            config.task,
        )
        train_source, record = with_training_record(jets, config.mass_decorrelation)
    if ddp.is_main:
        write_json(out / TRAINING_DATA_NAME, record)
    unique_jets = train_source.nominal_jets()
    # With W processes each step consumes W batches; a last incomplete group is dropped.
    batches = train_source.batches_per_epoch(config.batch_size, unique_jets)
    steps_per_epoch = max(batches // ddp.world_size, 1)
    total_steps = steps_per_epoch * config.epochs
    val_quality, train_quality = QualityReport(), QualityReport()
    val_set = val_source.load_all(val_quality)
    if train_source.weights is not None and val_set.pt is not None and val_set.sdmass is not None:
        # A mass-decorrelated run is validated (and its best checkpoint chosen) on the
        # loss it minimises: the validation jets weighted by the training jets' tables.
        val_weight = train_source.weights(val_set.label, val_set.pt, val_set.sdmass)
        val_set = dataclasses.replace(val_set, weight=val_weight)
    if objective.needs_labels:  # a class without jets: named before any step
        check_task_classes(
            val_set,
            parse_task(config.task),
            f"the validation jets of {', '.join(val_source.paths)}",
        )
        if unique_jets == 0:
            msg = f"no training jets of task {config.task!r} in {', '.join(config.data)}"
            raise ValueError(msg)
    non_embedding = non_embedding_parameters(model)

    state: dict[str, Any] = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "jets_seen": 0}
    state |= {"flops": 0.0, "flops_6nd": 0.0}
    state |= {"best_val_loss": math.inf, "wall_time_s": 0.0}
    if resume and (out / LAST).exists():
        checkpoint = load_checkpoint(out / LAST)
        _check_matches(checkpoint, config, out / LAST, objective, train_source.data_order)
        model.load_state_dict(checkpoint["model_state"])
        optimizer.load_state_dict(checkpoint["optimizer_state"])
        torch.set_rng_state(checkpoint["rng_state"])
        state = {k: checkpoint[k] for k in state}
        log.info("resumed %s at step %d", out, state["step"])
    if ddp.is_main:  # on every start: metrics.jsonl describes exactly the state started from
        reconcile_metrics(out / METRICS_NAME, state["step"])
    ddp.barrier()
    if state["step"] >= total_steps and (out / METRICS_NAME).exists():
        metrics = read_metrics(out / METRICS_NAME)  # every rank decides alike
        if metrics and metrics[-1]["step"] == state["step"]:
            if ddp.is_main:  # a rerun must not pass for a new result
                log.warning(
                    "%s is already complete (step %d of %d): returning its last evaluation "
                    "without training; use another --out (or remove %s) to start over",
                    out,
                    state["step"],
                    total_steps,
                    out,
                )
            ddp.close()  # a finished run: nothing to do, report its last evaluation
            return metrics[-1]
    if ddp.is_main:
        warning = warmup_warning(total_steps, config.warmup_steps, config.lr)
        if warning is not None:
            log.warning("%s: %s", out, warning)
        _record_provenance(out, state["step"], config.seed)
        progress_log.info(
            "%s: %d steps (%d epoch(s) of %d), batch %d, %s training jets, %s%s",
            out,
            total_steps,
            config.epochs,
            steps_per_epoch,
            config.batch_size,
            f"{unique_jets:,}",
            device,
            f"; resuming at step {state['step']}" if state["step"] else "",
        )
    progress = TrainingProgress(total_steps, state["step"], state["jets_seen"], device)
    trained = ddp.wrap(model)

    autocast = device.type == "cuda"
    started = time.perf_counter() - state["wall_time_s"]

    def evaluate_and_save(loss: torch.Tensor, lr: float) -> dict[str, Any]:
        return _evaluate_and_save(
            model,
            objective,
            optimizer,
            config,
            val_set,
            device,
            state,
            started,
            loss,
            lr,
            out,
            steps_per_epoch,
            train_source.data_order,
        )

    steps_this_call = 0
    line: dict[str, Any] = {}
    loss, lr = torch.tensor(float("nan")), config.lr  # defined even if no step runs in this call
    first_epoch = state["epoch"]
    for epoch in range(first_epoch, config.epochs):
        skip = state["batch_in_epoch"] if epoch == first_epoch else 0
        # The first epoch of this call is read in full (skipped batches too): count its drops.
        report = train_quality if epoch == first_epoch else None
        for global_index, batch in enumerate(
            train_source.batches(config.batch_size, config.seed, epoch, report=report)
        ):
            index, owner = divmod(global_index, ddp.world_size)  # local step in the epoch, rank
            # Past steps_per_epoch (a last group short of one batch per rank): read, not
            # trained on, so the data-quality counts cover the whole epoch.
            if owner != ddp.rank or index < skip or index >= steps_per_epoch:
                continue
            lr = get_lr(
                state["step"], total_steps, config.lr, config.warmup_steps, config.min_lr_ratio
            )
            objective.set_learning_rate(optimizer, lr, state["step"])
            x = torch.from_numpy(batch.x).to(device)
            mask = torch.from_numpy(batch.mask).to(device)
            label = torch.from_numpy(batch.label).to(device)
            weight = None if batch.weight is None else torch.from_numpy(batch.weight).to(device)
            try:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                    loss = (
                        objective.loss(trained, x, mask, label, state["step"])
                        if weight is None  # objectives of their own need not take weights
                        else objective.loss(trained, x, mask, label, state["step"], weight=weight)
                    )
                if not torch.isfinite(loss):
                    msg = (
                        f"non-finite training loss ({loss.item()}) at step {state['step']}; "
                        f"stopped. The last good checkpoint is {out / LAST} (lower --lr?)"
                    )
                    raise TrainingError(msg)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
            except torch.cuda.OutOfMemoryError as err:
                msg = (
                    f"out of GPU memory at step {state['step']} (batch {tuple(batch.x.shape)}); "
                    f"lower --batch-size or --max-particles. The last good checkpoint is {out / LAST}"
                )
                raise TrainingError(msg) from err
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()

            state["step"] += 1
            state["batch_in_epoch"] = index + 1
            state["epoch"] = epoch
            # Counters are per process times W: every rank processes a batch per step.
            world = ddp.world_size
            state["jets_seen"] += world * len(batch.label)
            state["flops"] += (
                world
                * 3.0
                * objective.forward_flops(config.model, batch.x.shape[1])
                * len(batch.label)
            )
            state["flops_6nd"] += world * training_flops(non_embedding, float(batch.mask.sum()))
            steps_this_call += 1
            progress.add(loss)
            last_step = state["step"] == total_steps
            if (state["step"] % config.eval_every == 0 or last_step) and ddp.is_main:
                evaluated = time.perf_counter()
                line = evaluate_and_save(loss, lr)
                progress.report(state, lr, line, time.perf_counter() - evaluated)
            elif ddp.is_main and progress.due():
                progress.report(state, lr)
            if stop_after_steps is not None and steps_this_call >= stop_after_steps:
                return line
        state["epoch"], state["batch_in_epoch"] = epoch + 1, 0
        if epoch == first_epoch and ddp.is_main:
            write_data_quality(
                out,
                train_quality,
                train_source.paths,
                val_quality,
                val_source.paths,
                held_out=not config.val_data,
            )
    if ddp.is_main and (not line or line["step"] != state["step"]):
        evaluated = time.perf_counter()
        line = evaluate_and_save(loss, lr)
        progress.report(state, lr, line, time.perf_counter() - evaluated)
    ddp.close()
    return line


def _evaluate_and_save(
    model: torch.nn.Module,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    val_set: Batch,
    device: torch.device,
    state: dict[str, Any],
    started: float,
    loss: torch.Tensor,
    lr: float,
    out: Path,
    steps_per_epoch: int,
    data_order: str,
) -> dict[str, Any]:
    metrics = objective.evaluate(model, val_set, device, config.batch_size)
    state["wall_time_s"] = time.perf_counter() - started
    improved = metrics["val_loss"] < state["best_val_loss"]
    if improved:
        state["best_val_loss"] = metrics["val_loss"]
    line = {
        "step": state["step"],
        "epoch": state["step"] / steps_per_epoch,  # fractional epochs completed
        "jets_seen": state["jets_seen"],
        "flops": state["flops"],
        "flops_6nd": state["flops_6nd"],
        "train_loss": float(loss.item()),
        "lr": lr,
        **metrics,
        "best_val_loss": state["best_val_loss"],
        "wall_time_s": state["wall_time_s"],
    }
    checkpoint = {
        "model_config": config.model.to_dict(),
        "train_config": config.to_dict(),
        "model_state": model.state_dict(),
        "optimizer_state": optimizer.state_dict(),
        "rng_state": torch.get_rng_state(),
        "data_order": data_order,
        "objective": objective.describe(),
        "provenance": provenance(seeds={"train": config.seed}),
        **state,
    }
    # metrics first, then the checkpoint: a kill in between re-runs this evaluation on
    # resume, and reconcile_metrics drops the orphaned line. best.pt before last.pt: a
    # kill in between re-runs the step, which improves on last.pt's best again.
    append_metrics(out / METRICS_NAME, line)
    if improved:
        save_checkpoint(out / BEST, checkpoint)
    save_checkpoint(out / LAST, checkpoint)
    return line


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """What must not change when resuming (where data and outputs live may move).

    Runs started before tasks existed have no ``task``: they trained on JetClass's ten;
    runs started before mass decorrelation have no ``mass_decorrelation``: none.
    """
    return {"task": "jetclass", "mass_decorrelation": "none"} | {
        k: v for k, v in config.items() if k not in ("out", "device", "eval_every")
    }


def _check_or_write_config(out: Path, config: TrainConfig) -> None:
    path = out / "config.json"
    if path.exists() and (out / LAST).exists():
        previous = json.loads(path.read_text())
        if _comparable(previous) != _comparable(config.to_dict()):
            changed = config_changes(_comparable(previous), _comparable(config.to_dict()))
            msg = (
                f"{out}: the run was started with a different configuration (changed: "
                f"{'; '.join(changed)}); resume it with its settings, or use another --out"
            )
            raise CheckpointError(msg)
    write_json(path, config.to_dict())


def _record_provenance(out: Path, step: int, seed: int) -> None:
    """Add this start to ``provenance.json``: what trained the run from ``step`` on.

    Starts at or after ``step`` are dropped first (their work was lost with a kill,
    as :func:`~jetscale.train.metrics_file.reconcile_metrics` drops their lines).
    """
    path = out / PROVENANCE_NAME
    starts: list[dict[str, Any]] = []
    if path.exists():
        try:
            starts = [s for s in json.loads(path.read_text())["starts"] if s["step"] < step]
        except (ValueError, KeyError, TypeError) as err:
            log.warning("%s: unreadable (%s); written anew", path, err)
    start = {"step": step, **provenance(seeds={"train": seed})}
    write_json(path, {"starts": [*starts, start]})


def non_embedding_parameters(model: torch.nn.Module) -> int:
    """N of the 6ND convention: trained parameters outside embeddings.

    The input embedding (``embed``, or ``backbone.embed`` inside a pretraining
    module) and lookup tables (MPM's mask tokens) are excluded, as Kaplan et al.
    exclude embeddings; for a tagger this is
    :func:`~jetscale.nn.count_parameters`'s ``non_embedding``.
    """
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if name.removeprefix("backbone.").split(".")[0] not in ("embed", "mask_tokens")
    )


def _check_matches(
    checkpoint: dict[str, Any],
    config: TrainConfig,
    path: Path,
    objective: Objective,
    data_order: str,
) -> None:
    started_with = checkpoint.get("objective", {"name": "supervised"})
    if started_with != objective.describe():
        changed = config_changes(started_with, objective.describe(), "objective.")
        msg = (
            f"{path}: the run was started with another objective (changed: "
            f"{'; '.join(changed)}); use another --out"
        )
        raise CheckpointError(msg)
    if checkpoint["model_config"] != config.model.to_dict():
        changed = config_changes(checkpoint["model_config"], config.model.to_dict(), "model.")
        msg = f"{path}: the checkpoint's model differs from the configured one (changed: {'; '.join(changed)})"
        raise CheckpointError(msg)
    if checkpoint.get("data_order") != data_order:
        # Resuming would go on with other jets than the run's first steps saw (and
        # another U): the order of the training stream changed between versions.
        msg = (
            f"{path}: the run was started by a jetscale that ordered the training jets "
            f"differently ({checkpoint.get('data_order', 'files one after the other')}, "
            f"now {data_order}); resuming would train on other jets. Train into a new "
            "--out (or train(config, resume=False), which starts this one over)"
        )
        raise CheckpointError(msg)


def _forget_previous_run(out: Path) -> None:
    """Starting over (``resume=False``): a previous run's checkpoints would not match the new one.

    Left in place, a kill before the first new checkpoint would resume the old
    run against the new (emptied) metrics file.
    """
    for name in (LAST, BEST):
        if (out / name).exists():
            log.warning("%s: starting over (resume=False): removing the previous %s", out, name)
            (out / name).unlink()


__all__ = ["TrainingError", "make_optimizer", "select_device", "train"]
