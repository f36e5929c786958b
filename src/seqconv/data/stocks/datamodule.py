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

__all__ = [
    "BUILTIN_SP500",
    "SHORT_SERIES",
    "PanelDataset",
    "StocksDataModule",
    "SyntheticStocksDataModule",
    "WindowDataset",
]

log = logging.getLogger(__name__)

BUILTIN_SP500 = "sp500_daily_2000_2020.csv"
SHORT_SERIES = ("error", "skip")


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
        path: a Yahoo-format CSV (``Date, Open, High, Low, Close, Adj Close, Volume``), a list of them, or a
            folder (every ``*.csv`` in it): a panel of series for one global model, each series with the scalers
            of its own training rows, all split at the same calendar dates; ``None`` uses the built-in daily
            S&P 500, 2000-2020.
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
        on_short_series: a panel series too short for the window and horizon in some split: ``"error"`` (name
            it) or ``"skip"`` it (logged).
    """

    def __init__(
        self,
        path: str | list[str] | None = None,
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
        on_short_series: str = "error",
    ) -> None:
        for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            check_fraction(key, value)
        if val_fraction + test_fraction >= 1.0:
            raise ConfigError("data.val_fraction + data.test_fraction must leave rows for training (sum < 1)")
        check_choice("nan_policy", nan_policy, NAN_POLICIES)
        check_choice("on_short_series", on_short_series, SHORT_SERIES)
        if season is not None and season < 1:
            raise ConfigError(f"data.season must be a period of >= 1 rows (or null: off), got {season}")
        preprocessor = StocksPreprocessor(
            features, target, transform, window, horizon, date_column, target_transform=target_transform
        )
        super().__init__(preprocessor, batch_size, num_workers, pin_memory, shuffle)
        self.save_hyperparameters(logger=False)
        self.periods: dict[str, tuple[str, str]] = {}
        self.baselines: tuple[str, ...] = ()
        self.naive_mae = float("nan")  # the first series' (each row carries its own series')
        self.series_dates: dict[str, pd.DatetimeIndex] = {}  # the model rows' dates of each series used
        self._train_residuals: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    collate_fn = staticmethod(batched)
    builtin_name = Path(BUILTIN_SP500).stem  # the series name of the data without data.path

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
            [persistence_residual_quantiles(*self._train_residuals[name], quantiles) for name in self.series_dates]
            if quantiles is not None
            else None
        )
        return {
            **self.preprocessor.task_kwargs,
            "baselines": list(self.baselines),
            "naive_mae": self.naive_mae,
            "residual_quantiles": residual_quantiles,
            "series": list(self.series_dates),
        }

    # -- loading ----------------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """Human-readable name of the data source."""
        path = self.hparams.path
        if path is not None and not isinstance(path, str):  # a list of CSVs
            return f"data.path=[{', '.join(map(str, path))}]"
        return path or f"built-in {BUILTIN_SP500}"

    def _series_files(self) -> list[Path]:
        """The CSV of every series: one path, a list of paths, or every ``*.csv`` of a folder (sorted)."""
        path = self.hparams.path
        paths = [Path(p) for p in path] if not isinstance(path, str) else [Path(path)]
        if len(paths) == 1 and paths[0].is_dir():
            found = sorted(p for p in paths[0].glob("*.csv") if p.is_file())
            if not found:
                raise DataError(f"data.path={str(paths[0])!r} is a folder without *.csv files; put one CSV per series")
            paths = found
        names = [p.stem for p in paths]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DataError(f"data.path: several files are named {repeated}; a series is named by its file name")
        return paths

    def _load_frame(self) -> pd.DataFrame:
        """The single series' frame (the built-in file, or the one CSV)."""
        if self.hparams.path is None:
            with resources.as_file(resources.files("seqconv.datasets") / BUILTIN_SP500) as builtin:
                return self.preprocessor.read(builtin, self.hparams.nan_policy)
        return self.preprocessor.read(self._series_files()[0], self.hparams.nan_policy)

    def _load_series(self) -> dict[str, pd.DataFrame]:
        """Every series' frame, by name (its file name without ``.csv``), from ``train_start`` on."""
        if self.hparams.path is None:
            frames = {self.builtin_name: self._load_frame()}
        else:
            files = self._series_files()
            if len(files) == 1:
                frames = {files[0].stem: self._load_frame()}
            else:
                frames = {f.stem: self.preprocessor.read(f, self.hparams.nan_policy) for f in files}
        if self.hparams.train_start is not None:
            frames = {k: f[f.index >= pd.Timestamp(self.hparams.train_start)] for k, f in frames.items()}
        return frames

    def _series_rows(self) -> dict[str, tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]]:
        """Each series' unscaled inputs, prices and dates (:meth:`StocksPreprocessor.inputs`)."""
        rows = {}
        for name, frame in self._load_series().items():
            source = self.source if self.hparams.path is None or isinstance(self.hparams.path, str) else name
            rows[name] = self.preprocessor.inputs(frame, source)
        if len(rows) > 1:
            first, last = max(r[2][0] for r in rows.values()), min(r[2][-1] for r in rows.values())
            if first > last:
                spans = {name: f"{day_string(r[2][0])} to {day_string(r[2][-1])}" for name, r in rows.items()}
                raise DataError(f"data.path: the series have no dates in common ({spans}); a panel shares one calendar")
        return rows

    def row_dates(self) -> pd.DatetimeIndex:
        """The dates of the model rows (after the input transform and ``train_start``; a panel's union), without
        fitting anything: what the split fractions and a backtest's cutoffs are placed on."""
        return _calendar(self._series_rows())

    def _cut_dates(self, calendar: pd.DatetimeIndex) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The first validation and test dates, one pair for every series: from ``val_start`` / ``test_start``,
        or the split fractions of ``calendar`` (every model row's date, a panel's union)."""
        n = len(calendar)
        val = calendar[min(round(n * (1 - self.hparams.val_fraction - self.hparams.test_fraction)), n - 1)]
        test = calendar[min(round(n * (1 - self.hparams.test_fraction)), n - 1)]
        if self.hparams.val_start is not None:
            val = pd.Timestamp(self.hparams.val_start)
        if self.hparams.test_start is not None:
            test = pd.Timestamp(self.hparams.test_start)
        return val, test

    def _split_bounds(self, dates: pd.DatetimeIndex, cuts: tuple[pd.Timestamp, pd.Timestamp], source: str) -> list[int]:
        n = len(dates)
        val_at, test_at = (int(dates.searchsorted(cut)) for cut in cuts)
        if not 0 < val_at < test_at < n:
            raise DataError(
                f"{source}: the split points give train rows [0, {val_at}), validation [{val_at}, {test_at}) "
                f"and test [{test_at}, {n}); each must be non-empty and in this order "
                "(check data.val_start / data.test_start against the file's dates)"
            )
        return [0, val_at, test_at, n]

    def _cutoff_row(self, dates: pd.DatetimeIndex, source: str | None = None, cutoff: str | None = None) -> int:
        """The row of ``cutoff`` (default ``data.cutoff``; the last date on or before it), checked to leave
        ``horizon`` rows after it."""
        cutoff = self.hparams.cutoff if cutoff is None else cutoff
        horizon = self.preprocessor.horizon
        row = int(dates.searchsorted(pd.Timestamp(cutoff), side="right")) - 1
        if row < 0 or row + horizon >= len(dates):
            raise DataError(
                f"{source or self.source}: data.cutoff={cutoff} leaves "
                f"{max(len(dates) - 1 - row, 0)} row(s) after it (rows run {day_string(dates[0])} to "
                f"{day_string(dates[-1])}); a fold needs its horizon of {horizon} rows after the cutoff"
            )
        return row

    def _spans(
        self, dates: pd.DatetimeIndex, cuts, source: str, cutoff: str | None = None
    ) -> list[tuple[str, int, int]]:
        """``(split, first row, end row)`` of each split. With a cutoff (``cutoff``, else ``data.cutoff``): train
        and validation up to the cutoff row ``c``, and the test split the rows ``[c - window + 1, c + horizon]`` of
        its one window and targets."""
        cutoff = self.hparams.cutoff if cutoff is None else cutoff
        if cutoff is None:
            bounds = self._split_bounds(dates, cuts, source)
            return list(zip(SPLITS, bounds[:-1], bounds[1:], strict=True))
        pre, c = self.preprocessor, self._cutoff_row(dates, source, cutoff)
        val_at = round((c + 1) * (1 - self.hparams.val_fraction))
        return [("train", 0, val_at), ("val", val_at, c + 1), ("test", c - pre.window + 1, c + pre.horizon + 1)]

    def _check_spans(self, spans: list[tuple[str, int, int]], dates: pd.DatetimeIndex, source: str) -> None:
        """Every split must hold one window and its horizon."""
        pre = self.preprocessor
        for name, lo, hi in spans:
            if lo < 0 or hi - lo < pre.window + pre.horizon:
                first = day_string(dates[max(lo, 0)])
                raise DataError(
                    f"{source}: the {name} split has {hi - max(lo, 0)} rows ({first} to {day_string(dates[hi - 1])}), "
                    f"fewer than window + horizon = {pre.window} + {pre.horizon}; use a longer series, a shorter "
                    "data.window, or larger split fractions"
                )

    def check_folds(self, folds: list[tuple[int, str, str | None]]) -> None:
        """Before a backtest trains anything: raise the error each fold ``(index, cutoff, train_start)`` would
        raise when a panel series is too short for its splits (``data.on_short_series=error``), or when every
        series is (``skip``). One series needs no check here: the fold plan's sizes are its sizes.

        Raises:
            DataError: naming the fold, its cutoff and the series.
        """
        if self.hparams.path is None or len(self._series_files()) < 2:
            return  # without reading the data again
        series = self._series_rows()
        for index, cutoff, train_start in folds:
            left = 0
            for name, (_, _, dates) in series.items():
                if train_start is not None:
                    dates = dates[dates >= pd.Timestamp(train_start)]
                try:
                    if len(dates) == 0:
                        raise DataError(f"{name}: no rows from {train_start} on")
                    self._check_spans(self._spans(dates, None, name, cutoff), dates, name)
                    left += 1
                except DataError as err:
                    if self.hparams.on_short_series == "error":
                        raise DataError(
                            f"fold {index} (cutoff {cutoff}): {err} (or data.on_short_series=skip to leave it out)"
                        ) from None
            if not left:
                raise DataError(f"fold {index} (cutoff {cutoff}): every series is too short for its splits")

    def setup(self, stage: str | None = None) -> None:
        """Read, transform, split and scale every series; build the window datasets of every split, each window
        with its realised answers, every baseline's forecasts and its series' target scale."""
        if self.datasets:
            return
        series = self._series_rows()
        cuts = self._cut_dates(_calendar(series)) if self.hparams.cutoff is None else None
        built: dict[str, dict[str, _Split]] = {}
        for name, (inputs, prices, dates) in series.items():
            source = name if len(series) > 1 else self.source
            try:
                built[name] = self._splits(inputs, prices, dates, cuts, source)
            except DataError as err:
                if len(series) == 1 or self.hparams.on_short_series == "error":
                    hint = " (or data.on_short_series=skip to leave it out)" if len(series) > 1 else ""
                    raise DataError(f"{err}{hint}") from None
                log.warning("series %s left out (data.on_short_series=skip): %s", name, err)
        if not built:
            raise DataError(f"{self.source}: every series is too short for the splits; see the warnings above")
        pre = self.preprocessor
        restored = pre.is_fitted  # a checkpoint's preprocessor keeps the scalers of its training rows
        self._train_residuals = {}
        parts: dict[str, list[WindowDataset]] = {split: [] for split in SPLITS}
        for index, (name, splits) in enumerate(built.items()):
            train = splits["train"]
            if not restored:
                pre.fit(train.inputs, train.targets, name)  # each series' own training rows
            origins = ~np.isnan(train.targets).any(axis=1) & ~np.isnan(train.rows["base_persistence"]).any(axis=1)
            self._train_residuals[name] = (train.rows["future"][origins], train.rows["base_persistence"][origins])
            _, target_scaler = pre._scalers(name)
            scale = naive_mae(pre.answers(series[name][1])[: len(train.inputs)])
            if index == 0:
                self.naive_mae = scale
            for split, part in splits.items():
                rows = {key: torch.tensor(value, dtype=torch.float32) for key, value in part.rows.items()}
                n = len(part.inputs)
                rows["y"] = pre.scale_targets(part.targets, name)  # [N, H]
                rows["target_mean"] = torch.tensor(target_scaler.mean, dtype=torch.float32).expand(n, -1)
                rows["target_std"] = torch.tensor(target_scaler.std, dtype=torch.float32).expand(n, -1)
                rows["naive_mae"] = torch.full((n,), scale, dtype=torch.float32)
                rows["series"] = torch.full((n,), index, dtype=torch.long)
                parts[split].append(WindowDataset(pre.scale_inputs(part.inputs, name), rows, pre.window, pre.horizon))
        self.series_dates = {name: series[name][2] for name in built}
        for split in SPLITS:
            self.datasets[split] = parts[split][0] if len(parts[split]) == 1 else PanelDataset(parts[split])
            starts = [b[split].start for b in built.values()]
            self.periods[split] = (day_string(min(starts)), day_string(max(b[split].end for b in built.values())))
            log.info("%s: %d windows, %s to %s", split, len(self.datasets[split]), *self.periods[split])
        if len(built) > 1:
            log.info("panel of %d series: %s", len(built), ", ".join(built))

    def _splits(self, inputs, prices, dates, cuts, source: str) -> dict[str, _Split]:
        """One series' splits, with its targets, realised answers and baselines."""
        pre = self.preprocessor
        if self.hparams.cutoff is not None:  # nothing after the fold's test span is read
            end = self._cutoff_row(dates, source) + pre.horizon + 1
            inputs, prices, dates = inputs[:end], prices[:end], dates[:end]
        spans = self._spans(dates, cuts, source)
        targets = pre.targets(prices)  # [N, H]
        train_end = spans[0][2]
        answers = pre.answers(prices)  # [N]: prices, or |r_t|
        future = pre.realised(prices)  # [N, H]: a[t + k]
        baselines = baseline_forecasts(
            answers, pre.horizon, train_end, self.hparams.season, volatility=pre.answer == "abs_log_return"
        )
        self.baselines = tuple(baselines)
        self._check_spans(spans, dates, source)
        splits = {}
        for name, lo, hi in spans:
            # targets within the split only: the last `horizon` steps have no future inside it
            split_targets = targets[lo:hi].copy()
            split_targets[-pre.horizon :] = np.nan
            rows = {"last": prices[lo:hi], "future": future[lo:hi]}
            rows.update({f"base_{b}": forecast[lo:hi] for b, forecast in baselines.items()})
            splits[name] = _Split(inputs[lo:hi], split_targets, rows, dates[lo], dates[hi - 1])
        return splits


