"""Walk-forward backtests: where the folds cut the series, what each fold forecasts, and the scores over all folds.

A fold is one forecast origin, its **cutoff**: the model and its preprocessor see the rows up to the cutoff only
(expanding from the first row, or a sliding window of ``train_rows``), and forecast steps ``1..horizon`` after
it, beside every baseline (the vocabulary of neuralforecast's ``cross_validation`` and darts'
``historical_forecasts``). Nothing here trains; ``backtest.py`` (:mod:`seqconv.cli.backtest`) fits each fold's
model with ``train.py``'s code and calls these functions to plan, score and write the results.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from seqconv.data.stocks import StocksDataModule, day_string, point_index, to_answer
from seqconv.errors import ConfigError
from seqconv.tasks.forecasting import ForecastingTask
from seqconv.utils.io import write_atomic, write_json_atomic

__all__ = [
    "WINDOWS",
    "Fold",
    "FoldForecast",
    "aggregate_scores",
    "fold_forecast",
    "plan_folds",
    "plot_backtest",
    "read_fold",
    "write_backtest",
    "write_fold",
]

WINDOWS = ("expanding", "sliding")


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold.

    Attributes:
        index: fold number, 0 first (earliest cutoff).
        cutoff: the last date the fold's model learns from, and its forecast origin.
        train_start: first date of its training rows (``None``: the series' first row).
        train_rows: rows up to and including the cutoff that it trains and validates on.
        model_fold: the fold whose model it uses (itself when it refits).
    """

    index: int
    cutoff: str
    train_start: str | None
    train_rows: int
    model_fold: int

    @property
    def refits(self) -> bool:
        return self.model_fold == self.index


def plan_folds(
    dates: pd.DatetimeIndex,
    horizon: int,
    window: int,
    val_fraction: float,
    folds: int = 5,
    step: int | None = None,
    cutoffs: list[str] | None = None,
    mode: str = "expanding",
    train_rows: int | None = None,
    refit: bool = True,
    refit_every: int = 1,
) -> list[Fold]:
    """The folds of a backtest over rows dated ``dates``.

    Args:
        dates: the model rows' dates (:meth:`StocksDataModule.row_dates`).
        horizon: steps forecast from each cutoff.
        window: input steps per sample.
        val_fraction: share of each fold's rows held out (the last ones) for validation.
        folds: how many cutoffs, when ``cutoffs`` is unset: the last leaves exactly ``horizon`` rows after it, the
            others are ``step`` rows apart before it.
        step: rows between cutoffs (``None``: ``horizon``, so the test spans do not overlap).
        cutoffs: explicit cutoff dates (each maps to the last row on or before it), sorted.
        mode: ``"expanding"`` (every row up to the cutoff) or ``"sliding"`` (the last ``train_rows`` rows).
        train_rows: rows per sliding window (``None``: the first fold's expanding window).
        refit: train a model per fold; ``False`` reuses the first fold's model for every fold.
        refit_every: with ``refit``, train at every ``refit_every``-th fold and reuse the last model between.

    Raises:
        ConfigError: bad settings, unsorted or out-of-range cutoffs, or a fold whose training or validation span
            is shorter than ``window + horizon`` (the message names the fold and the sizes).
    """
    if mode not in WINDOWS:
        raise ConfigError(f"unknown backtest.window={mode!r}; choose one of {list(WINDOWS)}")
    if refit_every < 1:
        raise ConfigError(f"backtest.refit_every must be >= 1, got {refit_every}")
    n = len(dates)
    if cutoffs:
        rows = [int(dates.searchsorted(pd.Timestamp(c), side="right")) - 1 for c in cutoffs]
        if rows != sorted(set(rows)):
            raise ConfigError(f"backtest.cutoffs={list(cutoffs)} must be sorted and fall on distinct rows")
        for cutoff, row in zip(cutoffs, rows, strict=True):
            if row < 0 or row + horizon >= n:
                raise ConfigError(
                    f"backtest.cutoffs: {cutoff} is outside the data ({day_string(dates[0])} to "
                    f"{day_string(dates[-1])}) or leaves fewer than horizon={horizon} rows after it"
                )
    else:
        if folds < 1:
            raise ConfigError(f"backtest.folds must be >= 1, got {folds}")
        step = horizon if step is None else step
        if step < 1:
            raise ConfigError(f"backtest.step must be >= 1 row, got {step}")
        last = n - 1 - horizon
        rows = [last - (folds - 1 - i) * step for i in range(folds)]
        if rows[0] < 0:  # the first cutoff would fall before the first row
            raise ConfigError(
                f"backtest.folds={folds} cutoffs {step} rows apart need {(folds - 1) * step + horizon + 1} rows, the "
                f"data has {n} ({day_string(dates[0])} to {day_string(dates[-1])}); use fewer folds or a smaller "
                "backtest.step"
            )
    width = train_rows if train_rows is not None else rows[0] + 1
    plan, model_fold = [], 0
    need = window + horizon
    for i, row in enumerate(rows):
        start = max(row + 1 - width, 0) if mode == "sliding" else 0
        size = row + 1 - start
        val = size - round(size * (1 - val_fraction))
        if size - val < need or val < need:
            raise ConfigError(
                f"fold {i} (cutoff {day_string(dates[row])}): its {size} rows give {size - val} training and {val} "
                f"validation rows, each needing window + horizon = {window} + {horizon}; use fewer folds, a smaller "
                "backtest.step, later cutoffs or a shorter data.window"
            )
        if refit and i % refit_every == 0:
            model_fold = i
        start_date = day_string(dates[start]) if start > 0 else None
        plan.append(Fold(i, day_string(dates[row]), start_date, size, model_fold))
    return plan


