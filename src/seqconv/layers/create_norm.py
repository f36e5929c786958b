"""Normalization layers by name, all taking and returning ``[B, C, L]``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["NORMS", "ChannelLayerNorm", "create_norm", "norm_mixes_time"]


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of each time step, so it never mixes time steps (safe for causal models)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, L] -> [B, C, L]``."""
        y = F.layer_norm(x.transpose(1, 2), self.normalized_shape, self.weight, self.bias, self.eps)  # [B, L, C]
        return y.transpose(1, 2)  # [B, C, L]


def _group_norm(channels: int, num_groups: int) -> nn.Module:
    if channels % num_groups:
        raise ValueError(
            f"norm='group' needs channels divisible by num_groups, got channels={channels}, "
            f"num_groups={num_groups}; pick num_groups among {[g for g in range(1, channels + 1) if channels % g == 0]}"
        )
    return nn.GroupNorm(num_groups, channels)


NORMS = ("batch", "group", "layer", "none")


def norm_mixes_time(norm: str) -> bool:
    """Whether ``norm`` pools statistics over the time axis at inference (GroupNorm does), which breaks causality."""
    return norm == "group"


def create_norm(norm: str, channels: int, num_groups: int = 8) -> nn.Module:
    """Build the normalization named ``norm`` for ``channels`` channels.

    Args:
        norm: one of ``"batch"``, ``"group"``, ``"layer"`` (per time step, over channels), ``"none"``.
        channels: number of channels ``C`` of the ``[B, C, L]`` input.
        num_groups: groups for ``norm="group"``.

    Raises:
        ValueError: unknown ``norm`` (lists the valid names) or ``channels`` not divisible by ``num_groups``.
    """
    if norm == "batch":
        return nn.BatchNorm1d(channels)
    if norm == "group":
        return _group_norm(channels, num_groups)
    if norm == "layer":
        return ChannelLayerNorm(channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalization norm={norm!r}; choose one of {list(NORMS)}")
