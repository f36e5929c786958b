"""Lightning overhead: the same network and DataLoaders in a hand-written loop vs under ``Trainer``.

Two set-ups, both ``model=tscnn`` with 1 thread: ``experiment=classic_synthetic`` (window 100, batch 32, short
epochs) and ``train.py``'s defaults (``data=stocks``: the built-in S&P 500, window 30, batch 64). The hand-written
loop does what the Trainer run does each epoch, written the plain way: a training pass (forward, MSE, backward,
AdamW over the task's parameter groups), a validation pass, and ``torch.save`` of the weights when the validation
loss improves. The Trainer runs are built as ``train.py`` builds them (:func:`seqconv.pipeline.build_trainer` on
the composed config) with the project's default callbacks and logger and, for the classic set-up, with parts
removed, to show where the overhead comes from. An epoch is the time from one training epoch's start to the next
(validation and checkpoint writes included); the first epoch is left out.
"""

from __future__ import annotations

import math
import shutil
import time
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, TQDMProgressBar
from lightning.pytorch.trainer.connectors.logger_connector.logger_connector import _LoggerConnector

from seqconv.bench.measure import Context, median, threads
from seqconv.bench.report import Row
from seqconv.bench.workloads import Workloads, task_loss, train_step
from seqconv.pipeline import build_task, build_trainer
from seqconv.tasks.base import SeqTask
from seqconv.tasks.forecasting import ForecastingTask
from seqconv.tasks.optim import param_groups

__all__ = ["run"]

GOAL_VARIANT = "Trainer, project defaults"
BARE_VARIANT = "Trainer, bare (no callbacks, logger, checkpoints)"
# the goals: per-epoch overhead over the hand-written loop
OVERHEAD_GOALS = {GOAL_VARIANT: 0.10, BARE_VARIANT: 0.05}
# Trainer variants: name -> config overrides
VARIANTS = {
    "Trainer, project defaults": [],
    "Trainer, no progress bar": ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"],
    "Trainer, no progress bar, logger=none": [
        "callbacks.progress_bar=null",
        "+trainer.enable_progress_bar=false",
        "logger=none",
    ],
    BARE_VARIANT: [
        "callbacks=none",
        "logger=none",
        "+trainer.enable_progress_bar=false",
        "+trainer.enable_checkpointing=false",
        "+trainer.enable_model_summary=false",
    ],
}


# where a Trainer epoch's time goes besides the network's own work: label -> (class, methods); none calls another
PARTS = {
    "epoch metrics through self.log": (SeqTask, ["_log_epoch"]),
    "validation metric updates": (ForecastingTask, ["_update_metrics"]),
    "checkpoints (Lightning's dump and the tensor copy; the write runs in a thread)": (L.Trainer, ["save_checkpoint"]),
    "progress bar": (
        TQDMProgressBar,
        ["on_train_batch_end", "on_validation_batch_end", "on_train_epoch_end", "on_validation_end"],
    ),
    "loggers": (_LoggerConnector, ["log_metrics"]),
}


