"""Optimizer and scheduler wiring shared by every task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["build_optimization", "param_groups"]

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


def build_optimization(
    module: nn.Module,
    optimizer: Callable[..., torch.optim.Optimizer],
    scheduler: Callable[..., Any] | None,
    monitor: str,
) -> dict[str, Any]:
    """What ``configure_optimizers`` returns, from ``_partial_`` optimizer and scheduler factories."""
    opt = optimizer(params=param_groups(module))
    if scheduler is None:
        return {"optimizer": opt}
    return {
        "optimizer": opt,
        "lr_scheduler": {"scheduler": scheduler(optimizer=opt), "monitor": monitor, "interval": "epoch"},
    }
