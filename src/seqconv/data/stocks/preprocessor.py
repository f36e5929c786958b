"""Price series: raw CSV rows -> scaled ``[B, C, L]`` windows, and scaled forecasts -> prices (or absolute
returns, for a volatility target).

The stateless transforms (:func:`log_returns`, :func:`forecast_targets`, :func:`split_output`, :func:`to_answer`)
are written once here; :class:`StocksPreprocessor` holds their settings and the scalers fitted on the training
rows, and is what the datamodule, the task's metrics, ``predict.py`` and the export sidecar all use.
"""

from __future__ import annotations

import math
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

__all__ = [
    "TARGET_TRANSFORMS",
    "TRANSFORMS",
    "StocksPreprocessor",
    "check_quantiles",
    "forecast_targets",
    "log_returns",
    "point_index",
    "split_output",
    "to_answer",
]

TRANSFORMS = ("log_return", "level")
# what the network forecasts for step k from origin t: log(p[t+k] / p[t]), p[t+k], or |log(p[t+k] / p[t+k-1])|
TARGET_TRANSFORMS = ("log_return", "level", "abs_log_return")


def log_returns(values: np.ndarray) -> np.ndarray:
    """``[N, C]`` positive levels -> ``[N - 1, C]`` log returns; row ``j`` is ``log(v[j + 1] / v[j])``."""
    return np.diff(np.log(values), axis=0)


def forecast_targets(prices: np.ndarray, horizon: int, transform: str) -> np.ndarray:
    """``[N, horizon]`` unscaled targets of the forecasts made at each step ``t`` of ``[N]`` prices, for steps
    ``k = 1..horizon`` (NaN where ``t + k`` is past the end):

    * ``level``: ``p[t + k]``;
    * ``log_return``: ``log(p[t + k] / p[t])``;
    * ``abs_log_return``: ``|log(p[t + k] / p[t + k - 1])|`` (the size of step ``k``'s return: volatility).
    """
    n = len(prices)
    out = np.full((n, horizon), np.nan)
    for k in range(1, horizon + 1):
        ahead = prices[k:]
        if transform == "level":
            out[: n - k, k - 1] = ahead
        elif transform == "log_return":
            out[: n - k, k - 1] = np.log(ahead / prices[: n - k])
        else:
            out[: n - k, k - 1] = np.abs(np.log(ahead / prices[k - 1 : n - 1]))
    return out


