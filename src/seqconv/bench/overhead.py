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

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback

from seqconv.bench.measure import Context, median, threads
from seqconv.bench.report import Row
from seqconv.bench.workloads import Workloads, task_loss, train_step
from seqconv.pipeline import build_task, build_trainer
from seqconv.tasks.optim import param_groups

__all__ = ["run"]

OVERHEAD_GOAL = 0.05
GOAL_VARIANT = "Trainer, project defaults"
# Trainer variants: name -> config overrides
VARIANTS = {
    "Trainer, project defaults": [],
    "Trainer, no progress bar": ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"],
    "Trainer, no progress bar, logger=none": [
        "callbacks.progress_bar=null",
        "+trainer.enable_progress_bar=false",
        "logger=none",
    ],
    "Trainer, bare (no callbacks, logger, checkpoints)": [
        "callbacks=none",
        "logger=none",
        "+trainer.enable_progress_bar=false",
        "+trainer.enable_checkpointing=false",
        "+trainer.enable_model_summary=false",
    ],
}


class _EpochClock(Callback):
    """Time stamps at every training epoch's start and at the end of training."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.stamps.append(time.perf_counter())

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


def _trainer(workloads: Workloads, data: str, overrides: list[str], epochs: int, run: str) -> float:
    cfg = workloads.config("tscnn", data, overrides, run=run)
    shutil.rmtree(cfg.paths.output_dir, ignore_errors=True)  # Lightning would resume from a last.ckpt there
    datamodule = workloads.datamodule(data)
    torch.manual_seed(0)
    task, _ = build_task(cfg, datamodule)
    clock = _EpochClock()
    trainer = build_trainer(cfg, [clock])
    trainer.fit(task, datamodule=datamodule)
    return _epoch_seconds(clock.stamps)


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
        with threads(1):
            for repeat in range(ctx.repeats):
                ctx.log(f"Lightning overhead, {label}: repeat {repeat + 1} of {ctx.repeats}")
                seconds["hand-written loop"].append(_hand_loop(workloads, data, base, epochs))
                for i, name in enumerate(variants):
                    run = f"overhead_{data}_{i}_{repeat}"
                    seconds[name].append(_trainer(workloads, data, [*base, *VARIANTS[name]], epochs, run))
        hand = median(seconds["hand-written loop"])
        datamodule = workloads.datamodule(data)
        batches = f"{len(datamodule.train_dataloader())} training + {len(datamodule.val_dataloader())} validation"
        for name in variants:
            ours = median(seconds[name])
            overhead = ours / hand - 1
            goal = name == GOAL_VARIANT
            rows.append(
                Row(
                    "Lightning overhead",
                    f"{label}, per epoch: {name}",
                    f"{ours * 1e3:.1f} ms/epoch",
                    f"hand-written loop {hand * 1e3:.1f} ms/epoch",
                    f"{overhead:+.1%}",
                    f"<= {OVERHEAD_GOAL:.0%} slower" if goal else "",
                    overhead <= OVERHEAD_GOAL if goal else None,
                    note=(
                        f"both sides: 1 thread, {batches} batches per epoch, best weights saved; the Trainer also "
                        "updates the task's torchmetrics (MSE, MAE, RMSE, MAPE, persistence, direction) on every "
                        "batch, training batches included"
                        if goal
                        else ""
                    ),
                    data={"epoch_seconds": seconds[name], "hand_epoch_seconds": seconds["hand-written loop"]},
                )
            )
    return rows
