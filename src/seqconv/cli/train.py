"""``python train.py`` / ``seqconv-train``: fit, then test the best checkpoint, then write ``metrics.json``."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, NoReturn

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from seqconv.cli._errors import user_errors_exit
from seqconv.cli._exit import run_and_exit
from seqconv.cli._overrides import run_checked
from seqconv.cli._report import final_metrics, print_summary
from seqconv.data.datamodule import SeqDataModule
from seqconv.data.stocks.preprocessor import split_output
from seqconv.errors import ConfigError
from seqconv.pipeline import (
    apply_num_threads,
    build_datamodule,
    build_task,
    build_trainer,
    check_config,
    count_parameters,
)
from seqconv.tasks import ClassificationTask, ForecastingTask
from seqconv.tasks.baselines import run_baselines
from seqconv.tasks.calibration import collect_logits, fit_quantile_offsets, fit_temperature
from seqconv.training import (
    PREPROCESSOR_KEY,
    EpochSeed,
    InterruptGuard,
    SaveRunConfig,
    effective_batch_size,
    find_resume_checkpoint,
    finish_wandb_run,
    isolated_distributed_job,
    pin_ddp_relaunch_to_job,
)
from seqconv.utils import write_json_atomic
from seqconv.utils.io import write_atomic

__all__ = ["main", "train"]

log = logging.getLogger(__name__)

# exit statuses of a run stopped by a signal, as a shell reports them: schedulers requeue on these
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


def _resume_path(cfg: DictConfig, output_dir: Path) -> str | None:
    if cfg.ckpt_path is None:
        existing = sorted((output_dir / "checkpoints").glob("*.ckpt"))
        if existing:  # Lightning would silently resume from them (it does when OnExceptionCheckpoint is on)
            raise ConfigError(
                f"{output_dir} already holds checkpoints ({', '.join(p.name for p in existing)}); pass "
                "ckpt_path=last to resume that run, or choose a new hydra.run.dir"
            )
        return None
    if cfg.ckpt_path != "last":
        return cfg.ckpt_path
    path = find_resume_checkpoint(output_dir / "checkpoints")
    log.info("resuming from %s", path)
    return str(path)


def _baselines(datamodule: SeqDataModule, names: tuple[str, ...]) -> dict[str, Any]:
    """The task's baselines beside the tested network; a failure warns and leaves their keys out (it must never
    lose a finished training run)."""
    try:
        return run_baselines(datamodule, names)
    except Exception as err:  # noqa: BLE001 - any failure of a yardstick, reported and survived
        log.warning("the baselines failed and are left out of metrics.json: %r", err)
        return {}


def _check_calibration(cfg: DictConfig, task: L.LightningModule, datamodule: SeqDataModule) -> None:
    """Before training: ``task.calibration`` needs a validation split to fit on."""
    if not getattr(task, "calibration", None):
        return
    val = datamodule.datasets.get("val")
    if val is None or len(val) == 0 or cfg.trainer.get("limit_val_batches") == 0:
        raise ConfigError(
            f"task.calibration={task.calibration} fits on the validation split, but this run has none "
            "(trainer.limit_val_batches=0, or an empty validation split); give the data a validation split "
            "(data.val_fraction) or set task.calibration=null"
        )


def _calibrate(trainer: L.Trainer, task: L.LightningModule, datamodule: SeqDataModule, best: str) -> None:
    """Fit the calibration on the validation split with the best checkpoint's weights (a classifier's temperature,
    a quantile forecaster's conformal offsets), store it in the datamodule's preprocessor, and write it into that
    checkpoint (the one eval.py, predict.py, backtest.py and export.py read)."""
    if best:
        task.load_state_dict(torch.load(best, map_location=task.device, weights_only=True)["state_dict"])
    outputs, target = collect_logits(task.net, datamodule.val_dataloader())
    if isinstance(task, ForecastingTask):
        quantiles = split_output(outputs, task.horizon, task.quantiles)  # [N, H, Q]
        offsets = fit_quantile_offsets(quantiles, target.reshape(len(quantiles), -1), task.quantiles)
        offsets = trainer.strategy.broadcast(offsets, src=0)  # the same on every rank
        datamodule.preprocessor.set_quantile_offsets(offsets.tolist())
        log.info("conformal quantile offsets (scaled units, per step x level): %s", offsets.numpy().round(4).tolist())
    else:
        temperature = trainer.strategy.broadcast(fit_temperature(outputs, target), src=0)  # one value on every rank
        datamodule.preprocessor.set_temperature(temperature)
    if best and trainer.is_global_zero:
        checkpoint = torch.load(best, map_location="cpu", weights_only=True)
        checkpoint[PREPROCESSOR_KEY] = datamodule.preprocessor.state_dict()
        if type(datamodule).__qualname__ in checkpoint:  # Lightning's copy, restored into the datamodule on load
            checkpoint[type(datamodule).__qualname__] = datamodule.state_dict()
        write_atomic(best, lambda f: torch.save(checkpoint, f))


def train(cfg: DictConfig) -> float | None:
    """Run one training job described by ``cfg``.

    Returns:
        The best value of ``cfg.optimized_metric`` (for sweepers), or ``None`` when it was not logged.
    """
    output_dir = Path(cfg.paths.output_dir)
    if HydraConfig.initialized():
        log.info("job overrides: %s", " ".join(HydraConfig.get().overrides.task) or "(none)")
    check_config(cfg)
    ckpt_path = _resume_path(cfg, output_dir)
    if cfg.seed is not None:
        L.seed_everything(cfg.seed, workers=True)

    datamodule = build_datamodule(cfg.data)
    # a resumed run restores data-dependent initialisations (the n-gram ratios) from its checkpoint
    task, net_cfg = build_task(cfg, datamodule, init_from_data=ckpt_path is None)
    _check_calibration(cfg, task, datamodule)
    apply_num_threads(
        cfg.runtime.num_threads, task, datamodule.train_dataloader(), bool(cfg.trainer.get("deterministic"))
    )
    run_config = OmegaConf.to_container(cfg, resolve=True)
    run_config["model"]["net"] = OmegaConf.to_container(net_cfg)
    field = task.net.receptive_field() if hasattr(task.net, "receptive_field") else None
    run_config["model_info"] = {"num_params": count_parameters(task.net), "receptive_field": field}
    extra_callbacks = [SaveRunConfig(run_config), InterruptGuard()]
    extra_callbacks += [EpochSeed(cfg.seed)] if cfg.seed is not None else []
    trainer = build_trainer(cfg, extra_callbacks)
    if trainer.world_size > 1:
        pin_ddp_relaunch_to_job()
    log.info(
        "effective batch size %d = %d per device x %d device(s) x %d node(s) x %d accumulation step(s)",
        effective_batch_size(trainer, datamodule.batch_size),
        datamodule.batch_size,
        trainer.num_devices,
        trainer.num_nodes,
        trainer.accumulate_grad_batches,
    )
    for logger in trainer.loggers:
        logger.log_hyperparams(run_config)

    resume_hint = f"resume with: python train.py ckpt_path=last hydra.run.dir={output_dir} (and the same overrides)"
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path)
    except SIGTERMException:
        log.warning("stopped by SIGTERM after saving a checkpoint; %s", resume_hint)
        raise SystemExit(EXIT_SIGTERM) from None
    except SystemExit:
        if trainer.interrupted:  # Ctrl-C: Lightning saved the on-exception checkpoint and exits
            log.warning("interrupted after saving a checkpoint; %s", resume_hint)
            raise SystemExit(EXIT_SIGINT) from None
        raise

    checkpoint = next((c for c in trainer.checkpoint_callbacks if c.monitor is not None), None)  # the "best" one
    best = checkpoint.best_model_path if checkpoint is not None else ""
    optimized = trainer.callback_metrics.get(cfg.optimized_metric)
    if (
        checkpoint is not None
        and checkpoint.monitor == cfg.optimized_metric
        and checkpoint.best_model_score is not None
    ):
        optimized = checkpoint.best_model_score

    if getattr(task, "calibration", None):
        _calibrate(trainer, task, datamodule, best)
    metrics: dict[str, Any] = {}
    if cfg.test:
        trainer.test(task, datamodule=datamodule, ckpt_path=best or None, weights_only=True)
        metrics = {**final_metrics(trainer, "test/"), **task.test_report}
        if isinstance(task, ClassificationTask) and task.baselines and trainer.is_global_zero:
            metrics.update(_baselines(datamodule, task.baselines))
    metrics["best_model_path"] = best
    if optimized is not None:
        metrics[cfg.optimized_metric] = float(optimized)
    if trainer.is_global_zero:
        write_json_atomic(output_dir / "metrics.json", metrics)
        print_summary(metrics, output_dir)
    if optimized is None:
        return None
    if not math.isfinite(float(optimized)):  # a sweeper must record this trial as failed, not as a value
        raise FloatingPointError(f"optimized_metric {cfg.optimized_metric} is {float(optimized)}")
    return float(optimized)


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@user_errors_exit
def _hydra_main(cfg: DictConfig) -> float | None:
    with isolated_distributed_job():
        try:
            return train(cfg)
        finally:
            finish_wandb_run()


def main() -> float | None:
    """Console entry point: Hydra, with a misspelled override key explained (exit 2)."""
    return run_checked("train", _hydra_main)


def entry() -> NoReturn:
    """``seqconv-train`` and ``python train.py``: :func:`main`, then an exit without the interpreter's teardown
    (:func:`~seqconv.cli._exit.run_and_exit`)."""
    run_and_exit(main)


if __name__ == "__main__":
    entry()
