"""Forecast scores that torchmetrics has no object for: per-step errors of a multi-horizon forecast, and the
quantile scores of an interval forecast (pinball loss, coverage, width, CRPS from the quantiles)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchmetrics import Metric

__all__ = ["QuantileScores", "StepErrors", "pinball_loss"]


def pinball_loss(quantiles: torch.Tensor, target: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Mean pinball (quantile) loss: ``max(q * (y - f), (q - 1) * (y - f))`` averaged over every item, step and
    level.

    Args:
        quantiles: ``[..., Q]`` forecast quantiles.
        target: ``[...]`` realised values.
        levels: ``[Q]`` quantile levels in (0, 1).
    """
    diff = target.unsqueeze(-1) - quantiles  # [..., Q]
    return torch.maximum(levels * diff, (levels - 1) * diff).mean()


class StepErrors(Metric):
    """Squared, absolute and symmetric percentage errors of ``[B, H]`` forecasts, summed per step ``1..H``, and the
    absolute errors scaled per item (MASE, when :meth:`update` gets a scale).

    :meth:`compute` returns ``sq``, ``abs`` and ``smape`` (each ``[H]``, a mean over the items), ``count``, and
    the sums ``scaled_abs`` and ``scaled_count``
    (torchmetrics squeezes one-element results: :meth:`per_step` keeps the ``[H]`` shape).
    """

    full_state_update = False

    def __init__(self, horizon: int) -> None:
        super().__init__()
        for name in ("sq", "abs", "smape", "count", "scaled_abs", "scaled_count"):
            self.add_state(name, default=torch.zeros(horizon, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, forecast: torch.Tensor, actual: torch.Tensor, scale: torch.Tensor | None = None) -> None:
        """``[B, H]`` forecasts and realised values; ``scale`` ``[B]`` divides each item's absolute errors."""
        forecast, actual = forecast.double(), actual.double()  # [B, H]
        error = forecast - actual
        if scale is not None:
            self.scaled_abs += (error.abs() / scale.double().unsqueeze(1)).sum(dim=0)
            self.scaled_count += torch.full_like(self.scaled_count, float(len(forecast)))
        denominator = forecast.abs() + actual.abs()
        self.sq += (error**2).sum(dim=0)
        self.abs += error.abs().sum(dim=0)
        self.smape += torch.where(denominator > 0, 2 * error.abs() / denominator, 0.0).sum(dim=0)
        self.count += torch.full_like(self.count, float(len(forecast)))

    def compute(self) -> dict[str, torch.Tensor]:
        count = self.count.clamp_min(1)
        return {
            "sq": self.sq / count,
            "abs": self.abs / count,
            "smape": self.smape / count,
            "count": self.count,
            "scaled_abs": self.scaled_abs,
            "scaled_count": self.scaled_count,
        }

    def per_step(self) -> dict[str, torch.Tensor]:
        """:meth:`compute` with every value ``[H]``, also for ``H = 1``."""
        return {key: value.reshape(-1) for key, value in self.compute().items()}


class QuantileScores(Metric):
    """Pinball loss, coverage of ``[lowest, highest]`` quantile and that interval's width, for ``[B, H, Q]``
    quantile forecasts of ``[B, H]`` realised values.

    :meth:`compute` returns ``pinball`` (mean over items, steps and levels), ``coverage`` (share of realised
    values inside the interval), ``interval_width`` (its mean width), ``crps`` (``2 * pinball``: the CRPS of the
    quantile forecast, approximated by its quantile levels) and ``nominal_coverage`` (highest - lowest level).
    """

    full_state_update = False

    def __init__(self, levels: Sequence[float]) -> None:
        super().__init__()
        self.levels = torch.tensor(list(levels), dtype=torch.float64)
        for name in ("pinball", "covered", "width", "count"):
            self.add_state(name, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, quantiles: torch.Tensor, actual: torch.Tensor) -> None:
        quantiles, actual = quantiles.double(), actual.double()  # [B, H, Q], [B, H]
        count = actual.numel()
        self.pinball += pinball_loss(quantiles, actual, self.levels.to(quantiles.device)) * count
        low, high = quantiles[..., 0], quantiles[..., -1]
        self.covered += ((actual >= low) & (actual <= high)).sum()
        self.width += (high - low).sum()
        self.count += count

    def compute(self) -> dict[str, torch.Tensor]:
        count = self.count.clamp_min(1)
        pinball = self.pinball / count
        return {
            "pinball": pinball,
            "coverage": self.covered / count,
            "nominal_coverage": (self.levels[-1] - self.levels[0]).to(pinball.device),
            "interval_width": self.width / count,
            "crps": 2 * pinball,
        }
