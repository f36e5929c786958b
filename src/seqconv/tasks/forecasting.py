"""ForecastingTask: loss, metrics and every naive baseline around any forecasting network, for direct
multi-horizon point or quantile forecasts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import CatMetric, MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError, MetricCollection
from torchmetrics.classification import BinaryAccuracy

from seqconv.data.stocks.preprocessor import (
    TARGET_TRANSFORMS,
    check_quantiles,
    point_index,
    split_output,
    to_answer,
)
from seqconv.errors import ConfigError
from seqconv.tasks.base import SPLITS, SeqTask
from seqconv.tasks.figures import publish_figure
from seqconv.tasks.forecast_metrics import QuantileScores, StepErrors, pinball_loss

__all__ = ["CALIBRATIONS", "LOSSES", "ForecastingTask"]

CALIBRATIONS = ("conformal",)

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


def _as_list(value: float | Sequence[float], horizon: int, key: str) -> list[float]:
    values = [float(value)] * horizon if isinstance(value, int | float) else [float(v) for v in value]
    if len(values) != horizon:
        raise ConfigError(f"{key} has {len(values)} values for horizon={horizon}; pass one per step")
    return values


class ForecastingTask(SeqTask):
    """Train a network to forecast steps ``1..horizon`` of a series at once and judge it against naive baselines.

    The network sees scaled inputs and predicts scaled targets, ``[B, horizon]`` (or ``[B, horizon * Q]`` for
    ``Q`` quantiles); the loss is computed there (pinball loss for quantiles). Metrics are in answer units: the
    forecasts are mapped back with the preprocessor's :func:`~seqconv.data.stocks.to_answer` (prices, or
    absolute returns for a volatility target) and compared with the realised values. On the same points every
    baseline the batches carry (``base_<name>``: persistence, drift, historic mean, seasonal naive, EWMA) is scored
    as ``*/<name>_mse`` with ``*/skill_<name> = 1 - mse / <name>_mse``; ``*/skill`` is the skill against
    persistence (> 0 beats it). Keys: ``mse``, ``mae``, ``rmse``, ``mape``, ``smape``, ``mase`` (scaled by the
    training rows' naive MAE), ``directional_acc``, per step ``h<k>/mse`` and ``h<k>/skill``, and with quantiles
    ``pinball``, ``coverage``, ``nominal_coverage``, ``interval_width``, ``crps`` beside the interval baseline's
    ``baseline_*`` (persistence plus the training residuals' quantiles).

    Batches are dicts with ``x`` ``[B, C, L]``, ``y`` ``[B, H]`` scaled targets, ``last`` ``[B]`` the price at
    the window's end, ``future`` ``[B, H]`` the realised answers and ``base_<name>`` ``[B, H]``.

    Args:
        net: the network, ``[B, C, L] -> [B, H]`` (or ``[B, H * Q]``).
        optimizer: ``_partial_`` optimizer factory taking ``params``.
        scheduler: optional ``_partial_`` scheduler factory taking ``optimizer``.
        loss: ``"mse"``, ``"mae"`` or ``"huber"`` for point forecasts (quantiles always use the pinball loss).
        quantiles: sorted quantile levels in (0, 1) to forecast, e.g. ``[0.1, 0.5, 0.9]``; ``None``: points. The
            median (or the middle level) is the point forecast.
        calibration: ``"conformal"`` (needs ``quantiles``): ``train.py`` fits per step and level an offset on the
            validation split after training (:func:`~seqconv.tasks.calibration.fit_quantile_offsets`; the point
            level stays as the network gives it) and stores it in the preprocessor, which adds it wherever
            quantiles are read (testing, ``eval.py``, ``predict.py``, the backtest, the export sidecar);
            ``None``: the network's quantiles as they are.
        target_transform: from the datamodule's preprocessor.
        target_mean: target scaler mean per step, from the datamodule.
        target_std: target scaler standard deviation per step, from the datamodule.
        horizon: forecast steps, from the datamodule.
        baselines: names of the baselines the batches carry, from the datamodule.
        naive_mae: the training rows' one-step naive MAE (MASE's scale), from the datamodule.
        residual_quantiles: ``[S][H][Q]`` (or ``[H][Q]`` for one series) quantiles of each series' training
            residuals around persistence (the interval baseline), from the datamodule.
        series: the names of a panel's series, from the datamodule; with more than one, ``*/series/<name>/mse``,
            ``persistence_mse``, ``skill`` (and ``coverage``) are logged per series (batches carry ``series``,
            and each item's own ``target_mean`` / ``target_std`` ``[B, H]``).
        monitor: metric a scheduler like ``ReduceLROnPlateau`` watches.
        nonfinite_loss: ``"raise"`` or ``"skip"`` a batch whose training loss is NaN or infinite.
        max_skipped_batches: with ``"skip"``, how many batches may be skipped before training stops.
        train_metrics: also compute the metrics on training batches (only ``train/loss`` otherwise).
    """

    progress_bar_metrics = ("loss", "mse", "skill")

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        loss: str = "mse",
        quantiles: Sequence[float] | None = None,
        calibration: str | None = None,
        target_transform: str = "log_return",
        target_mean: float | Sequence[float] = 0.0,
        target_std: float | Sequence[float] = 1.0,
        horizon: int = 1,
        baselines: Sequence[str] = ("persistence",),
        naive_mae: float | None = None,
        residual_quantiles: Sequence[Any] | None = None,
        series: Sequence[str] | None = None,
        monitor: str = "val/loss",
        nonfinite_loss: str = "raise",
        max_skipped_batches: int = 10,
        train_metrics: bool = False,
    ) -> None:
        super().__init__(net, optimizer, scheduler, monitor, nonfinite_loss, max_skipped_batches, train_metrics)
        if loss not in LOSSES:
            raise ConfigError(f"unknown task.loss={loss!r}; choose one of {sorted(LOSSES)}")
        if target_transform not in TARGET_TRANSFORMS:
            raise ConfigError(f"unknown target_transform={target_transform!r}; choose one of {list(TARGET_TRANSFORMS)}")
        if horizon < 1:
            raise ConfigError(f"data.horizon must be >= 1, got {horizon}")
        quantiles = check_quantiles(quantiles)
        if calibration is not None and calibration not in CALIBRATIONS:
            raise ConfigError(f"unknown task.calibration={calibration!r}; choose one of {list(CALIBRATIONS)} or null")
        if calibration is not None and quantiles is None:
            raise ConfigError(
                f"task.calibration={calibration} calibrates quantile forecasts, but task.quantiles is null; set "
                "task.quantiles=[0.1,0.5,0.9] or task.calibration=null"
            )
        target_mean = _as_list(target_mean, horizon, "target_mean")
        target_std = _as_list(target_std, horizon, "target_std")
        baselines = list(baselines)
        if "persistence" not in baselines:
            raise ConfigError(f"the batches must carry the persistence baseline, got baselines={baselines}")
        self.save_hyperparameters(logger=False, ignore=["net", "optimizer", "scheduler"])
        self.loss_fn = LOSSES[loss]
        self.horizon, self.quantiles, self.baselines = horizon, quantiles, baselines
        self.calibration = calibration
        self._offsets: list[list[float]] | None = None  # the preprocessor's conformal offsets, while testing
        self.series_names = list(series or [])
        per_series = len(self.series_names) > 1
        self.per_series = nn.ModuleDict(
            {
                f"{split}_{i}_{who}": StepErrors(horizon)
                for split in SPLITS
                for i in range(len(self.series_names) if per_series else 0)
                for who in ("model", "persistence")
            }
        )
        if quantiles is not None:
            self.register_buffer("levels", torch.tensor(quantiles), persistent=False)
            # the point forecast: the median, or the middle level
            self.point = point_index(quantiles)
        self.metrics = nn.ModuleDict({f"{s}_metrics": _metrics() for s in SPLITS})
        self.steps = nn.ModuleDict({f"{s}_{b}": StepErrors(horizon) for s in SPLITS for b in ("model", *baselines)})
        self.direction = nn.ModuleDict({f"{s}_direction": BinaryAccuracy() for s in SPLITS})
        if quantiles is not None:
            self.intervals = nn.ModuleDict(
                {f"{s}_{who}": QuantileScores(quantiles) for s in SPLITS for who in ("model", "baseline")}
            )
        # the step-1 test forecasts, for the forecast figure ([N, 5]: predicted, actual, persistence, low, high)
        self.test_series = CatMetric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled forecasts: ``[B, C, L] -> [B, H]``, or ``[B, H, Q]`` quantiles (sorted: they never cross; while
        testing, shifted by the preprocessor's conformal offsets if it holds any)."""
        return split_output(self.net(x), self.horizon, self.quantiles, self._offsets)

    def to_answer(
        self,
        scaled: torch.Tensor,
        last: torch.Tensor,
        mean: torch.Tensor | None = None,
        std: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scaled forecasts ``[B, H]`` (or ``[B, H, Q]``) -> answer units (the preprocessor's
        :func:`~seqconv.data.stocks.to_answer`), given the last observed prices ``[B]`` and each item's target
        scale ``[B, H]`` (default: the task's, one series)."""
        hp = self.hparams
        mean = hp.target_mean if mean is None else mean
        std = hp.target_std if std is None else std
        return to_answer(scaled, last, hp.target_transform, mean, std)

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pred = self(batch["x"])
        target = batch["y"].reshape(len(pred), self.horizon)  # [B, H]
        if self.quantiles is None:
            return self.loss_fn(pred, target), pred
        return pinball_loss(pred, target, self.levels), pred

    def _update_metrics(self, split: str, outputs: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        answers = self.to_answer(
            outputs.detach().float(), batch["last"], batch.get("target_mean"), batch.get("target_std")
        )
        self.update_scores(split, answers, batch)

    def update_scores(self, split: str, answers: torch.Tensor, batch: dict[str, torch.Tensor]) -> None:
        """Score forecasts already in answer units, ``[B, H]`` or ``[B, H, Q]``, against ``batch["future"]``
        and every baseline in ``batch`` (also used by the backtest, which pools folds fitted with other scalers).

        Optional batch keys: ``base_interval`` ``[B, H, Q]`` the interval baseline (default: persistence plus
        ``residual_quantiles``) and ``naive_mae`` ``[B]`` MASE's scale per item (default: ``naive_mae``).
        """
        last = batch["last"]
        future = batch["future"].reshape(len(last), self.horizon)  # [B, H]
        point = answers if self.quantiles is None else answers[..., self.point]  # [B, H]
        persistence = batch["base_persistence"].reshape(len(last), self.horizon)
        scale = batch.get("naive_mae")
        if scale is None and self.hparams.naive_mae:
            scale = torch.full_like(last, float(self.hparams.naive_mae))
        self.metrics[f"{split}_metrics"].update(point.reshape(-1), future.reshape(-1))
        self.steps[f"{split}_model"].update(point, future, scale)
        for name in self.baselines:
            self.steps[f"{split}_{name}"].update(batch[f"base_{name}"].reshape(len(last), self.horizon), future)
        self.direction[f"{split}_direction"].update(
            (point > persistence).long().reshape(-1), (future > persistence).long().reshape(-1)
        )
        if self.quantiles is not None:
            self.intervals[f"{split}_model"].update(answers, future)
            interval = batch.get("base_interval")
            if interval is None:
                residuals = torch.as_tensor(self.hparams.residual_quantiles, dtype=future.dtype, device=future.device)
                residuals = residuals.reshape(-1, self.horizon, len(self.quantiles))  # [S, H, Q]
                index = batch.get("series", torch.zeros(len(last), dtype=torch.long, device=last.device))
                interval = persistence.unsqueeze(-1) + residuals[index]  # [B, H, Q]
            self.intervals[f"{split}_baseline"].update(interval, future)
        if len(self.per_series) and "series" in batch:
            for i in batch["series"].unique().tolist():
                mine = batch["series"] == i
                self.per_series[f"{split}_{i}_model"].update(point[mine], future[mine])
                self.per_series[f"{split}_{i}_persistence"].update(persistence[mine], future[mine])
        if split == "test":
            low = answers[:, 0, 0] if self.quantiles is not None else point[:, 0]
            high = answers[:, 0, -1] if self.quantiles is not None else point[:, 0]
            self.test_series.update(torch.stack([point[:, 0], future[:, 0], persistence[:, 0], low, high], dim=1))

    def compute_scores(self, split: str) -> dict[str, torch.Tensor]:
        """Every score of ``split`` since the last call (see the class docstring), then reset."""
        return self._compute_metrics(split)

    def _compute_metrics(self, split: str) -> dict[str, torch.Tensor]:
        values = self.metrics[f"{split}_metrics"].compute()
        model = self.steps[f"{split}_model"].per_step()
        values["smape"] = model["smape"].mean().float()
        if model["scaled_count"].sum() > 0:
            values["mase"] = (model["scaled_abs"].sum() / model["scaled_count"].sum()).float()
        for name in self.baselines:
            base = self.steps[f"{split}_{name}"].per_step()
            values[f"{name}_mse"] = base["sq"].mean().float()
            skill = 1.0 - model["sq"].mean() / base["sq"].mean()
            values["skill" if name == "persistence" else f"skill_{name}"] = skill.float()
            if name == "persistence":
                for k in range(self.horizon):
                    values[f"h{k + 1}/mse"] = model["sq"][k].float()
                    values[f"h{k + 1}/skill"] = (1.0 - model["sq"][k] / base["sq"][k]).float()
        values["directional_acc"] = self.direction[f"{split}_direction"].compute()
        for i, name in enumerate(self.series_names if len(self.per_series) else []):
            model_i = self.per_series[f"{split}_{i}_model"].per_step()
            base_i = self.per_series[f"{split}_{i}_persistence"].per_step()
            if model_i["count"].sum() > 0:
                values[f"series/{name}/mse"] = model_i["sq"].mean().float()
                values[f"series/{name}/persistence_mse"] = base_i["sq"].mean().float()
                values[f"series/{name}/skill"] = (1.0 - model_i["sq"].mean() / base_i["sq"].mean()).float()
            self.per_series[f"{split}_{i}_model"].reset()
            self.per_series[f"{split}_{i}_persistence"].reset()
        if self.quantiles is not None:
            values.update({k: v.float() for k, v in self.intervals[f"{split}_model"].compute().items()})
            baseline = self.intervals[f"{split}_baseline"].compute()
            values.update({f"baseline_{k}": v.float() for k, v in baseline.items() if k != "nominal_coverage"})
            for key in ("model", "baseline"):
                self.intervals[f"{split}_{key}"].reset()
        self.metrics[f"{split}_metrics"].reset()
        self.direction[f"{split}_direction"].reset()
        for name in ("model", *self.baselines):
            self.steps[f"{split}_{name}"].reset()
        return values

    def on_test_epoch_start(self) -> None:
        # the calibration predict.py applies: the datamodule's preprocessor, when it holds conformal offsets
        datamodule = self.trainer.datamodule
        pre = datamodule.preprocessor if datamodule is not None else None
        self._offsets = getattr(pre, "quantile_offsets", None) if self.quantiles is not None else None

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self._offsets = None
        series = self.test_series.compute().cpu()  # gathered from every rank
        self.test_series.reset()
        if self.trainer.is_global_zero and len(series):
            self._plot_forecast(series)

    def _plot_forecast(self, series: torch.Tensor) -> None:
        """Step-1 forecasts (with the quantile band) and persistence against the realised values, in test-split
        order (a multi-GPU run concatenates each rank's share)."""
        from seqconv.tasks.figures import plt  # matplotlib loads here, not at import

        predicted, actual, persistence, low, high = series.T.numpy()
        unit = "absolute log return" if self.hparams.target_transform == "abs_log_return" else "price"
        fig, (ax, ax_err) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=[2, 1])
        ax.plot(actual, color="black", linewidth=1, label="actual")
        ax.plot(predicted, color="tab:blue", linewidth=1, label="model (step 1)")
        if self.quantiles is not None:
            levels = f"{self.quantiles[0]:g}-{self.quantiles[-1]:g}"
            ax.fill_between(range(len(low)), low, high, color="tab:blue", alpha=0.2, label=f"model {levels}")
        ax.set_ylabel(unit)
        ax.legend(loc="upper left")
        ax_err.plot(abs(predicted - actual), color="tab:blue", linewidth=0.8, label="|model - actual|")
        ax_err.plot(
            abs(persistence - actual), color="tab:gray", linewidth=0.8, alpha=0.7, label="|persistence - actual|"
        )
        ax_err.set_xlabel("test window")
        ax_err.set_ylabel("abs. error")
        ax_err.legend(loc="upper left")
        fig.tight_layout()
        publish_figure(self, fig, "forecast")
