"""Distributed training under Hydra: child ranks must train the current job, not re-run the sweep."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import lightning as L
import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write

__all__ = ["effective_batch_size", "isolated_distributed_job", "pin_ddp_relaunch_to_job"]

log = logging.getLogger(__name__)


def pin_ddp_relaunch_to_job() -> None:
    """Make Lightning's DDP launcher start the child ranks on this multirun job alone.

    Lightning re-launches child ranks with the script's original ``sys.argv`` plus ``hydra.run.dir``: under
    ``-m`` every child would re-run the whole sweep (and with Optuna even train other hyperparameters). Here
    ``sys.argv`` becomes this job's own overrides (what Hydra composed it from, no ``-m``) and the run dir the
    job's output dir, so each rank trains exactly this configuration, once, writing into the same folder.
    Outside a multirun this does nothing.
    """
    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return
    sys.argv = [sys.argv[0], *hydra_cfg.overrides.task]
    with read_write(hydra_cfg):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir
    log.info("child ranks will run this job only: %s", " ".join(hydra_cfg.overrides.task))


def effective_batch_size(trainer: L.Trainer, batch_size: int) -> int:
    """Samples per optimizer step: per-device batch x devices x nodes x gradient accumulation."""
    return batch_size * trainer.num_devices * trainer.num_nodes * trainer.accumulate_grad_batches


@contextmanager
def isolated_distributed_job() -> Iterator[None]:
    """Leave no distributed state behind a job, so the next job of a multirun can launch its own ranks.

    Lightning sets ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_PORT``... in the launching process and keeps the
    process group alive; the next job would then believe its ranks already exist and wait for peers that have
    exited. On the way out this destroys the process group and restores the environment.
    """
    environ = dict(os.environ)
    try:
        yield
    finally:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        os.environ.clear()
        os.environ.update(environ)
