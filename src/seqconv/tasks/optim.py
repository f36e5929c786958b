"""Optimizer and scheduler wiring shared by every task."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from seqconv.errors import ConfigError

__all__ = ["build_optimization", "param_groups", "spans_run"]

_DECAYED = (nn.Conv1d, nn.Linear)


def param_groups(module: nn.Module) -> list[dict[str, Any]]:
    """Two groups: conv and linear weights (decayed), everything else (biases, norms, embeddings) with
    ``weight_decay=0``. The first group inherits the optimizer's configured ``weight_decay``."""
    decay, no_decay = [], []
    for sub in module.modules():
        for name, param in sub.named_parameters(recurse=False):
            if param.requires_grad:
                (decay if isinstance(sub, _DECAYED) and name == "weight" else no_decay).append(param)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


def spans_run(scheduler: Callable[..., Any]) -> bool:
    """Whether a ``_partial_`` scheduler factory is a whole-run schedule stepped per batch (one taking
    ``total_steps``, such as ``OneCycleLR``) whose length the configuration left to the trainer."""
    func = scheduler.func if isinstance(scheduler, functools.partial) else scheduler
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    keywords = scheduler.keywords if isinstance(scheduler, functools.partial) else {}
    given = {k for k, v in keywords.items() if v is not None}
    return "total_steps" in params and not given & {"total_steps", "epochs", "steps_per_epoch"}


def build_optimization(
    module: nn.Module,
    optimizer: Callable[..., torch.optim.Optimizer],
    scheduler: Callable[..., Any] | None,
    monitor: str,
    total_steps: float | None = None,
) -> dict[str, Any]:
    """What ``configure_optimizers`` returns, from ``_partial_`` optimizer and scheduler factories.

    A scheduler that takes ``total_steps`` (``OneCycleLR``) and was not given its length runs over the whole fit:
    ``total_steps`` (the trainer's ``estimated_stepping_batches``) optimizer steps, stepped after each; every
    other scheduler steps once per epoch (``monitor`` feeds ``ReduceLROnPlateau``).
    """
    opt = optimizer(params=param_groups(module))
    if scheduler is None:
        return {"optimizer": opt}
    if spans_run(scheduler):
        if total_steps is None or not math.isfinite(total_steps) or total_steps < 1:
            raise ConfigError(
                f"model.scheduler {getattr(scheduler, 'func', scheduler).__name__} spans the whole run and needs its "
                f"length: set trainer.max_epochs or trainer.max_steps (the trainer estimated {total_steps} steps), "
                "or give model.scheduler.total_steps"
            )
        sched = scheduler(optimizer=opt, total_steps=int(total_steps))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
    return {
        "optimizer": opt,
        "lr_scheduler": {"scheduler": scheduler(optimizer=opt), "monitor": monitor, "interval": "epoch"},
    }
