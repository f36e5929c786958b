"""Build a run from a composed Hydra config (datamodule -> network -> task -> trainer), or restore one from a
checkpoint.

Shared by ``train.py``, ``eval.py`` and ``export.py``. Sizes that follow from the data (channels, window length,
vocabulary, classes) are read from the datamodule's ``dims`` and filled into the network config's ``???``
fields, so they are never typed twice.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.io import AsyncCheckpointIO
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from seqconv.data.datamodule import SeqDataModule
from seqconv.data.stocks.preprocessor import check_quantiles
from seqconv.errors import ConfigError
from seqconv.runtime import drop_nvml_probe_without_gpu, set_num_threads
from seqconv.training.checkpoint_io import CONFIG_KEY, PREPROCESSOR_KEY, load_run_checkpoint

__all__ = [
    "apply_num_threads",
    "build_datamodule",
    "build_task",
    "build_trainer",
    "check_config",
    "configure_outputs",
    "count_parameters",
    "load_run_checkpoint",
    "restore_datamodule",
]


log = logging.getLogger(__name__)


def apply_num_threads(
    setting: int | str | None, task: L.LightningModule, loader: DataLoader, deterministic: bool = False
) -> int:
    """Apply ``runtime.num_threads``; ``auto`` times the task's network on the first batch of ``loader``.

    In deterministic mode ``auto`` does not measure (timings vary from run to run, and a different thread
    count changes floating-point reduction order): it keeps torch's default so that runs repeat exactly.
    """
    if setting != "auto":
        return set_num_threads(setting)
    if deterministic:
        log.info("trainer.deterministic=true: runtime.num_threads=auto keeps torch's default")
        return set_num_threads(None)
    return set_num_threads(setting, task.net, next(iter(loader))["x"])


def _instantiate_datamodule(data_cfg: DictConfig) -> SeqDataModule:
    datamodule = instantiate(data_cfg, _convert_="all")
    if not isinstance(datamodule, SeqDataModule):
        raise ConfigError(
            f"data._target_={data_cfg.get('_target_')!r} builds a {type(datamodule).__name__}, which is not a "
            "seqconv.data.SeqDataModule (the contract train.py, eval.py and export.py rely on); subclass it"
        )
    return datamodule


def configure_outputs(task_cfg: DictConfig, datamodule: SeqDataModule) -> None:
    """Tell the datamodule's preprocessor the output layout the task trains (``task.quantiles``), so that the
    network's size follows from it and the checkpoint's preprocessor maps every output back.

    Raises:
        ConfigError: ``task.quantiles`` for data whose preprocessor has no quantile forecasts.
    """
    quantiles = task_cfg.get("quantiles") if task_cfg is not None else None
    if quantiles is None:
        return
    if not hasattr(datamodule.preprocessor, "quantiles"):
        raise ConfigError(
            f"task.quantiles is for forecasting data; {type(datamodule).__name__} has no quantile forecasts"
        )
    datamodule.preprocessor.quantiles = check_quantiles(OmegaConf.to_container(quantiles, resolve=True))


def build_datamodule(data_cfg: DictConfig, stage: str = "fit") -> SeqDataModule:
    """Instantiate the datamodule and run its ``prepare_data`` and ``setup``."""
    datamodule = _instantiate_datamodule(data_cfg)
    datamodule.prepare_data()
    datamodule.setup(stage)
    return datamodule


def restore_datamodule(
    checkpoint: dict[str, Any],
    data_overrides: DictConfig | dict | None = None,
    stage: str = "test",
    data_config: DictConfig | dict | None = None,
) -> SeqDataModule:
    """The datamodule of a checkpoint's run, its fitted preprocessor restored, ``data_overrides`` applied on top
    (e.g. ``{"path": "other.csv"}``), prepared and set up for ``stage``.

    ``data_config`` replaces the run's data config (another data set of the same domain, e.g. ``eval.py
    data=audio_folder``); the checkpoint's preprocessor is restored into it all the same.

    Raises:
        ConfigError: an override changes what the model reads (e.g. ``data.window``); the message names the key.
    """
    base = checkpoint[CONFIG_KEY]["data"] if data_config is None else data_config
    data_cfg = OmegaConf.merge(OmegaConf.create(base), OmegaConf.create(data_overrides or {}))
    datamodule = _instantiate_datamodule(data_cfg)
    datamodule.load_state_dict({"preprocessor": checkpoint[PREPROCESSOR_KEY]})
    datamodule.prepare_data()
    datamodule.setup(stage)
    return datamodule


# sizes only the data can tell (vocabulary, classes) get stand-ins when the network is checked before loading
_STAND_INS = {"vocab_size": 2, "padding_idx": 0, "num_classes": 2, "out_features": 1}


def check_config(cfg: DictConfig) -> None:
    """Catch configuration mistakes before any data is loaded or any weight allocated.

    Instantiates the datamodule (its constructor validates its arguments without reading data) and builds the
    network on PyTorch's ``meta`` device (shapes only, no memory), with the sizes the datamodule knows from its
    config (window, channels) and stand-ins for those only the data can tell. Errors name the config key.
    """
    datamodule = _instantiate_datamodule(cfg.data)
    configure_outputs(cfg.get("task"), datamodule)
    try:
        dims = datamodule.dims
    except RuntimeError:  # sizes that need the data
        dims = {}
    net_cfg = cfg.model.net.copy()
    for key in net_cfg.keys():
        if OmegaConf.is_missing(net_cfg, key):
            if key not in dims and key not in _STAND_INS:
                return  # nothing sensible to check the network with
            net_cfg[key] = dims.get(key, _STAND_INS.get(key))
    with torch.device("meta"):
        instantiate(net_cfg, _convert_="all")


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


def build_task(
    cfg: DictConfig, datamodule: SeqDataModule, init_from_data: bool = True
) -> tuple[L.LightningModule, DictConfig]:
    """Network + task from ``cfg.model`` and ``cfg.task``; returns the task and the filled network config.

    A network with an ``init_from_data(batches)`` method is initialised from the datamodule's training split
    (:meth:`~seqconv.data.datamodule.SeqDataModule.training_batches`) unless ``init_from_data`` is false (weights
    about to be loaded from a checkpoint)."""
    configure_outputs(cfg.task, datamodule)
    net_cfg = _fill_sizes(cfg.model.net, datamodule.dims)
    net = instantiate(net_cfg, _convert_="all")
    data_init = getattr(net, "init_from_data", None) if init_from_data else None
    if data_init is not None and "train" in datamodule.datasets:
        done = data_init(datamodule.training_batches())
        if done:
            log.info("%s: %s", type(net).__name__, done)
    if cfg.model.get("grad_checkpointing"):
        net.set_grad_checkpointing(True)
    if cfg.model.get("compile"):
        net.compile()  # in place: the state-dict keys stay those of the plain network
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


def build_trainer(cfg: DictConfig, extra_callbacks: list[Callback] = ()) -> L.Trainer:
    """Trainer with the configured callbacks and loggers (groups ``callbacks`` and ``logger``)."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg is not None]
    trainer = instantiate(cfg.trainer, callbacks=[*callbacks, *extra_callbacks], logger=loggers or False)
    drop_nvml_probe_without_gpu()
    checkpoint_io = trainer.strategy.checkpoint_io
    if isinstance(checkpoint_io, AsyncCheckpointIO) and any(getattr(lg, "_log_model", None) == "all" for lg in loggers):
        # a logger that uploads each checkpoint as it is saved must find it written
        trainer.strategy.checkpoint_io = checkpoint_io.checkpoint_io
    return trainer
