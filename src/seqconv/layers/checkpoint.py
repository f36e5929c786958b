"""Gradient checkpointing over a sequence of blocks."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ["run_blocks"]


def run_blocks(blocks: Iterable[nn.Module], x: torch.Tensor, grad_checkpointing: bool) -> torch.Tensor:
    """Apply ``blocks`` in order; with ``grad_checkpointing`` (and autograd on) keep only block inputs alive
    and recompute each block's activations in the backward pass, trading compute for memory.

    Note: a BatchNorm inside a checkpointed block updates its running statistics twice per step (forward and
    recompute); outputs and gradients are unchanged. Prefer ``norm="layer"`` where that matters.
    """
    recompute = grad_checkpointing and torch.is_grad_enabled()
    for block in blocks:
        x = checkpoint(block, x, use_reentrant=False) if recompute else block(x)
    return x
