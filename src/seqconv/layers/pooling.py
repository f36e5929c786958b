"""Global pooling over time: ``[B, C, L] -> [B, C]`` (or ``[B, 2C]`` for ``"avgmax"``)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["POOL_TYPES", "GlobalPool1d"]

POOL_TYPES = ("avg", "max", "avgmax")


class GlobalPool1d(nn.Module):
    """Average, max, or both (concatenated) over the time axis, optionally ignoring padded steps.

    Args:
        pool_type: ``"avg"``, ``"max"`` or ``"avgmax"``.
    """

    def __init__(self, pool_type: str = "avg") -> None:
        super().__init__()
        if pool_type not in POOL_TYPES:
            raise ValueError(f"unknown pool_type={pool_type!r}; choose one of {list(POOL_TYPES)}")
        self.pool_type = pool_type

    @property
    def multiplier(self) -> int:
        """Output channels per input channel."""
        return 2 if self.pool_type == "avgmax" else 1

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pool ``x``.

        Args:
            x: ``[B, C, L]``.
            mask: optional ``[B, L]`` boolean, ``True`` where the step is real (not padding). Every row needs at
                least one ``True``.

        Returns:
            ``[B, C]``, or ``[B, 2C]`` for ``"avgmax"`` (average first).
        """
        pooled = []
        if mask is None:
            if self.pool_type in ("avg", "avgmax"):
                pooled.append(x.mean(dim=-1))
            if self.pool_type in ("max", "avgmax"):
                pooled.append(x.amax(dim=-1))
        else:
            keep = mask[:, None, :]  # [B, L] -> [B, 1, L]
            if self.pool_type in ("avg", "avgmax"):
                count = keep.sum(dim=-1).clamp_min(1)
                pooled.append((x * keep).sum(dim=-1) / count)
            if self.pool_type in ("max", "avgmax"):
                pooled.append(x.masked_fill(~keep, float("-inf")).amax(dim=-1))
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=1)
