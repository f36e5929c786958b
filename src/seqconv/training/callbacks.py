"""Callbacks that every seqconv run uses."""

from __future__ import annotations

import signal
import threading
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from seqconv.training.checkpoint_io import CONFIG_KEY, PREPROCESSOR_KEY

__all__ = ["EpochSeed", "InterruptGuard", "SaveRunConfig"]


class SaveRunConfig(Callback):
    """Store the resolved run config (with data-derived sizes filled in) and the datamodule's fitted
    preprocessor (scalers, tokenizer, class map: plain JSON-able data) in every checkpoint, so that ``eval.py``,
    ``predict.py`` and ``export.py`` rebuild the same network and input path without the original run dir."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint[CONFIG_KEY] = self.config
        datamodule = trainer.datamodule
        if datamodule is not None and datamodule.preprocessor.is_fitted:
            checkpoint[PREPROCESSOR_KEY] = datamodule.preprocessor.state_dict()


class EpochSeed(Callback):
    """Re-seed every random generator at the start of each training epoch with ``seed + epoch``.

    Dropout masks and augmentations of epoch ``k`` then depend on ``(seed, k)`` alone, so a run resumed from
    the checkpoint of epoch ``k - 1`` continues exactly as the uninterrupted run would have (the shuffling
    order is fixed the same way by :class:`seqconv.data.samplers.EpochShuffleSampler`).
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        L.seed_everything(self.seed + trainer.current_epoch, workers=True, verbose=False)


class InterruptGuard(Callback):
    """Make one Ctrl-C always stop training.

    Python raises ``KeyboardInterrupt`` wherever the main thread is when SIGINT arrives; if that is inside a
    finalizer (``__del__``, a weakref callback), the exception is printed as "Exception ignored" and training goes
    on. This callback notes every SIGINT and raises ``KeyboardInterrupt`` again at the next batch boundary, where
    Lightning's interrupt handling (checkpoint, exit 130 in ``train.py``) takes over.
    """

    def __init__(self) -> None:
        self.pending = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        self.pending = True
        raise KeyboardInterrupt

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if threading.current_thread() is threading.main_thread() and self._previous is None:
            self._previous = signal.signal(signal.SIGINT, self._handler)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._previous is not None and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) == self._handler:  # Lightning ignores SIGINT once it stops
                signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _check(self) -> None:
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self._check()

    def on_validation_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self._check()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check()
