"""Sliding windows as strided views: no Python loop per sample, no copy of the series per window."""

from __future__ import annotations

import torch

__all__ = ["sliding_windows"]


def sliding_windows(series: torch.Tensor, length: int, step: int = 1) -> torch.Tensor:
    """All windows of ``length`` consecutive steps of a ``[C, N]`` series, as a view.

    Window ``i`` is ``series[:, i * step : i * step + length]``.

    Returns:
        ``[num_windows, C, length]`` sharing storage with ``series``; ``num_windows = (N - length) // step + 1``.
    """
    if series.dim() != 2:
        raise ValueError(f"sliding_windows expects a [C, N] series, got shape {tuple(series.shape)}")
    if length > series.shape[1]:
        raise ValueError(f"window length {length} exceeds the series length {series.shape[1]}")
    return series.unfold(1, length, step).transpose(0, 1)  # [C, W, length] -> [W, C, length]