class _Attribution:
    """Wall time spent in :data:`PARTS` while ``counting`` is true (the methods are wrapped on their classes for
    the run; a wrapper costs about a microsecond)."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self.counting = False
        self._saved: list[tuple[type, str, Any]] = []

    def __enter__(self) -> _Attribution:
        for label, (owner, names) in PARTS.items():
            for name in names:
                original = owner.__dict__.get(name)
                if original is None:
                    continue
                self._saved.append((owner, name, original))
                setattr(owner, name, self._timed(label, original))
        return self

    def _timed(self, label: str, method: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.counting:
                return method(*args, **kwargs)
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - start

        return timed

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in self._saved:
            setattr(owner, name, original)


class _EpochClock(Callback):
    """Time stamps at every training epoch's start and at the end of training; turns an :class:`_Attribution` on
    from the second epoch (the first is left out of the timings)."""

    def __init__(self, attribution: _Attribution | None = None) -> None:
        self.stamps: list[float] = []
        self.attribution = attribution

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.stamps.append(time.perf_counter())
        if self.attribution is not None and len(self.stamps) == 2:
            self.attribution.counting = True

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.stamps.append(time.perf_counter())


def _epoch_seconds(stamps: list[float]) -> float:
    """Median epoch length, the first (warm-up) epoch left out."""
    return median([b - a for a, b in zip(stamps[1:-1], stamps[2:], strict=True)])


def _hand_loop(workloads: Workloads, data: str, overrides: list[str], epochs: int) -> float:
    cfg = workloads.config("tscnn", data, overrides)
    datamodule = workloads.datamodule(data)
    torch.manual_seed(0)
    net = build_task(cfg, datamodule)[0].net
    optimizer = instantiate(cfg.model.optimizer)(params=param_groups(net))
    train_loader, val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
    path = workloads.ctx.out / "overhead" / "hand_loop_best.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    best, stamps = math.inf, []
    for epoch in range(epochs):
        stamps.append(time.perf_counter())
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        net.train()
        for batch in train_loader:
            train_step(net, optimizer, batch["x"], batch["y"])
        net.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for batch in val_loader:
                total += task_loss(net(batch["x"]), batch["y"], reduction="sum").item()
                count += len(batch["y"])
        if total / count < best:
            best = total / count
            torch.save(net.state_dict(), path)
    stamps.append(time.perf_counter())
    return _epoch_seconds(stamps)


def _trainer(
    workloads: Workloads, data: str, overrides: list[str], epochs: int, run: str
) -> tuple[float, dict[str, float]]:
    """Median epoch seconds, and the seconds per epoch spent in each of :data:`PARTS`."""
    cfg = workloads.config("tscnn", data, overrides, run=run)
    shutil.rmtree(cfg.paths.output_dir, ignore_errors=True)  # Lightning would resume from a last.ckpt there
    datamodule = workloads.datamodule(data)
    torch.manual_seed(0)
    task, _ = build_task(cfg, datamodule)
    with _Attribution() as attribution:
        clock = _EpochClock(attribution)
        trainer = build_trainer(cfg, [clock])
        trainer.fit(task, datamodule=datamodule)
    timed_epochs = max(len(clock.stamps) - 2, 1)
    return _epoch_seconds(clock.stamps), {k: v / timed_epochs for k, v in attribution.seconds.items()}


def _where(ours: float, hand: float, parts: dict[str, float], batches: int) -> str:
    """The extra time per epoch over the hand-written loop, split into :data:`PARTS` and the rest."""
    extra = ours - hand
    named = ", ".join(f"{label} {seconds * 1e3:.1f}" for label, seconds in parts.items() if seconds >= 5e-5)
    rest = extra - sum(parts.values())
    return (
        f"Where the extra {extra * 1e3:.1f} ms per epoch go (ms per epoch): {named or 'nothing named'}; the remaining "
        f"{rest * 1e3:.1f} ms ({rest / batches * 1e6:.0f} us per batch) are Lightning's loop around each step (hooks, "
        "the optimizer closure, the batch fetcher, per-epoch set-up). The result collection behind self.log costs "
        "about 0.3 ms per logged key (py-spy: _ResultMetric.to -> apply_to_collection deep-copies the metadata "
        "dataclasses on every call), and the validation pass also computes the task's metrics, which the "
        "hand-written loop does not."
    )


# setups: (data, what the table calls it, overrides, Trainer variants run)
SETUPS = [
    ("stocks_synthetic", "tscnn classic_synthetic", ["experiment=classic_synthetic"], list(VARIANTS)),
    # train.py's defaults (tscnn on the built-in S&P 500); early stopping must not end the timed epochs
    ("stocks", "tscnn data=stocks (train.py's default)", ["callbacks.early_stopping.patience=1000"], [GOAL_VARIANT]),
]


def run(ctx: Context, workloads: Workloads) -> list[Row]:
    """Per setup: the goal row (project defaults vs the hand-written loop), then stripped-down Trainers."""
    epochs = 3 if ctx.quick else 12
    common = [f"trainer.max_epochs={epochs}", "runtime.num_threads=1", "test=false", "trainer.accelerator=cpu"]
    rows = []
    for data, label, overrides, variants in SETUPS:
        base = [*overrides, *common]
        seconds: dict[str, list[float]] = {"hand-written loop": [], **{name: [] for name in variants}}
        parts: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        with threads(1):
            for repeat in range(ctx.repeats):
                ctx.log(f"Lightning overhead, {label}: repeat {repeat + 1} of {ctx.repeats}")
                seconds["hand-written loop"].append(_hand_loop(workloads, data, base, epochs))
                for i, name in enumerate(variants):
                    run = f"overhead_{data}_{i}_{repeat}"
                    epoch, where = _trainer(workloads, data, [*base, *VARIANTS[name]], epochs, run)
                    seconds[name].append(epoch)
                    parts[name].append(where)
        hand = median(seconds["hand-written loop"])
        datamodule = workloads.datamodule(data)
        train_batches, val_batches = len(datamodule.train_dataloader()), len(datamodule.val_dataloader())
        for name in variants:
            ours = median(seconds[name])
            overhead = ours / hand - 1
            goal = OVERHEAD_GOALS.get(name)
            where = {label: median([p[label] for p in parts[name]]) for label in PARTS}
            note = ""
            if goal is not None:
                note = (
                    f"Both sides: 1 thread, {train_batches} training + {val_batches} validation batches per epoch, "
                    "the best weights saved. " + _where(ours, hand, where, train_batches + val_batches)
                )
            rows.append(
                Row(
                    "Lightning overhead",
                    f"{label}, per epoch: {name}",
                    f"{ours * 1e3:.1f} ms/epoch",
                    f"hand-written loop {hand * 1e3:.1f} ms/epoch",
                    f"{overhead:+.1%}",
                    f"<= {goal:.0%} slower" if goal is not None else "",
                    overhead <= goal if goal is not None else None,
                    note=note,
                    data={
                        "epoch_seconds": seconds[name],
                        "hand_epoch_seconds": seconds["hand-written loop"],
                        "seconds_per_epoch_in": where,
                    },
                )
            )
    return rows
