"""Stock series: OHLCV CSV -> chronological splits -> scaled sliding windows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from seqconv.data.loaders import make_loader
from seqconv.data.ohlcv import day_string, normalize_column, read_ohlcv
from seqconv.data.scaling import StandardScaler
from seqconv.data.windows import sliding_windows
from seqconv.errors import DataError

__all__ = ["BUILTIN_SP500", "TRANSFORMS", "StocksDataModule", "SyntheticStocksDataModule", "WindowDataset"]

log = logging.getLogger(__name__)

BUILTIN_SP500 = "sp500_daily_2000_2020.csv"
TRANSFORMS = ("log_return", "level")
SPLITS = ("train", "val", "test")


class WindowDataset(Dataset):
    """Windows over one chronological split; item ``i`` ends at step ``t = i + window - 1``.

    Items are dicts: ``x`` ``[C, window]`` scaled features, ``y`` the scaled target for ``t + horizon``,
    ``last`` the price at ``t`` (what persistence forecasts) and ``future`` the price at ``t + horizon``.
    ``__getitems__`` serves a whole batch with one indexing op instead of one call per sample.
    """

    def __init__(
        self, features: torch.Tensor, targets: torch.Tensor, prices: torch.Tensor, window: int, horizon: int
    ) -> None:
        count = features.shape[1] - window - horizon + 1
        self.windows = sliding_windows(features, window)[:count]  # [W, C, window], a view
        self.targets, self.prices = targets, prices
        self.window, self.horizon = window, horizon

    def __len__(self) -> int:
        return len(self.windows)

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices)
        end = idx + self.window - 1
        return {
            "x": self.windows[idx],  # [B, C, window]
            "y": self.targets[end],
            "last": self.prices[end],
            "future": self.prices[end + self.horizon],
        }

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}


def _batched(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Collate for ``__getitems__``: the dataset already returns a batch."""
    return batch


@dataclass
class _Split:
    features: np.ndarray  # [N, C] transformed, unscaled
    prices: np.ndarray  # [N] target column level at each step
    targets: np.ndarray  # [N] target for the forecast made at each step (NaN for the last `horizon` steps)
    start: pd.Timestamp
    end: pd.Timestamp


