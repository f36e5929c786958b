"""Price series: raw CSV rows -> scaled ``[B, C, L]`` windows, and scaled forecasts -> prices.

The stateless transforms (:func:`log_returns`, :func:`forecast_targets`, :func:`to_price`) are written once here;
:class:`StocksPreprocessor` holds their settings and the scalers fitted on the training rows, and is what the
datamodule, the task's metrics, ``predict.py`` and the export sidecar all use.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqconv.data.preprocessor import Preprocessor
from seqconv.data.scaling import StandardScaler
from seqconv.data.stocks.ohlcv import day_string, normalize_column, read_ohlcv
from seqconv.errors import ConfigError, DataError

__all__ = ["TRANSFORMS", "StocksPreprocessor", "forecast_targets", "log_returns", "to_price"]

TRANSFORMS = ("log_return", "level")


def log_returns(values: np.ndarray) -> np.ndarray:
    """``[N, C]`` positive levels -> ``[N - 1, C]`` log returns; row ``j`` is ``log(v[j + 1] / v[j])``."""
    return np.diff(np.log(values), axis=0)


def forecast_targets(prices: np.ndarray, horizon: int, transform: str) -> np.ndarray:
    """The value to forecast from each step ``t`` of ``[N]`` prices: the level at ``t + horizon`` (``level``) or
    ``log(p[t + horizon] / p[t])`` (``log_return``); NaN where ``t + horizon`` is past the end."""
    out = np.full(len(prices), np.nan)
    ahead = prices[horizon:]
    out[: len(ahead)] = ahead if transform == "level" else np.log(ahead / prices[: len(ahead)])
    return out


def to_price(scaled: torch.Tensor, last: torch.Tensor, transform: str, mean: float, std: float) -> torch.Tensor:
    """Scaled forecasts ``[B]`` -> prices ``[B]``, given the last observed prices ``[B]``.

    ``level``: ``mean + std * y``; ``log_return``: ``last * exp(mean + std * y)``.
    """
    value = scaled * std + mean
    return value if transform == "level" else last * torch.exp(value)


class StocksPreprocessor(Preprocessor):
    """Columns of a price CSV -> scaled windows ``[B, C, window]``; scaled forecasts -> prices.

    Args:
        features: input columns, one channel each (names normalized: lower case, no spaces, ``_`` or ``-``).
        target: the column to forecast.
        transform: ``"log_return"`` (inputs are each feature's log returns, the target the log return from ``t``
            to ``t + horizon``) or ``"level"`` (levels in, the level at ``t + horizon`` out).
        window: input steps per sample.
        horizon: how many steps ahead to forecast.
        date_column: name of the date column.
        feature_scaler: fitted input scaler (``None`` until :meth:`fit`).
        target_scaler: fitted target scaler (``None`` until :meth:`fit`).

    Raises:
        ConfigError: an unknown transform, a window or horizon below 1, or no features; the message names the
            ``data.*`` key.
    """

    domain = "forecasting"

    def __init__(
        self,
        features: Sequence[str] = ("close",),
        target: str = "close",
        transform: str = "log_return",
        window: int = 30,
        horizon: int = 1,
        date_column: str = "date",
        feature_scaler: StandardScaler | None = None,
        target_scaler: StandardScaler | None = None,
    ) -> None:
        if transform not in TRANSFORMS:
            raise ConfigError(f"unknown data.transform={transform!r}; choose one of {list(TRANSFORMS)}")
        if window < 1 or horizon < 1:
            raise ConfigError(f"data.window and data.horizon must be >= 1, got window={window}, horizon={horizon}")
        if not features:
            raise ConfigError("data.features is empty; list at least one column, e.g. data.features=[close]")
        self.features = [normalize_column(c) for c in features]
        self.target, self.date_column = normalize_column(target), normalize_column(date_column)
        self.transform, self.window, self.horizon = transform, int(window), int(horizon)
        self.feature_scaler, self.target_scaler = feature_scaler, target_scaler

    def settings(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "target": self.target,
            "transform": self.transform,
            "window": self.window,
            "horizon": self.horizon,
        }

    def restore(self, state: dict[str, Any], where: str = "the checkpoint") -> StocksPreprocessor:
        """As :meth:`Preprocessor.restore`; the date column is how this data names its dates, so it stays ours."""
        restored = super().restore(state, where)
        restored.date_column = self.date_column
        return restored

    @property
    def columns(self) -> list[str]:
        """Every column read from the CSV: the features, then the target if it is not one of them."""
        return list(dict.fromkeys([*self.features, self.target]))

    @property
    def is_fitted(self) -> bool:
        return self.feature_scaler is not None and self.target_scaler is not None

    @property
    def rows_needed(self) -> int:
        """Raw rows behind one window (log returns take one row more)."""
        return self.window + (1 if self.transform == "log_return" else 0)

    # -- raw rows -> unscaled model values --------------------------------------------------------------------
    def read(self, path: str | Path, nan_policy: str = "error", fitted_model: bool = False) -> pd.DataFrame:
        """The used columns of a price CSV, indexed by date, validated (see :func:`read_ohlcv`); ``fitted_model``
        words a missing column for prediction (what the trained model reads) instead of for the data config."""
        fix = (
            f"the model was trained on {self.columns} (dates in {self.date_column!r}); pass a CSV with them"
            if fitted_model
            else "set data.features / data.target / data.date_column to columns that exist"
        )
        return read_ohlcv(Path(path), self.columns, self.date_column, nan_policy, fix)

    def inputs(self, frame: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
        """``[N, C]`` unscaled model inputs, ``[N]`` target-column prices and their dates.

        Raises:
            DataError: a non-positive value under ``log_return`` (named by column and date).
        """
        prices = frame[self.target].to_numpy(dtype=np.float64)
        values = frame[self.features].to_numpy(dtype=np.float64)
        if self.transform == "level":
            return values, prices, frame.index
        used = frame[self.columns]
        rows, cols = np.nonzero(used.to_numpy() <= 0)
        if rows.size:
            raise DataError(
                f"{source}: column {used.columns[cols[0]]!r} has the non-positive value "
                f"{used.iat[rows[0], cols[0]]} on {day_string(frame.index[rows[0]])}, which has no log return; "
                "drop that column from data.features or use data.transform=level"
            )
        return log_returns(values), prices[1:], frame.index[1:]

    def targets(self, prices: np.ndarray) -> np.ndarray:
        """``[N]`` unscaled targets of the forecasts made at each step (see :func:`forecast_targets`)."""
        return forecast_targets(prices, self.horizon, self.transform)

    # -- fitting and scaling ------------------------------------------------------------------------------------
    def fit(self, inputs: np.ndarray, targets: np.ndarray) -> StocksPreprocessor:
        """Fit both scalers on the training rows only: ``[N, C]`` inputs and ``[N]`` targets (NaN ignored)."""
        targets = np.asarray(targets, dtype=np.float64)
        self.feature_scaler = StandardScaler.fit(inputs)
        self.target_scaler = StandardScaler.fit(targets[~np.isnan(targets)])
        return self

    def _scalers(self) -> tuple[StandardScaler, StandardScaler]:
        if self.feature_scaler is None or self.target_scaler is None:
            raise RuntimeError("the stocks preprocessor is not fitted: call fit() on the training rows first")
        return self.feature_scaler, self.target_scaler

    def scale_inputs(self, inputs: np.ndarray) -> torch.Tensor:
        """``[N, C]`` unscaled inputs -> ``[C, N]`` float32 scaled channels."""
        features, _ = self._scalers()
        return torch.as_tensor(features.transform(inputs).T, dtype=torch.float32).contiguous()  # [N, C] -> [C, N]

    def scale_targets(self, targets: np.ndarray) -> torch.Tensor:
        """``[N]`` unscaled targets -> ``[N]`` float32 scaled targets (NaN stays NaN)."""
        _, target = self._scalers()
        return torch.as_tensor(target.transform(np.asarray(targets)[:, None])[:, 0], dtype=torch.float32)

    # -- serving: the last window of a CSV, and back to prices --------------------------------------------------
    def model_input(self, frame: pd.DataFrame, source: str) -> torch.Tensor:
        """The window that ends at ``frame``'s last row: ``[1, C, window]`` float32.

        Raises:
            DataError: fewer rows than one window needs, or a value the transform cannot take.
        """
        need = self.rows_needed
        if len(frame) < need:
            extra = " (log returns take one row more)" if self.transform == "log_return" else ""
            raise DataError(
                f"{source} has {len(frame)} rows; the model reads windows of {self.window} steps and needs at "
                f"least {need} rows{extra}"
            )
        inputs, _, _ = self.inputs(frame.iloc[-need:], source)
        return self.scale_inputs(inputs)[None]  # [C, window] -> [1, C, window]

    def to_price(self, scaled: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Scaled network outputs ``[B]`` -> prices ``[B]`` (see :func:`to_price`)."""
        _, target = self._scalers()
        return to_price(scaled, last, self.transform, target.mean[0], target.std[0])

    @property
    def task_kwargs(self) -> dict[str, float | str]:
        """How the task maps scaled outputs back to prices: ``target_transform``, ``target_mean``, ``target_std``."""
        _, target = self._scalers()
        return {"target_transform": self.transform, "target_mean": target.mean[0], "target_std": target.std[0]}

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "features": list(self.features),
            "target": self.target,
            "date_column": self.date_column,
            "transform": self.transform,
            "window": self.window,
            "horizon": self.horizon,
            "feature_scaler": self.feature_scaler.to_dict() if self.feature_scaler is not None else None,
            "target_scaler": self.target_scaler.to_dict() if self.target_scaler is not None else None,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StocksPreprocessor:
        scalers = [
            StandardScaler(**s) if s is not None else None for s in (state["feature_scaler"], state["target_scaler"])
        ]
        return cls(
            state["features"],
            state["target"],
            state["transform"],
            state["window"],
            state["horizon"],
            state["date_column"],
            *scalers,
        )

    def describe(self) -> list[str]:
        steps = [
            f"read the CSV columns {self.columns} (names match case-insensitively, ignoring spaces, '_' and '-'), "
            f"dates in {self.date_column!r}, rows in ascending date order",
            "transform 'log_return': x_t = log(v_t / v_(t-1)) per column (one row fewer)"
            if self.transform == "log_return"
            else "transform 'level': x_t = v_t",
            "scale each column: (x - feature_scaler.mean[c]) / feature_scaler.std[c]",
            f"input x: the last {self.window} rows, transposed to [1, C, {self.window}] float32 ([B, C, L])",
        ]
        return [
            *steps,
            f"output y: scaled forecast of {self.target!r} {self.horizon} step(s) ahead (see postprocessing)",
        ]

    def input_spec(self) -> dict[str, Any]:
        return {"layout": "[B, C, L]", "dtype": "float32", "channels": len(self.features)}

    def output_spec(self) -> dict[str, Any]:
        _, target = self._scalers()
        formula = (
            "price = target_mean + target_std * y"
            if self.transform == "level"
            else "price = last_price * exp(target_mean + target_std * y), last_price = the target column's last value"
        )
        return {
            "meaning": "scaled forecast (see formula)",
            "target_transform": self.transform,
            "target_mean": target.mean[0],
            "target_std": target.std[0],
            "formula": formula,
            "forecast_of": f"the {self.target} column {self.horizon} step(s) after the window's last row",
        }