def _calendar(series: dict[str, tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]]) -> pd.DatetimeIndex:
    """Every series' row dates together (one series: its own)."""
    dates = [rows[2] for rows in series.values()]
    return dates[0] if len(dates) == 1 else pd.DatetimeIndex(sorted(set().union(*dates)))


class PanelDataset(Dataset):
    """The windows of several series' :class:`WindowDataset` as one dataset (item ``i`` of series ``s`` at
    ``offsets[s] + i``); ``__getitems__`` gathers a batch from each series at once, in the asked order."""

    def __init__(self, datasets: list[WindowDataset]) -> None:
        self.datasets = datasets
        self.offsets = np.cumsum([0, *(len(d) for d in datasets)])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        indices = np.asarray(indices)
        owner = np.searchsorted(self.offsets, indices, side="right") - 1  # [B] series of each item
        parts, order = [], []
        for s in np.unique(owner):
            mine = np.flatnonzero(owner == s)
            parts.append(self.datasets[s].__getitems__((indices[mine] - self.offsets[s]).tolist()))
            order.append(mine)
        restore = torch.as_tensor(np.argsort(np.concatenate(order)))  # back to the asked order
        return {key: torch.cat([p[key] for p in parts])[restore] for key in parts[0]}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {key: value[0] for key, value in self.__getitems__([index]).items()}


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

    builtin_name = "synthetic"

    @property
    def source(self) -> str:
        return f"synthetic random walk (seed={self.hparams.seed}, {self.hparams.num_points} points)"

    def _load_frame(self) -> pd.DataFrame:
        walk = np.cumsum(np.random.default_rng(self.hparams.seed).standard_normal(self.hparams.num_points))
        scaled = (walk - walk.min()) / (walk.max() - walk.min())
        close = self.hparams.low + scaled * (self.hparams.high - self.hparams.low)
        dates = pd.bdate_range("2020-01-01", periods=self.hparams.num_points, name="date")
        return pd.DataFrame({column: close for column in self.preprocessor.columns}, index=dates)
