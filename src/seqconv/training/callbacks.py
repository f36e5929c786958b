"""Callbacks that every seqconv run uses."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from seqconv.training.checkpoint_io import CONFIG_KEY, PREPROCESSOR_KEY

__all__ = ["EpochSeed", "SaveRunConfig"]


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