@dataclass
class FoldForecast:
    """What one fold forecast from its cutoff, one item per series, in answer units, with the batch it was
    scored on."""

    fold: Fold
    answers: torch.Tensor  # [S, H] or [S, H, Q]
    batch: dict[str, torch.Tensor]  # future, last, base_<name>, base_interval, naive_mae, series
    dates: list[list[str]]  # per series, the dates of steps 1..H
    series: list[str]  # the name of each item's series
    metrics: dict[str, float]


def fold_forecast(
    fold: Fold, net: torch.nn.Module, datamodule: StocksDataModule, task_cfg: dict[str, Any]
) -> FoldForecast:
    """Forecast ``fold``'s horizon of every series with ``net`` from the windows that end at its cutoff, score it
    beside every baseline with the task's own metric code, and keep what the aggregate needs.

    Args:
        fold: the fold.
        net: the fold's trained network in eval mode.
        datamodule: the fold's datamodule, set up with ``cutoff`` (its preprocessor is the model's).
        task_cfg: the run's ``task`` config (quantiles, loss).
    """
    pre = datamodule.preprocessor
    test = datamodule.datasets["test"]
    batch = test.__getitems__(list(range(len(test))))  # one window per series, ending at the cutoff
    with torch.no_grad():
        scaled = pre.split_output(net(batch["x"])).double()
    answers = to_answer(scaled, batch["last"].double(), pre.target_transform, batch["target_mean"], batch["target_std"])
    answers = answers.float()
    names = list(datamodule.series_dates)
    if pre.quantiles is not None:
        residuals = torch.as_tensor(datamodule.task_kwargs["residual_quantiles"])  # [S, H, Q]
        batch["base_interval"] = batch["base_persistence"].unsqueeze(-1) + residuals[batch["series"]]
    task = _scoring_task(task_cfg, datamodule)
    task.update_scores("val", answers, batch)
    metrics = {k: float(v) for k, v in task.compute_scores("val").items()}
    cutoff = pd.Timestamp(fold.cutoff)
    series = [names[i] for i in batch["series"].tolist()]
    dates = []
    for name in series:
        rows = datamodule.series_dates[name]
        after = int(rows.searchsorted(cutoff, side="right"))
        dates.append([day_string(d) for d in rows[after : after + pre.horizon]])
    kept = {k: v for k, v in batch.items() if k != "x"}
    return FoldForecast(fold, answers, kept, dates, series, metrics)


def _scoring_task(task_cfg: dict[str, Any], datamodule: StocksDataModule) -> ForecastingTask:
    """A :class:`ForecastingTask` used only for its metric code (no network, no optimizer)."""
    kwargs = {k: v for k, v in datamodule.task_kwargs.items()}
    return ForecastingTask(torch.nn.Identity(), optimizer=None, quantiles=task_cfg.get("quantiles"), **kwargs)  # type: ignore[arg-type]


def aggregate_scores(forecasts: list[FoldForecast], task_cfg: dict[str, Any], datamodule: StocksDataModule) -> dict:
    """The scores over every fold's forecast points together (each fold mapped back with its own scalers)."""
    task = _scoring_task(task_cfg, datamodule)
    for forecast in forecasts:
        task.update_scores("val", forecast.answers, forecast.batch)
    return {k: float(v) for k, v in task.compute_scores("val").items()}