def to_answer(
    scaled: torch.Tensor, last: torch.Tensor, transform: str, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """Scaled network outputs -> the answer in user units: prices (``level``, ``log_return``) or absolute log
    returns (``abs_log_return``, never below 0).

    Args:
        scaled: ``[B, H]`` point forecasts or ``[B, H, Q]`` quantiles (``[B]``: one step).
        last: ``[B]`` the last observed price of each window.
        transform: the target transform.
        mean: ``[H]`` target scaler means, one per step, or ``[B, H]`` each item's own (a panel's series).
        std: ``[H]`` or ``[B, H]`` target scaler standard deviations.

    ``level``: ``mean + std * y``; ``log_return``: ``last * exp(mean + std * y)``; ``abs_log_return``:
    ``max(mean + std * y, 0)``. Each map is increasing, so quantiles stay quantiles.
    """
    trailing = [1] * max(scaled.dim() - 2, 0)  # the quantile axis, if any
    mean_t = torch.as_tensor(mean, dtype=scaled.dtype, device=scaled.device)
    std_t = torch.as_tensor(std, dtype=scaled.dtype, device=scaled.device)
    if mean_t.dim() == 2:  # [B, H] per item -> [B, H(, 1)]
        mean_t, std_t = mean_t.reshape(*mean_t.shape, *trailing), std_t.reshape(*std_t.shape, *trailing)
    else:  # [H] -> [H(, 1)]
        mean_t, std_t = mean_t.reshape(-1, *trailing), std_t.reshape(-1, *trailing)
    value = scaled * std_t + mean_t
    if transform == "level":
        return value
    if transform == "abs_log_return":
        return value.clamp_min(0.0)
    return last.reshape(-1, *[1] * (scaled.dim() - 1)) * torch.exp(value)


def split_output(
    output: torch.Tensor,
    horizon: int,
    quantiles: Sequence[float] | None,
    offsets: torch.Tensor | Sequence[Sequence[float]] | None = None,
) -> torch.Tensor:
    """The network's ``[B, H * Q]`` output as ``[B, H]`` (point forecasts) or ``[B, H, Q]`` (quantiles, sorted
    along ``Q`` so that they never cross).

    ``offsets`` ``[H, Q]`` (scaled units, from conformal calibration; zero at the point level) are added to the
    sorted quantiles, which are then kept monotone around the point level: each lower level is at most the
    levels above it up to the point (a running minimum), each upper level at least those below it (a running
    maximum). The point forecast is therefore the same with or without offsets.
    """
    if not quantiles:
        return output.reshape(len(output), horizon)  # [B, H]
    values = output.reshape(len(output), horizon, len(quantiles)).sort(dim=-1).values  # [B, H * Q] -> [B, H, Q]
    if offsets is None:
        return values
    shifted = values + torch.as_tensor(offsets, dtype=values.dtype, device=values.device)  # + [H, Q]
    p = point_index(quantiles)
    lower = shifted[..., : p + 1].flip(-1).cummin(dim=-1).values.flip(-1)  # [B, H, p + 1], ends at the point
    upper = shifted[..., p:].cummax(dim=-1).values  # [B, H, Q - p], starts at the point
    return torch.cat([lower[..., :p], upper], dim=-1)


def point_index(quantiles: Sequence[float]) -> int:
    """Which quantile level is the point forecast: the median, or the middle level."""
    return list(quantiles).index(0.5) if 0.5 in quantiles else len(quantiles) // 2


def check_quantiles(quantiles: Sequence[float] | None, key: str = "task.quantiles") -> list[float] | None:
    """``quantiles`` as floats, or ``ConfigError`` naming ``key`` unless they are sorted, distinct, in (0, 1)."""
    if quantiles is None:
        return None
    levels = [float(q) for q in quantiles]
    if not levels or any(not 0.0 < q < 1.0 for q in levels) or levels != sorted(set(levels)):
        raise ConfigError(
            f"{key}={list(quantiles)} must be a non-empty, sorted list of distinct levels in (0, 1), e.g. "
            f"{key}=[0.1,0.5,0.9]"
        )
    if 0.5 not in levels and len(levels) % 2 == 0:  # point_index would take the upper of the two middle levels
        half = len(levels) // 2
        suggestion = ",".join(f"{q:g}" for q in [*levels[:half], 0.5, *levels[half:]])
        raise ConfigError(
            f"{key}={list(quantiles)} has no median and no middle level to serve as the point forecast; add 0.5, "
            f"e.g. {key}=[{suggestion}]"
        )
    return levels


class StocksPreprocessor(Preprocessor):
    """Columns of a price CSV -> scaled windows ``[B, C, window]``; scaled forecasts of steps ``1..horizon`` (and
    their quantiles) -> prices, or absolute returns for a volatility target.

    Args:
        features: input columns, one channel each (names normalized: lower case, no spaces, ``_`` or ``-``).
        target: the column to forecast.
        transform: the inputs: ``"log_return"`` (each feature's log returns) or ``"level"``.
        window: input steps per sample.
        horizon: steps forecast at once, ``1..horizon`` (direct multi-horizon: one output per step).
        date_column: name of the date column.
        feature_scaler: fitted input scaler of a single series (or :meth:`fit` it).
        target_scaler: fitted target scaler of a single series, one column per step.
        target_transform: what is forecast (see :func:`forecast_targets`); ``None``: the same as ``transform``.
        quantiles: the quantile levels the network outputs per step (``[B, horizon * Q]``), or ``None`` for one
            point forecast per step (``[B, horizon]``); set by the task that trains the network.

    Raises:
        ConfigError: an unknown transform, a window or horizon below 1, no features, or bad quantiles; the message
            names the config key.
    """

    domain = "forecasting"
    DEFAULT_SERIES = "series"  # the name of a single series fitted without one

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
        target_transform: str | None = None,
        quantiles: Sequence[float] | None = None,
    ) -> None:
        if transform not in TRANSFORMS:
            raise ConfigError(f"unknown data.transform={transform!r}; choose one of {list(TRANSFORMS)}")
        target_transform = target_transform or transform
        if target_transform not in TARGET_TRANSFORMS:
            raise ConfigError(
                f"unknown data.target_transform={target_transform!r}; choose one of {list(TARGET_TRANSFORMS)} "
                "(or null: the same as data.transform)"
            )
        if window < 1 or horizon < 1:
            raise ConfigError(f"data.window and data.horizon must be >= 1, got window={window}, horizon={horizon}")
        if not features:
            raise ConfigError("data.features is empty; list at least one column, e.g. data.features=[close]")
        self.features = [normalize_column(c) for c in features]
        self.target, self.date_column = normalize_column(target), normalize_column(date_column)
        self.transform, self.window, self.horizon = transform, int(window), int(horizon)
        self.target_transform = target_transform
        # per series: (input scaler, target scaler), each fit on that series' own training rows
        self.scalers: dict[str, tuple[StandardScaler, StandardScaler]] = {}
        if feature_scaler is not None and target_scaler is not None:
            self.scalers[self.DEFAULT_SERIES] = (feature_scaler, target_scaler)
        self.quantiles = check_quantiles(quantiles)
        #: ``[H][Q]`` shifts of each step's quantiles in scaled units (``task.calibration=conformal``), or ``None``
        self.quantile_offsets: list[list[float]] | None = None

    def set_quantile_offsets(self, offsets: Sequence[Sequence[float]] | None) -> None:
        """Shift each step's quantiles by ``offsets`` ``[horizon][Q]`` (scaled units) from now on; ``None``
        removes them."""
        if offsets is not None:
            rows = [[float(v) for v in row] for row in offsets]
            width = len(self.quantiles or [])
            if not width or len(rows) != self.horizon or any(len(r) != width for r in rows):
                raise ValueError(f"quantile offsets must be [{self.horizon}][{width}] for this model, got {offsets}")
            if not all(math.isfinite(v) for r in rows for v in r):
                raise ValueError(f"quantile offsets must be finite, got {rows}")
            offsets = rows
        self.quantile_offsets = offsets

    def settings(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "target": self.target,
            "transform": self.transform,
            "target_transform": self.target_transform,
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
        return bool(self.scalers)

    @property
    def series(self) -> list[str]:
        """The series the scalers were fit on (one for a single CSV; a panel's file names)."""
        return list(self.scalers)

    @property
    def feature_scaler(self) -> StandardScaler | None:
        """The input scaler of a single-series model (``None`` before fitting)."""
        return self._scalers()[0] if self.scalers else None

    @feature_scaler.setter
    def feature_scaler(self, scaler: StandardScaler) -> None:
        name = next(iter(self.scalers), self.DEFAULT_SERIES)
        self.scalers[name] = (scaler, self.scalers[name][1] if name in self.scalers else scaler)

    @property
    def target_scaler(self) -> StandardScaler | None:
        """The target scaler of a single-series model (``None`` before fitting)."""
        return self._scalers()[1] if self.scalers else None

    @target_scaler.setter
    def target_scaler(self, scaler: StandardScaler) -> None:
        name = next(iter(self.scalers), self.DEFAULT_SERIES)
        self.scalers[name] = (self.scalers[name][0] if name in self.scalers else scaler, scaler)

    @property
    def rows_needed(self) -> int:
        """Raw rows behind one window (log returns take one row more)."""
        return self.window + (1 if self.transform == "log_return" else 0)

    @property
    def answer(self) -> str:
        """What a forecast is, in words: ``"price"`` or ``"abs_log_return"``."""
        return "abs_log_return" if self.target_transform == "abs_log_return" else "price"

    @property
    def outputs_per_step(self) -> int:
        """Network outputs per forecast step: the number of quantiles, or 1."""
        return len(self.quantiles) if self.quantiles else 1

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
            DataError: a non-positive value where a log is taken (named by column and date).
        """
        prices = frame[self.target].to_numpy(dtype=np.float64)
        values = frame[self.features].to_numpy(dtype=np.float64)
        logged = self.columns if self.transform == "log_return" else []
        if self.target_transform != "level" and self.target not in logged:
            logged = [*logged, self.target]
        if logged:
            used = frame[logged]
            rows, cols = np.nonzero(used.to_numpy() <= 0)
            if rows.size:
                raise DataError(
                    f"{source}: column {used.columns[cols[0]]!r} has the non-positive value "
                    f"{used.iat[rows[0], cols[0]]} on {day_string(frame.index[rows[0]])}, which has no log return; "
                    "drop that column from data.features or use data.transform=level (and data.target_transform=level)"
                )
        if self.transform == "level":
            return values, prices, frame.index
        return log_returns(values), prices[1:], frame.index[1:]

    def targets(self, prices: np.ndarray) -> np.ndarray:
        """``[N, horizon]`` unscaled targets of the forecasts made at each step (see :func:`forecast_targets`)."""
        return forecast_targets(prices, self.horizon, self.target_transform)

    def answers(self, prices: np.ndarray) -> np.ndarray:
        """``[N]`` the series a forecast is judged against, in answer units: the price, or ``|r_t|`` (NaN at 0)."""
        if self.answer == "price":
            return np.asarray(prices, dtype=np.float64)
        out = np.full(len(prices), np.nan)
        out[1:] = np.abs(np.diff(np.log(prices)))
        return out

    def realised(self, prices: np.ndarray) -> np.ndarray:
        """``[N, H]`` the realised answers of steps ``1..H`` from each origin: ``a[t + k]`` of :meth:`answers`."""
        return forecast_targets(self.answers(prices), self.horizon, "level")

    # -- fitting and scaling ------------------------------------------------------------------------------------
    def fit(self, inputs: np.ndarray, targets: np.ndarray, series: str | None = None) -> StocksPreprocessor:
        """Fit a series' scalers on its training rows only: ``[N, C]`` inputs and ``[N, H]`` targets (rows with a
        NaN target, the last ``horizon`` of a split, are left out of the target scaler)."""
        targets = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
        target_scaler = StandardScaler.fit(targets[~np.isnan(targets).any(axis=1)])
        self.scalers[series or self.DEFAULT_SERIES] = (StandardScaler.fit(inputs), target_scaler)
        return self

    def _scalers(self, series: str | None = None) -> tuple[StandardScaler, StandardScaler]:
        """The scalers of ``series``; a single-series model's for any name (it forecasts any series)."""
        if not self.scalers:
            raise RuntimeError("the stocks preprocessor is not fitted: call fit() on the training rows first")
        if series in self.scalers:
            return self.scalers[series]
        if len(self.scalers) == 1:
            return next(iter(self.scalers.values()))
        known = ", ".join(self.scalers)
        if series is None:
            raise ConfigError(f"this model was trained on a panel of series ({known}); say which series to scale")
        raise DataError(
            f"series {series!r} is not one the model was trained on ({known}); each series keeps the scalers of "
            "its own training rows, so name the file after one of them"
        )

    def scale_inputs(self, inputs: np.ndarray, series: str | None = None) -> torch.Tensor:
        """``[N, C]`` unscaled inputs -> ``[C, N]`` float32 scaled channels."""
        features, _ = self._scalers(series)
        return torch.as_tensor(features.transform(inputs).T, dtype=torch.float32).contiguous()  # [N, C] -> [C, N]

    def scale_targets(self, targets: np.ndarray, series: str | None = None) -> torch.Tensor:
        """``[N, H]`` unscaled targets -> ``[N, H]`` float32 scaled targets (NaN stays NaN)."""
        _, target = self._scalers(series)
        targets = np.asarray(targets, dtype=np.float64).reshape(len(targets), -1)
        return torch.as_tensor(target.transform(targets), dtype=torch.float32)

    # -- serving: the last window of a CSV, and back to prices --------------------------------------------------
    def model_input(self, frame: pd.DataFrame, source: str, series: str | None = None) -> torch.Tensor:
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
        return self.scale_inputs(inputs, series)[None]  # [C, window] -> [1, C, window]

    def split_output(self, output: torch.Tensor) -> torch.Tensor:
        """The network's ``[B, H * Q]`` output as ``[B, H]`` or ``[B, H, Q]`` (see :func:`split_output`)."""
        return split_output(output, self.horizon, self.quantiles, self.quantile_offsets)

    def to_answer(self, scaled: torch.Tensor, last: torch.Tensor, series: str | None = None) -> torch.Tensor:
        """Scaled forecasts ``[B, H]`` (or ``[B, H, Q]``) of one series -> prices or absolute returns (see
        :func:`to_answer`)."""
        _, target = self._scalers(series)
        return to_answer(scaled, last, self.target_transform, target.mean, target.std)

    @property
    def task_kwargs(self) -> dict[str, Any]:
        """How the task maps scaled outputs back: ``target_transform``, ``target_mean`` and ``target_std`` per step
        (the first series'; a panel's batches carry each item's own), and the ``horizon``."""
        _, target = next(iter(self.scalers.values())) if self.scalers else self._scalers()
        return {
            "target_transform": self.target_transform,
            "target_mean": list(target.mean),
            "target_std": list(target.std),
            "horizon": self.horizon,
        }

    # -- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "features": list(self.features),
            "target": self.target,
            "date_column": self.date_column,
            "transform": self.transform,
            "target_transform": self.target_transform,
            "window": self.window,
            "horizon": self.horizon,
            "quantiles": self.quantiles,
            "quantile_offsets": self.quantile_offsets,
            "scalers": {
                name: {"feature": feature.to_dict(), "target": target.to_dict()}
                for name, (feature, target) in self.scalers.items()
            },
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> StocksPreprocessor:
        pre = cls(
            state["features"],
            state["target"],
            state["transform"],
            state["window"],
            state["horizon"],
            state["date_column"],
            target_transform=state["target_transform"],
            quantiles=state["quantiles"],
        )
        for name, fitted in state["scalers"].items():
            pre.scalers[name] = (StandardScaler(**fitted["feature"]), StandardScaler(**fitted["target"]))
        pre.set_quantile_offsets(state.get("quantile_offsets"))  # absent in checkpoints before calibration
        return pre

    def describe(self) -> list[str]:
        target = {
            "level": f"the {self.target!r} level",
            "log_return": f"the log return of {self.target!r} from the window's last row",
            "abs_log_return": f"the absolute one-step log return of {self.target!r} (volatility)",
        }[self.target_transform]
        layout = (
            f"[B, {self.horizon} * {len(self.quantiles)}] = steps 1..{self.horizon} x quantiles {self.quantiles}"
            if self.quantiles
            else f"[B, {self.horizon}] = steps 1..{self.horizon}"
        )
        return [
            f"read the CSV columns {self.columns} (names match case-insensitively, ignoring spaces, '_' and '-'), "
            f"dates in {self.date_column!r}, rows in ascending date order",
            "transform 'log_return': x_t = log(v_t / v_(t-1)) per column (one row fewer)"
            if self.transform == "log_return"
            else "transform 'level': x_t = v_t",
            "scale each column with its series' scalers: (x - scalers[series].feature.mean[c]) / "
            "scalers[series].feature.std[c]",
            f"input x: the last {self.window} rows, transposed to [1, C, {self.window}] float32 ([B, C, L])",
            f"output y: {layout}, each the scaled forecast of {target} (see postprocessing)",
        ]

    def input_spec(self) -> dict[str, Any]:
        return {"layout": "[B, C, L]", "dtype": "float32", "channels": len(self.features)}

    def output_spec(self) -> dict[str, Any]:
        single = self._scalers()[1] if len(self.scalers) == 1 else None
        formula = {
            "level": "price_k = target_mean[k] + target_std[k] * y_k",
            "log_return": "price_k = last_price * exp(target_mean[k] + target_std[k] * y_k), last_price = the "
            "target column's last value",
            "abs_log_return": "abs_return_k = max(target_mean[k] + target_std[k] * y_k, 0)",
        }[self.target_transform]
        return {
            "meaning": "scaled forecasts of steps 1..horizon"
            + (" x quantiles (sort each step's)" if self.quantiles else ""),
            "target_transform": self.target_transform,
            "target_mean": list(single.mean) if single else "per series: preprocessing.scalers.<series>.target.mean",
            "target_std": list(single.std) if single else "per series: preprocessing.scalers.<series>.target.std",
            "horizon": self.horizon,
            "quantiles": self.quantiles,
            "quantile_offsets": self.quantile_offsets,
            "formula": formula
            + (
                "; with quantile_offsets: sort y_k's quantiles, add quantile_offsets[k], then keep them monotone "
                "around the point level (below it a running minimum towards it, above it a running maximum)"
                if self.quantile_offsets is not None
                else ""
            ),
            "forecast_of": f"the {self.target} column, steps 1..{self.horizon} after the window's last row",
        }
