"""Build a run from a composed Hydra config: datamodule -> network -> task -> trainer.

Shared by ``train.py`` and ``eval.py``. Sizes that follow from the data (channels, window length, vocabulary,
classes) are read from the datamodule's ``dims`` and filled into the network config's ``???`` fields, so they
are never typed twice.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from seqconv.errors import ConfigError
from seqconv.runtime import set_num_threads

__all__ = ["SaveRunConfig", "apply_num_threads", "build_datamodule", "build_task", "build_trainer", "count_parameters"]

log = logging.getLogger(__name__)


def apply_num_threads(setting: int | str | None, task: L.LightningModule, loader: DataLoader) -> int:
    """Apply ``runtime.num_threads``; ``auto`` times the task's network on the first batch of ``loader``."""
    if setting != "auto":
        return set_num_threads(setting)
    return set_num_threads(setting, task.net, next(iter(loader))["x"])


def build_datamodule(data_cfg: DictConfig) -> L.LightningDataModule:
    """Instantiate the datamodule and run its ``prepare_data`` and ``setup``."""
    datamodule = instantiate(data_cfg, _convert_="all")
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def _fill_sizes(net_cfg: DictConfig, dims: dict[str, int]) -> DictConfig:
    """Copy of ``net_cfg`` with every ``???`` field that the datamodule knows filled in."""
    filled = net_cfg.copy()
    for key, value in dims.items():
        if key in filled.keys() and OmegaConf.is_missing(filled, key):
            filled[key] = value
    missing = [key for key in filled.keys() if OmegaConf.is_missing(filled, key)]
    if missing:
        raise ConfigError(
            f"model.net needs {missing} but the datamodule provides only {sorted(dims)}; "
            f"set them on the command line, e.g. model.net.{missing[0]}=..."
        )
    return filled


def count_parameters(module: torch.nn.Module) -> int:
    """Trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def build_task(cfg: DictConfig, datamodule: L.LightningDataModule) -> tuple[L.LightningModule, DictConfig]:
    """Network + task from ``cfg.model`` and ``cfg.task``; returns the task and the filled network config."""
    net_cfg = _fill_sizes(cfg.model.net, datamodule.dims)
    net = instantiate(net_cfg, _convert_="all")
    if cfg.model.get("grad_checkpointing"):
        net.set_grad_checkpointing(True)
    optimizer = instantiate(cfg.model.optimizer)
    scheduler = instantiate(cfg.model.scheduler) if cfg.model.scheduler is not None else None
    # _convert_="all": list arguments (class_names, class_weights) reach the task as plain lists, so that its
    # hyperparameters can be loaded back with torch.load(weights_only=True)
    task = instantiate(
        cfg.task, net=net, optimizer=optimizer, scheduler=scheduler, _convert_="all", **datamodule.task_kwargs
    )
    field = net.receptive_field() if hasattr(net, "receptive_field") else None
    log.info("%s: %d parameters, receptive field %s steps", type(net).__name__, count_parameters(net), field)
    return task, net_cfg


class SaveRunConfig(Callback):
    """Store the resolved run config (with data-derived sizes filled in) inside every checkpoint, so that
    ``eval.py ckpt_path=...`` can rebuild the same network and data without the original run dir."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        checkpoint["seqconv_config"] = self.config
        datamodule = trainer.datamodule
        if datamodule is not None:
            checkpoint["seqconv_data_state"] = datamodule.state_dict()


def build_trainer(cfg: DictConfig, extra_callbacks: list[Callback] = ()) -> L.Trainer:
    """Trainer with the configured callbacks and loggers (groups ``callbacks`` and ``logger``)."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg is not None]
    return instantiate(cfg.trainer, callbacks=[*callbacks, *extra_callbacks], logger=loggers or False)
