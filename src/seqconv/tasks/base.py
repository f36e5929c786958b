"""What every seqconv task shares: one step for all splits, epoch metrics, the non-finite-loss guard, the optimizer.

Epoch values are computed by torchmetrics objects inside the LightningModule's own epoch-end hooks, which every
rank runs in the same order, and logged as plain numbers. (Logging with ``sync_dist=True`` instead defers the
reduction to whenever a value is first read; rank 0's progress bar reads it earlier than the other ranks do,
and DDP deadlocks.)"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric

from seqconv.data.splits import SPLITS
from seqconv.errors import ConfigError
from seqconv.tasks.optim import build_optimization, spans_run

__all__ = ["NONFINITE_POLICIES", "SPLITS", "SeqTask"]

log = logging.getLogger(__name__)
# values logged here are already reduced across ranks by torchmetrics
warnings.filterwarnings("ignore", message=r".*when logging on epoch level in distributed setting.*")
# SeqTask.transfer_batch_to_device is meant to run with a datamodule (one that overrides the hook itself still
# wins, and Lightning says so in another message, which stays); set again by each task, so that it holds also
# where the warning filters were reset after this import (pytest does so per test)
_HOOK_NOTICE = r".*overridden `transfer_batch_to_device` in `LightningModule` but have passed in a.*"
NONFINITE_POLICIES = ("raise", "skip")


class SeqTask(L.LightningModule):
    """Base LightningModule. Subclasses implement three methods:

    * ``_forward_loss(batch) -> (loss, outputs)``;
    * ``_update_metrics(split, outputs, batch)``, called for every batch with a finite loss (and every evaluation
      batch);
    * ``_compute_metrics(split) -> dict`` at the end of each epoch (compute and reset their torchmetrics).

    This class logs ``{split}/loss`` (the batch-size weighted epoch mean), ``train/loss_step``, and every value
    from ``_compute_metrics`` as ``{split}/{name}``. Every value reaches the loggers and ``callback_metrics``; the
    progress bar shows ``train/loss_step`` and the validation values named in :attr:`progress_bar_metrics`.

    A NaN or infinite training loss stops training with the step and batch named
    (``nonfinite_loss="raise"``), or skips that batch's update (``"skip"``) up to ``max_skipped_batches``
    times, so that non-finite values never reach the weights.

    Args:
        net: the network.
        optimizer: ``_partial_`` optimizer factory taking ``params``.
        scheduler: optional ``_partial_`` scheduler factory taking ``optimizer``.
        monitor: metric a scheduler like ``ReduceLROnPlateau`` watches.
        nonfinite_loss: ``"raise"`` or ``"skip"``.
        max_skipped_batches: with ``"skip"``, how many batches may be skipped before training stops.
        train_metrics: also compute the task's metrics on training batches (``train/mse``...). Off by default:
            on small networks their per-batch updates cost as much as 10% of a step; ``train/loss`` is always
            logged.
    """

    #: validation values the progress bar shows beside ``train/loss_step`` (subclasses name their headline metric)
    progress_bar_metrics: tuple[str, ...] = ("loss",)

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        monitor: str = "val/loss",
        nonfinite_loss: str = "raise",
        max_skipped_batches: int = 10,
        train_metrics: bool = False,
    ) -> None:
        super().__init__()
        if nonfinite_loss not in NONFINITE_POLICIES:
            raise ConfigError(
                f"unknown task.nonfinite_loss={nonfinite_loss!r}; choose one of {list(NONFINITE_POLICIES)}"
            )
        self.net = net
        self.optimizer, self.scheduler = optimizer, scheduler
        self.monitor = monitor
        self.nonfinite_loss, self.max_skipped_batches = nonfinite_loss, max_skipped_batches
        self.skipped_batches = 0
        self.train_metrics = train_metrics
        self.epoch_loss = nn.ModuleDict({f"{s}_loss": MeanMetric(nan_strategy="disable") for s in SPLITS})
        #: structured results of the last test run that are not one number per key (e.g. per-class tables);
        #: ``train.py`` and ``eval.py`` merge them into ``metrics.json``
        self.test_report: dict[str, Any] = {}
        # this epoch's summed training loss and item count (a list: no nn.Module attribute bookkeeping per step)
        self._train_loss: list = [torch.zeros(()), 0]
        warnings.filterwarnings("ignore", message=_HOOK_NOTICE)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Batches come from DataLoaders on the CPU: for a CPU run they already are where they belong (Lightning
        would call ``.to`` on every tensor of every batch)."""
        if device.type == "cpu":
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _update_metrics(self, split: str, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    def _compute_metrics(self, split: str) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _shared_step(self, batch: dict[str, torch.Tensor], split: str) -> tuple[torch.Tensor, bool]:
        """Loss and metric updates of one batch; returns the loss and whether it is finite (always true outside
        training, where every batch counts)."""
        loss, outputs = self._forward_loss(batch)
        finite = split != "train" or bool(torch.isfinite(loss))
        if finite:
            if split == "train":  # summed here, handed to the epoch metric once (its update costs per call)
                self._train_loss[0].add_(loss.detach() * len(batch["y"]))
                self._train_loss[1] += len(batch["y"])
            else:
                self.epoch_loss[f"{split}_loss"].update(loss.detach(), len(batch["y"]))
            if split != "train" or self.train_metrics:
                self._update_metrics(split, outputs, batch)
        if split == "train" and self._step_logged():
            self.log("train/loss_step", loss, prog_bar=True, batch_size=len(batch["y"]))
        return loss, finite

    def _step_logged(self) -> bool:
        """Whether this training step's ``train/loss_step`` reaches anyone: Lightning hands step values to the
        loggers only every ``trainer.log_every_n_steps`` steps, and ``self.log`` costs per call whether or not
        they do; the progress bar shows the latest logged value."""
        trainer = self._trainer
        if trainer is None or (not trainer.loggers and trainer.progress_bar_callback is None):
            return False
        connector = getattr(trainer, "_logger_connector", None)
        return bool(getattr(connector, "should_update_logs", True))

    def _log_epoch(self, split: str) -> None:
        metric = self.epoch_loss[f"{split}_loss"]
        if split == "train":
            total, count = self._train_loss
            if count:  # on_train_epoch_start starts the next epoch's sum
                metric.update(total / count, count)
        values = {"loss": metric.compute()}
        if split != "train" or self.train_metrics:
            values.update(self._compute_metrics(split))
        metric.reset()
        shown = self.progress_bar_metrics if split == "val" else ()
        for on_bar in (True, False):
            part = {f"{split}/{k}": v for k, v in values.items() if (k in shown) == on_bar}
            if part:
                self.log_dict(part, prog_bar=on_bar)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        loss, finite = self._shared_step(batch, "train")
        if finite:
            return loss
        where = f"global step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx})"
        if self.nonfinite_loss == "skip" and self.skipped_batches < self.max_skipped_batches:
            self.skipped_batches += 1
            log.warning(
                "training loss is %s at %s: batch skipped (%d of at most %d)",
                loss.item(),
                where,
                self.skipped_batches,
                self.max_skipped_batches,
            )
            return None  # Lightning skips backward and the optimizer step
        raise FloatingPointError(
            f"training loss is {loss.item()} at {where}"
            + (f", after {self.skipped_batches} skipped batches" if self.skipped_batches else "")
            + "; check the inputs for NaN/Inf, lower model.optimizer.lr, or set trainer.gradient_clip_val"
        )

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def on_train_epoch_start(self) -> None:
        self._train_loss = [torch.zeros((), device=self.device), 0]

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self) -> dict[str, Any]:
        total = (
            self.trainer.estimated_stepping_batches
            if self.scheduler is not None and spans_run(self.scheduler)
            else None
        )
        return build_optimization(self, self.optimizer, self.scheduler, self.monitor, total)

    def on_train_start(self) -> None:
        # a resumed whole-run schedule comes back with the length it was built for; a run that now asks for more
        # steps would fail mid-epoch once the schedule ran out, so it stops here, before anything is written
        for config in self.trainer.lr_scheduler_configs:
            built_for = getattr(config.scheduler, "total_steps", None)
            if config.interval != "step" or built_for is None:
                continue
            run_steps = self.trainer.estimated_stepping_batches  # read once: it may size the loaders
            if built_for < run_steps:
                raise ConfigError(
                    f"model.scheduler {type(config.scheduler).__name__} of the checkpoint spans {built_for} steps, and "
                    f"this run asks for {run_steps}: resume with the trainer.max_epochs / max_steps it was started "
                    "with, or start a new run (e.g. from its weights) for a longer schedule"
                )
