"""Stock series: OHLCV CSV -> chronological splits -> scaled sliding windows, through :class:`StocksPreprocessor`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from seqconv.data.datamodule import SeqDataModule, batched, check_choice, check_fraction
from seqconv.data.splits import SPLITS
from seqconv.data.stocks.baselines import baseline_forecasts, naive_mae, persistence_residual_quantiles
from seqconv.data.stocks.ohlcv import NAN_POLICIES, day_string
from seqconv.data.stocks.preprocessor import StocksPreprocessor
from seqconv.data.windows import sliding_windows
from seqconv.errors import ConfigError, DataError

__all__ = ["BUILTIN_SP500", "StocksDataModule", "SyntheticStocksDataModule", "WindowDataset"]

log = logging.getLogger(__name__)

BUILTIN_SP500 = "sp500_daily_2000_2020.csv"


class WindowDataset(Dataset):
    """Windows over one chronological split; item ``i`` is the forecast made at the window's last step
    ``t = i + window - 1``.

    Items are dicts: ``x`` ``[C, window]`` scaled features, and every per-row series of ``rows`` taken at ``t``:
    ``y`` ``[H]`` the scaled targets of steps ``1..H``, ``last`` the price at ``t``, ``future`` ``[H]`` the realised
    answers (prices, or absolute returns) and ``base_<name>`` ``[H]`` each baseline's forecasts from ``t``.
    ``__getitems__`` serves a whole batch with one indexing op instead of one call per sample.

    Args:
        features: ``[C, N]`` scaled inputs of the split.
        rows: per-row tensors of the split, ``[N]`` or ``[N, H]``, indexed by the forecast origin.
        window: input steps per sample.
        horizon: forecast steps.
    """

    def __init__(self, features: torch.Tensor, rows: dict[str, torch.Tensor], window: int, horizon: int) -> None:
        count = features.shape[1] - window - horizon + 1
        self.windows = sliding_windows(features, window)[:count]  # [W, C, window], a view
        self.rows, self.window, self.horizon = rows, window, horizon

    def __len__(self) -> int:
        return len(self.windows)

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices)
        end = idx + self.window - 1  # the forecast origin of each window
        return {"x": self.windows[idx], **{key: value[end] for key, value in self.rows.items()}}  # x: [B, C, window]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}


@dataclass
class _Split:
    inputs: np.ndarray  # [N, C] transformed, unscaled
    targets: np.ndarray  # [N, H] targets of the forecasts made at each step (NaN for the last `horizon` steps)
    rows: dict[str, np.ndarray]  # per-row series: last price, realised answers, baselines
    start: pd.Timestamp
    end: pd.Timestamp


class StocksDataModule(SeqDataModule):
    """Forecast one column of a price series from windows of past values.

    Rows are split chronologically (train, then validation, then test), each window lies inside one split,
    and the preprocessor's scalers are fit on the training rows only, so nothing from the evaluation periods
    leaks into training.

    Args:
        path: a Yahoo-format CSV (``Date, Open, High, Low, Close, Adj Close, Volume``); ``None`` uses the
            built-in daily S&P 500, 2000-2020.
        features: input columns, one channel each.
        target: the column to forecast.
        transform: ``"log_return"`` (inputs are log returns of each feature, the target the log return from
            ``t`` to ``t + horizon``) or ``"level"`` (scaled levels in, the scaled level at ``t + horizon`` out).
        window: input steps per sample.
        horizon: steps forecast at once: the network outputs steps ``1..horizon`` (direct multi-horizon).
        target_transform: what is forecast: ``null`` (as ``transform``), ``"log_return"``, ``"level"``, or
            ``"abs_log_return"`` (step ``k``'s absolute one-step log return: volatility).
        season: period in rows of the seasonal naive baseline (e.g. 5 for weekly in daily rows); ``None``: off.
        val_fraction: share of rows for validation when ``val_start`` is unset.
        test_fraction: share of rows for test when ``test_start`` is unset.
        val_start: first date of the validation period (overrides ``val_fraction``).
        test_start: first date of the test period (overrides ``test_fraction``).
        cutoff: a walk-forward fold's cutoff date: the last row the model may learn from, and its one forecast
            origin. Training and validation (its last ``val_fraction``) use the rows up to it; the test split is
            the one window that ends there, forecasting the ``horizon`` rows after it; no later row is read.
        train_start: first date of the rows used (a sliding training window); ``None``: from the first row.
        batch_size: samples per batch.
        num_workers: DataLoader worker processes.
        pin_memory: page-locked batches for faster host-to-GPU copies.
        shuffle: shuffle the training windows each epoch (their order within a window never changes).
        nan_policy: ``"error"``, ``"drop"`` or ``"ffill"`` for empty cells.
        date_column: name of the date column.
    """

    def __init__(
        self,
        path: str | None = None,
        features: list[str] = ("close",),  # type: ignore[assignment]
        target: str = "close",
        transform: str = "log_return",
        window: int = 30,
        horizon: int = 1,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        val_start: str | None = None,
        test_start: str | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        shuffle: bool = True,
        nan_policy: str = "error",
        date_column: str = "date",
        target_transform: str | None = None,
        season: int | None = None,
        cutoff: str | None = None,
        train_start: str | None = None,
    ) -> None:
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            check_fraction(key, value)
        if val_fraction + test_fraction >= 1.0:
            raise ConfigError("data.val_fraction + data.test_fraction must leave rows for training (sum < 1)")
        check_choice("nan_policy", nan_policy, NAN_POLICIES)
        if season is not None and season < 1:
            raise ConfigError(f"data.season must be a period of >= 1 rows (or null: off), got {season}")
        preprocessor = StocksPreprocessor(
            features, target, transform, window, horizon, date_column, target_transform=target_transform
        )
        super().__init__(preprocessor, batch_size, num_workers, pin_memory, shuffle)
        self.save_hyperparameters(logger=False)
        self.periods: dict[str, tuple[str, str]] = {}
        self.baselines: tuple[str, ...] = ()
        self.naive_mae = float("nan")
        self._train_residuals: tuple[np.ndarray, np.ndarray] | None = None

    collate_fn = staticmethod(batched)

    # -- sizes that flow into the network and the task ---------------------------------------------------
    @property
    def dims(self) -> dict[str, int]:
        """Network sizes implied by the data: ``in_channels``, ``input_length``, ``out_features``."""
        pre = self.preprocessor
        out = pre.horizon * pre.outputs_per_step  # steps 1..H, each a point or Q quantiles
        return {"in_channels": len(pre.features), "input_length": pre.window, "out_features": out}

    @property
    def task_kwargs(self) -> dict[str, Any]:
        """How the task maps the network's scaled output back (the preprocessor's), the baselines the batches
        carry, MASE's scale and the interval baseline (available after :meth:`setup`)."""
        if not self.preprocessor.is_fitted or self._train_residuals is None:
            raise RuntimeError("call setup() before reading task_kwargs")
        quantiles = self.preprocessor.quantiles
        residual_quantiles = (
            persistence_residual_quantiles(*self._train_residuals, quantiles) if quantiles is not None else None
        )
        return {
            **self.preprocessor.task_kwargs,
            "baselines": list(self.baselines),
            "naive_mae": self.naive_mae,
            "residual_quantiles": residual_quantiles,
        }

    # -- loading ----------------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """Human-readable name of the data source."""
        return self.hparams.path or f"built-in {BUILTIN_SP500}"

    def _load_frame(self) -> pd.DataFrame:
        if self.hparams.path is None:
            with resources.as_file(resources.files("seqconv.datasets") / BUILTIN_SP500) as builtin:
                return self.preprocessor.read(builtin, self.hparams.nan_policy)
        return self.preprocessor.read(Path(self.hparams.path), self.hparams.nan_policy)

    def row_dates(self) -> pd.DatetimeIndex:
        """The dates of the model rows (after the input transform and ``train_start``), without fitting anything:
        what a backtest places its cutoffs on."""
        frame = self._load_frame()
        if self.hparams.train_start is not None:
            frame = frame[frame.index >= pd.Timestamp(self.hparams.train_start)]
        return self.preprocessor.inputs(frame, self.source)[2]

    def _split_bounds(self, dates: pd.DatetimeIndex) -> list[int]:
        n = len(dates)
        val_at = round(n * (1 - self.hparams.val_fraction - self.hparams.test_fraction))
        test_at = round(n * (1 - self.hparams.test_fraction))
        if self.hparams.val_start is not None:
            val_at = int(dates.searchsorted(pd.Timestamp(self.hparams.val_start)))
        if self.hparams.test_start is not None:
            test_at = int(dates.searchsorted(pd.Timestamp(self.hparams.test_start)))
        if not 0 < val_at < test_at < n:
            raise DataError(
                f"{self.source}: the split points give train rows [0, {val_at}), validation [{val_at}, {test_at}) "
                f"and test [{test_at}, {n}); each must be non-empty and in this order "
                "(check data.val_start / data.test_start against the file's dates)"
            )
        return [0, val_at, test_at, n]

    def _cutoff_row(self, dates: pd.DatetimeIndex) -> int:
        """The row of ``cutoff`` (the last date on or before it), checked to leave ``horizon`` rows after it."""
        cutoff, horizon = pd.Timestamp(self.hparams.cutoff), self.preprocessor.horizon
        row = int(dates.searchsorted(cutoff, side="right")) - 1
        if row < 0 or row + horizon >= len(dates):
            raise DataError(
                f"{self.source}: data.cutoff={self.hparams.cutoff} leaves {max(len(dates) - 1 - row, 0)} row(s) "
                f"after it (rows run {day_string(dates[0])} to {day_string(dates[-1])}); a fold needs its "
                f"horizon of {horizon} rows after the cutoff"
            )
        return row

    def _spans(self, dates: pd.DatetimeIndex) -> list[tuple[str, int, int]]:
        """``(split, first row, end row)`` of each split. With ``cutoff``: train and validation up to the cutoff
        row ``c``, and the test split the rows ``[c - window + 1, c + horizon]`` of its one window and targets."""
        if self.hparams.cutoff is None:
            bounds = self._split_bounds(dates)
            return list(zip(SPLITS, bounds[:-1], bounds[1:], strict=True))
        pre, c = self.preprocessor, self._cutoff_row(dates)
        val_at = round((c + 1) * (1 - self.hparams.val_fraction))
        return [("train", 0, val_at), ("val", val_at, c + 1), ("test", c - pre.window + 1, c + pre.horizon + 1)]

    def setup(self, stage: str | None = None) -> None:
        """Read, transform, split and scale the series; build the window datasets of every split, each window
        with its realised answers and every baseline's forecasts."""
        if self.datasets:
            return
        pre = self.preprocessor
        frame = self._load_frame()
        if self.hparams.train_start is not None:
            frame = frame[frame.index >= pd.Timestamp(self.hparams.train_start)]
        inputs, prices, dates = pre.inputs(frame, self.source)
        if self.hparams.cutoff is not None:  # nothing after the fold's test span is read
            end = self._cutoff_row(dates) + pre.horizon + 1
            inputs, prices, dates = inputs[:end], prices[:end], dates[:end]
        spans = self._spans(dates)
        targets = pre.targets(prices)  # [N, H]
        train_end = spans[0][2]
        answers = pre.answers(prices)  # [N]: prices, or |r_t|
        future = pre.realised(prices)  # [N, H]: a[t + k]
        baselines = baseline_forecasts(
            answers, pre.horizon, train_end, self.hparams.season, volatility=pre.answer == "abs_log_return"
        )
        self.baselines = tuple(baselines)
        self.naive_mae = naive_mae(answers[:train_end])
        need = pre.window + pre.horizon
        splits = {}
        for name, lo, hi in spans:
            if lo < 0 or hi - lo < need:
                raise DataError(
                    f"{self.source}: the {name} split has {hi - max(lo, 0)} rows ({day_string(dates[max(lo, 0)])} to "
                    f"{day_string(dates[hi - 1])}), fewer than window + horizon = {pre.window} + {pre.horizon}; "
                    "use a longer series, a shorter data.window, or larger split fractions"
                )
            # targets within the split only: the last `horizon` steps have no future inside it
            split_targets = targets[lo:hi].copy()
            split_targets[-pre.horizon :] = np.nan
            rows = {"last": prices[lo:hi], "future": future[lo:hi]}
            rows.update({f"base_{b}": forecast[lo:hi] for b, forecast in baselines.items()})
            splits[name] = _Split(inputs[lo:hi], split_targets, rows, dates[lo], dates[hi - 1])

        train = splits["train"]
        if not pre.is_fitted:  # a restored (checkpoint) preprocessor keeps its training scalers
            pre.fit(train.inputs, train.targets)
        origins = ~np.isnan(train.targets).any(axis=1) & ~np.isnan(train.rows["base_persistence"]).any(axis=1)
        self._train_residuals = (train.rows["future"][origins], train.rows["base_persistence"][origins])
        for name, split in splits.items():
            rows = {key: torch.tensor(value, dtype=torch.float32) for key, value in split.rows.items()}
            rows["y"] = pre.scale_targets(split.targets)  # [N, H]
            self.datasets[name] = WindowDataset(pre.scale_inputs(split.inputs), rows, pre.window, pre.horizon)
            self.periods[name] = (day_string(split.start), day_string(split.end))
            log.info("%s: %d windows, %s to %s", name, len(self.datasets[name]), *self.periods[name])


