"""ForecastingTask: loss, metrics and the persistence baseline around any forecasting network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import CatMetric, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError, MetricCollection
from torchmetrics.classification import BinaryAccuracy

from seqconv.data.stocks.preprocessor import TRANSFORMS, to_price
from seqconv.errors import ConfigError
from seqconv.tasks.base import SPLITS, SeqTask
from seqconv.tasks.figures import plt, publish_figure

__all__ = ["LOSSES", "ForecastingTask"]

LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": F.mse_loss,
    "mae": F.l1_loss,
    "huber": F.huber_loss,
}


def _metrics() -> MetricCollection:
    return MetricCollection(
        {
            "mse": MeanSquaredError(),
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "mape": MeanAbsolutePercentageError(),
        }
    )


class ForecastingTask(SeqTask):
    """Train a network to forecast a price and judge it against the naive persistence forecast.

    The network sees scaled inputs and predicts a scaled target; the loss is computed there. Metrics are in
    price units: predictions are mapped back (``level``: ``mean + std * pred``; ``log_return``:
    ``last * exp(mean + std * pred)``) and compared with the realised price. On the same batches the
    persistence forecast (tomorrow = today's last observed price) is scored as ``*/persistence_mse``, and
    ``*/skill = 1 - mse / persistence_mse`` (> 0 means the model beats persistence).

    Batches are dicts with ``x`` ``[B, C, L]``, ``y`` ``[B]`` scaled target, ``last`` and ``future``
    ``[B]`` prices at the window's end and at the forecast step.

    Args:
        net: the network, ``[B, C, L] -> [B, 1]``.
        optimizer: ``_partial_`` optimizer factory taking ``params``.
        scheduler: optional ``_partial_`` scheduler factory taking ``optimizer``.
        loss: ``"mse"``, ``"mae"`` or ``"huber"``.
        target_transform: ``"level"`` or ``"log_return"``, from the datamodule.
        target_mean: target scaler mean, from the datamodule.
        target_std: target scaler std, from the datamodule.
        monitor: metric a scheduler like ``ReduceLROnPlateau`` watches.
        nonfinite_loss: ``"raise"`` or ``"skip"`` a batch whose training loss is NaN or infinite.
        max_skipped_batches: with ``"skip"``, how many batches may be skipped before training stops.
        train_metrics: also compute the metrics on training batches (only ``train/loss`` otherwise).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        loss: str = "mse",
        target_transform: str = "log_return",
        target_mean: float = 0.0,
        target_std: float = 1.0,
        monitor: str = "val/loss",
        nonfinite_loss: str = "raise",
        max_skipped_batches: int = 10,
        train_metrics: bool = False,
    ) -> None:
        super().__init__(net, optimizer, scheduler, monitor, nonfinite_loss, max_skipped_batches, train_metrics)
        if loss not in LOSSES:
            raise ConfigError(f"unknown task.loss={loss!r}; choose one of {sorted(LOSSES)}")
        if target_transform not in TRANSFORMS:
            raise ConfigError(f"unknown target_transform={target_transform!r}; choose one of {list(TRANSFORMS)}")
        self.save_hyperparameters(logger=False, ignore=["net", "optimizer", "scheduler"])
        self.loss_fn = LOSSES[loss]
        self.metrics = nn.ModuleDict({f"{s}_metrics": _metrics() for s in SPLITS})
        self.persistence = nn.ModuleDict({f"{s}_persistence": MeanSquaredError() for s in SPLITS})
        self.direction = nn.ModuleDict({f"{s}_direction": BinaryAccuracy() for s in SPLITS})
        # the test forecasts, for the forecast-vs-actual figure ([N, 3]: predicted, actual, last observed)
        self.test_series = CatMetric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled forecast: ``[B, C, L] -> [B]``."""
        return self.net(x).squeeze(-1)

    def to_price(self, pred: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Map scaled predictions ``[B]`` back to prices, given the last observed prices ``[B]`` (the
        preprocessor's :func:`~seqconv.data.stocks.to_price`)."""
        hp = self.hparams
        return to_price(pred, last, hp.target_transform, hp.target_mean, hp.target_std)

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pred = self(batch["x"])
        return self.loss_fn(pred, batch["y"]), pred

    def _update_metrics(self, split: str, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        last, future = batch["last"], batch["future"]
        price = self.to_price(outputs.detach().float(), last)
        self.metrics[f"{split}_metrics"].update(price, future)
        self.persistence[f"{split}_persistence"].update(last, future)
        self.direction[f"{split}_direction"].update((price > last).long(), (future > last).long())
        if split == "test":
            self.test_series.update(torch.stack([price, future, last], dim=1))

    def _compute_metrics(self, split: str) -> dict[str, torch.Tensor]:
        values = self.metrics[f"{split}_metrics"].compute()
        values["persistence_mse"] = self.persistence[f"{split}_persistence"].compute()
        values["skill"] = 1.0 - values["mse"] / values["persistence_mse"]
        values["directional_acc"] = self.direction[f"{split}_direction"].compute()
        for group, name in (
            (self.metrics, "metrics"),
            (self.persistence, "persistence"),
            (self.direction, "direction"),
        ):
            group[f"{split}_{name}"].reset()
        return values

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        series = self.test_series.compute().cpu()  # gathered from every rank
        self.test_series.reset()
        if self.trainer.is_global_zero and len(series):
            self._plot_forecast(series)

    def _plot_forecast(self, series: torch.Tensor) -> None:
        """Predicted and persistence forecasts against the realised prices, in test-split order (a multi-GPU run
        concatenates each rank's share)."""
        predicted, actual, last = series.T.numpy()
        fig, (ax, ax_err) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[2, 1])
        ax.plot(actual, color="black", linewidth=1, label="actual")
        ax.plot(predicted, color="tab:blue", linewidth=1, label="model")
        ax.set_ylabel("price")
        ax.legend(loc="upper left")
        ax_err.plot(abs(predicted - actual), color="tab:blue", linewidth=0.8, label="|model - actual|")
        ax_err.plot(abs(last - actual), color="tab:gray", linewidth=0.8, alpha=0.7, label="|persistence - actual|")
        ax_err.set_xlabel("test window")
        ax_err.set_ylabel("abs. error")
        ax_err.legend(loc="upper left")
        fig.tight_layout()
        publish_figure(self, fig, "forecast")
