"""What every seqconv task shares: one step for all splits, the non-finite-loss guard, the optimizer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from seqconv.errors import ConfigError
from seqconv.tasks.optim import build_optimization

__all__ = ["NONFINITE_POLICIES", "SPLITS", "SeqTask"]

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
NONFINITE_POLICIES = ("raise", "skip")


class SeqTask(L.LightningModule):
    """Base LightningModule: subclasses implement ``_shared_step(batch, split) -> loss`` and
    ``_log_epoch(split)``; this class wires them to the train/val/test hooks.

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
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        monitor: str = "val/loss",
        nonfinite_loss: str = "raise",
        max_skipped_batches: int = 10,
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

    def _shared_step(self, batch: dict[str, torch.Tensor], split: str) -> torch.Tensor:
        raise NotImplementedError

    def _log_epoch(self, split: str) -> None:
        raise NotImplementedError

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        loss = self._shared_step(batch, "train")
        if torch.isfinite(loss):
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

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def configure_optimizers(self) -> dict[str, Any]:
        return build_optimization(self, self.optimizer, self.scheduler, self.monitor)