class StocksDataModule(L.LightningDataModule):
    """Forecast one column of a price series from windows of past values.

    Rows are split chronologically (train, then validation, then test), each window lies inside one split,
    and the scalers are fit on the training rows only, so nothing from the evaluation periods leaks into
    training.

    Args:
        path: a Yahoo-format CSV (``Date, Open, High, Low, Close, Adj Close, Volume``); ``None`` uses the
            built-in daily S&P 500, 2000-2020.
        features: input columns, one channel each.
        target: the column to forecast.
        transform: ``"log_return"`` (inputs are log returns of each feature, the target the log return from
            ``t`` to ``t + horizon``) or ``"level"`` (scaled levels in, the scaled level at ``t + horizon`` out).
        window: input steps per sample.
        horizon: how many steps ahead to forecast.
        val_fraction: share of rows for validation when ``val_start`` is unset.
        test_fraction: share of rows for test when ``test_start`` is unset.
        val_start: first date of the validation period (overrides ``val_fraction``).
        test_start: first date of the test period (overrides ``test_fraction``).
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
    ) -> None:
        super().__init__()
        if transform not in TRANSFORMS:
            raise DataError(f"unknown data.transform={transform!r}; choose one of {list(TRANSFORMS)}")
        if window < 1 or horizon < 1:
            raise DataError(f"data.window and data.horizon must be >= 1, got window={window}, horizon={horizon}")
        if not features:
            raise DataError("data.features is empty; list at least one column, e.g. data.features=[close]")
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0.0 < value < 1.0:
                raise DataError(f"data.{key} must be in (0, 1), got {value}")
        if val_fraction + test_fraction >= 1.0:
            raise DataError("data.val_fraction + data.test_fraction must leave rows for training (sum < 1)")
        self.save_hyperparameters(logger=False)
        self.features = [normalize_column(c) for c in features]
        self.target = normalize_column(target)
        self.transform, self.window, self.horizon = transform, window, horizon
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.feature_scaler: StandardScaler | None = None
        self.target_scaler: StandardScaler | None = None
        self.datasets: dict[str, WindowDataset] = {}
        self.periods: dict[str, tuple[str, str]] = {}

    # -- sizes that flow into the network and the task ---------------------------------------------------
    @property
    def dims(self) -> dict[str, int]:
        """Network sizes implied by the data: ``in_channels``, ``input_length``, ``out_features``."""
        return {"in_channels": len(self.features), "input_length": self.window, "out_features": 1}

    @property
    def task_kwargs(self) -> dict[str, float | str]:
        """How the task maps the network's scaled output back to prices (available after :meth:`setup`)."""
        if self.target_scaler is None:
            raise RuntimeError("call setup() before reading task_kwargs")
        return {
            "target_transform": self.transform,
            "target_mean": self.target_scaler.mean[0],
            "target_std": self.target_scaler.std[0],
        }

    # -- loading ----------------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """Human-readable name of the data source."""
        return self.hparams.path or f"built-in {BUILTIN_SP500}"

    def _load_frame(self) -> pd.DataFrame:
        columns = list(dict.fromkeys([*self.features, self.target]))
        if self.hparams.path is None:
            with resources.as_file(resources.files("seqconv.datasets") / BUILTIN_SP500) as builtin:
                return read_ohlcv(builtin, columns, self.hparams.date_column, self.hparams.nan_policy)
        return read_ohlcv(Path(self.hparams.path), columns, self.hparams.date_column, self.hparams.nan_policy)

    def _transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
        """``[N, C]`` model inputs (unscaled), ``[N]`` target-column prices, and their dates."""
        prices = frame[self.target].to_numpy()
        values = frame[self.features].to_numpy()
        if self.transform == "level":
            return values, prices, frame.index
        used = frame[list(dict.fromkeys([*self.features, self.target]))]
        rows, cols = np.nonzero(used.to_numpy() <= 0)
        if rows.size:
            raise DataError(
                f"{self.source}: column {used.columns[cols[0]]!r} has the non-positive value "
                f"{used.iat[rows[0], cols[0]]} on {day_string(frame.index[rows[0]])}, which has no log return; "
                "drop that column from data.features or use data.transform=level"
            )
        return np.diff(np.log(values), axis=0), prices[1:], frame.index[1:]  # row j: log(v[j] / v[j-1])

    def _targets(self, prices: np.ndarray) -> np.ndarray:
        """The value to forecast from each step ``t`` (NaN where ``t + horizon`` is past the end)."""
        out = np.full(len(prices), np.nan)
        ahead = prices[self.horizon :]
        out[: len(ahead)] = ahead if self.transform == "level" else np.log(ahead / prices[: len(ahead)])
        return out

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

    def setup(self, stage: str | None = None) -> None:
        """Read, transform, split and scale the series; build the window datasets of every split."""
        if self.datasets:
            return
        values, prices, dates = self._transform(self._load_frame())
        targets = self._targets(prices)
        bounds = self._split_bounds(dates)
        need = self.window + self.horizon
        splits = {}
        for name, lo, hi in zip(SPLITS, bounds[:-1], bounds[1:], strict=True):
            if hi - lo < need:
                raise DataError(
                    f"{self.source}: the {name} split has {hi - lo} rows ({day_string(dates[lo])} to "
                    f"{day_string(dates[hi - 1])}), fewer than window + horizon = {self.window} + {self.horizon}; "
                    "use a longer series, a shorter data.window, or larger split fractions"
                )
            # targets within the split only: the last `horizon` steps have no future inside it
            split_targets = targets[lo:hi].copy()
            split_targets[-self.horizon :] = np.nan
            splits[name] = _Split(values[lo:hi], prices[lo:hi], split_targets, dates[lo], dates[hi - 1])

        train = splits["train"]
        if self.feature_scaler is None or self.target_scaler is None:
            self.feature_scaler = StandardScaler.fit(train.features)
            self.target_scaler = StandardScaler.fit(train.targets[~np.isnan(train.targets)])
        for name, split in splits.items():
            features = torch.as_tensor(self.feature_scaler.transform(split.features).T, dtype=torch.float32)
            scaled = (split.targets - self.target_scaler.mean[0]) / self.target_scaler.std[0]
            self.datasets[name] = WindowDataset(
                features.contiguous(),  # [C, N]
                torch.tensor(scaled, dtype=torch.float32),
                torch.tensor(split.prices, dtype=torch.float32),
                self.window,
                self.horizon,
            )
            self.periods[name] = (day_string(split.start), day_string(split.end))
            log.info("%s: %d windows, %s to %s", name, len(self.datasets[name]), *self.periods[name])

    # -- loaders ----------------------------------------------------------------------------------------
    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return make_loader(
            self.datasets[split], self.batch_size, shuffle, self.trainer, self.num_workers, self.pin_memory, _batched
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=self.hparams.shuffle)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    # -- the fitted scalers travel with the checkpoint ----------------------------------------------------
    def state_dict(self) -> dict[str, dict[str, list[float]]]:
        if self.feature_scaler is None or self.target_scaler is None:
            return {}
        return {"feature_scaler": self.feature_scaler.to_dict(), "target_scaler": self.target_scaler.to_dict()}

    def load_state_dict(self, state_dict: dict[str, dict[str, list[float]]]) -> None:
        if state_dict:
            self.feature_scaler = StandardScaler(**state_dict["feature_scaler"])
            self.target_scaler = StandardScaler(**state_dict["target_scaler"])


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
            raise DataError(f"need num_points >= 2 and low < high, got {num_points}, {low}, {high}")
        self.save_hyperparameters(logger=False)

    @property
    def source(self) -> str:
        return f"synthetic random walk (seed={self.hparams.seed}, {self.hparams.num_points} points)"

    def _load_frame(self) -> pd.DataFrame:
        walk = np.cumsum(np.random.default_rng(self.hparams.seed).standard_normal(self.hparams.num_points))
        scaled = (walk - walk.min()) / (walk.max() - walk.min())
        close = self.hparams.low + scaled * (self.hparams.high - self.hparams.low)
        dates = pd.bdate_range("2020-01-01", periods=self.hparams.num_points, name="date")
        return pd.DataFrame({column: close for column in {*self.features, self.target}}, index=dates)