def forecast_rows(forecast: FoldForecast, quantiles: list[float] | None) -> list[dict[str, Any]]:
    """One row per series and step: series, fold, cutoff, date, step, actual, forecast, each quantile and each
    baseline."""
    rows = []
    baselines = sorted(k[len("base_") :] for k in forecast.batch if k.startswith("base_") and k != "base_interval")
    for item, (series, dates) in enumerate(zip(forecast.series, forecast.dates, strict=True)):
        answers = forecast.answers[item]  # [H] or [H, Q]
        for k, date in enumerate(dates):
            row: dict[str, Any] = {
                "series": series,
                "fold": forecast.fold.index,
                "cutoff": forecast.fold.cutoff,
                "date": date,
                "step": k + 1,
                "actual": float(forecast.batch["future"][item, k]),
            }
            if quantiles:
                middle = point_index(quantiles)
                row["forecast"] = float(answers[k, middle])
                row.update({f"q{q:g}": float(answers[k, j]) for j, q in enumerate(quantiles)})
            else:
                row["forecast"] = float(answers[k])
            row.update({name: float(forecast.batch[f"base_{name}"][item, k]) for name in baselines})
            rows.append(row)
    return rows


def write_fold(path: Path, forecast: FoldForecast, rows: list[dict[str, Any]], checkpoint: str) -> Path:
    """A fold's result, written atomically: what a resumed backtest reads instead of running the fold again."""
    data = {
        "fold": asdict(forecast.fold),
        "checkpoint": checkpoint,
        "metrics": forecast.metrics,
        "rows": rows,
        "answers": forecast.answers.tolist(),
        "batch": {k: v.tolist() for k, v in forecast.batch.items()},
        "dates": forecast.dates,
        "series": forecast.series,
    }
    return write_json_atomic(path, data)


def read_fold(path: Path) -> tuple[FoldForecast, list[dict[str, Any]], str]:
    """The fold result :func:`write_fold` wrote."""
    data = json.loads(path.read_text())
    forecast = FoldForecast(
        Fold(**data["fold"]),
        torch.tensor(data["answers"]),
        {k: torch.tensor(v) for k, v in data["batch"].items()},
        data["dates"],
        data["series"],
        data["metrics"],
    )
    return forecast, data["rows"], data["checkpoint"]


def write_backtest(out: Path, folds: list[dict[str, Any]], aggregate: dict[str, float], rows: list[dict]) -> None:
    """``backtest.json`` (per-fold metrics and cutoffs, the aggregate) and ``backtest.csv`` (every forecast)."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in aggregate.items()}
    write_json_atomic(out / "backtest.json", {"folds": folds, "aggregate": clean})
    buffer = io.StringIO()
    first = ["series", "fold", "cutoff", "date", "step", "actual", "forecast"]
    found = list(dict.fromkeys(key for row in rows for key in row))
    quantiles = sorted((k for k in found if k.startswith("q")), key=lambda k: float(k[1:]))
    fields = [*first, *quantiles, *sorted(set(found) - set(first) - set(quantiles))]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    write_atomic(out / "backtest.csv", lambda f: f.write(text.encode()))


def plot_backtest(out: Path, rows: list[dict[str, Any]], quantiles: list[float] | None, unit: str) -> Path:
    """``backtest.png``: the realised values and each fold's forecast (with its quantile band) on one time axis."""
    from seqconv.tasks.figures import plt

    frame = pd.DataFrame(rows)
    frame["date"] = pd.to_datetime(frame["date"])
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for i, (_, fold) in enumerate(frame.groupby(["series", "fold"])):
        label = "model" if i == 0 else None
        ax.plot(
            fold["date"], fold["actual"], color="black", linewidth=1, marker=".", label="actual" if i == 0 else None
        )
        ax.plot(fold["date"], fold["forecast"], color="tab:blue", linewidth=1.2, label=label)
        ax.plot(fold["date"], fold["persistence"], color="tab:gray", linewidth=0.8, alpha=0.7,
                label="persistence" if i == 0 else None)  # fmt: skip
        if quantiles:
            low, high = f"q{quantiles[0]:g}", f"q{quantiles[-1]:g}"
            band = f"{quantiles[0]:g}-{quantiles[-1]:g}" if i == 0 else None
            ax.fill_between(fold["date"], fold[low], fold[high], color="tab:blue", alpha=0.2, label=band)
    ax.set_ylabel(unit)
    panel = f", {frame['series'].nunique()} series" if frame["series"].nunique() > 1 else ""
    ax.set_title(f"walk-forward backtest: {frame['fold'].nunique()} folds{panel}")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    path = out / "backtest.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