class SyntheticStocksDataModule(StocksDataModule):
    """A seeded Gaussian random walk rescaled to ``[low, high]`` (the classic tutorial's 2800-3500 data).

    Args:
        num_points: length of the series.
        seed: random seed of the walk (independent of the training seed).
        low: minimum of the rescaled series.
        high: maximum of the rescaled series.
        **kwargs: as :class:`StocksDataModule` (except ``path``).
    """

    def __init__(
        self, num_points: int = 1000, seed: int = 42, low: float = 2800.0, high: float = 3500.0, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if num_points < 2 or not low < high:
            raise ConfigError(f"need num_points >= 2 and low < high, got {num_points}, {low}, {high}")
        self.save_hyperparameters(logger=False)

    @property
    def source(self) -> str:
        return f"synthetic random walk (seed={self.hparams.seed}, {self.hparams.num_points} points)"

    def _load_frame(self) -> pd.DataFrame:
        walk = np.cumsum(np.random.default_rng(self.hparams.seed).standard_normal(self.hparams.num_points))
        scaled = (walk - walk.min()) / (walk.max() - walk.min())
        close = self.hparams.low + scaled * (self.hparams.high - self.hparams.low)
        dates = pd.bdate_range("2020-01-01", periods=self.hparams.num_points, name="date")
        return pd.DataFrame({column: close for column in self.preprocessor.columns}, index=dates)
