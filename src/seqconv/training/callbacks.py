"""Callbacks that every seqconv run uses."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

__all__ = ["EpochSeed", "SaveRunConfig"]


class SaveRunConfig(Callback):
    """Store the resolved run config (with data-derived sizes filled in) and the datamodule's fitted state
    (scalers, vocabulary, class map: plain data) in every checkpoint, so that ``eval.py ckpt_path=...``
    rebuilds the same network and data without the original run dir."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint["seqconv_config"] = self.config
        datamodule = trainer.datamodule
        if datamodule is not None:
            checkpoint["seqconv_data_state"] = datamodule.state_dict()


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
