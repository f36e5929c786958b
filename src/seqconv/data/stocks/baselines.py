"""Naive forecasts to put beside every model number: persistence, drift, historic mean, seasonal naive, EWMA.

Each is computed from the answer series ``a`` (prices, or absolute log returns for a volatility target) for every
forecast origin ``t`` and step ``k = 1..H``, from ``a[<= t]`` and statistics of the training rows only, so a
baseline never sees what it forecasts. Names follow darts (``NaiveSeasonal``, ``NaiveDrift``, ``NaiveMean``) and
RiskMetrics (EWMA, lambda = 0.94).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BASELINES", "EWMA_LAMBDA", "baseline_forecasts", "naive_mae", "persistence_residual_quantiles"]

BASELINES = ("persistence", "drift", "mean", "seasonal", "ewma")
EWMA_LAMBDA = 0.94  # RiskMetrics (J.P. Morgan 1996), daily data


def _persistence(a: np.ndarray, horizon: int) -> np.ndarray:
    return np.repeat(a[:, None], horizon, axis=1)  # [N] -> [N, H]


def _drift(a: np.ndarray, horizon: int) -> np.ndarray:
    """The line through the first observation and ``a[t]``, extended ``k`` steps (darts' ``NaiveDrift``)."""
    finite = np.flatnonzero(np.isfinite(a))
    first = int(finite[0]) if finite.size else 0
    steps = np.arange(len(a)) - first
    slope = np.where(steps > 0, (a - a[first]) / np.maximum(steps, 1), 0.0)  # [N]
    return a[:, None] + slope[:, None] * np.arange(1, horizon + 1)[None, :]  # [N, H]


def _seasonal(a: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """``a[t + k - season * ceil(k / season)]``: the last value one season before the forecast step."""
    k = np.arange(1, horizon + 1)
    index = np.arange(len(a))[:, None] + k[None, :] - season * np.ceil(k / season).astype(int)[None, :]  # [N, H]
    out = np.full(index.shape, np.nan)
    valid = index >= 0
    out[valid] = a[index[valid]]
    return out


def _ewma_abs_return(a: np.ndarray, horizon: int, lam: float) -> np.ndarray:
    """RiskMetrics variance ``s2_t = lam * s2_(t-1) + (1 - lam) * r_t^2`` (started at the first ``r^2``), as the
    expected absolute return of a normal with that variance, ``sqrt(2 / pi) * s_t``, flat over the steps."""
    s2 = np.full(len(a), np.nan)
    level = math.nan
    for t, value in enumerate(a):
        if np.isfinite(value):
            level = value**2 if math.isnan(level) else lam * level + (1 - lam) * value**2
        s2[t] = level
    return _persistence(np.sqrt(2 / np.pi) * np.sqrt(s2), horizon)


def baseline_forecasts(
    answers: np.ndarray, horizon: int, train_end: int, season: int | None = None, volatility: bool = False
) -> dict[str, np.ndarray]:
    """Every applicable baseline's ``[N, H]`` forecasts from each origin of the ``[N]`` answer series.

    Args:
        answers: the series forecasts are judged against (prices, or ``|r_t|``).
        horizon: steps per forecast.
        train_end: the training rows are ``[0, train_end)`` (the historic mean is theirs).
        season: period of the seasonal naive forecast in rows; ``None`` leaves it out.
        volatility: also the EWMA forecast (for absolute-return targets).
    """
    answers = np.asarray(answers, dtype=np.float64)
    out = {
        "persistence": _persistence(answers, horizon),
        "drift": _drift(answers, horizon),
        "mean": np.full((len(answers), horizon), np.nanmean(answers[:train_end])),
    }
    if season:
        out["seasonal"] = _seasonal(answers, horizon, season)
    if volatility:
        out["ewma"] = _ewma_abs_return(answers, horizon, EWMA_LAMBDA)
    return out


def naive_mae(train_answers: np.ndarray) -> float:
    """The in-sample one-step naive MAE of the training rows: MASE's scale (Hyndman & Koehler 2006)."""
    diffs = np.abs(np.diff(np.asarray(train_answers, dtype=np.float64)))
    diffs = diffs[np.isfinite(diffs)]
    return float(diffs.mean()) if diffs.size else math.nan


def persistence_residual_quantiles(
    actual: np.ndarray, persistence: np.ndarray, quantiles: list[float]
) -> list[list[float]]:
    """``[H][Q]`` empirical quantiles of the training residuals ``actual - persistence`` per step: the interval
    baseline is persistence plus these."""
    residuals = np.asarray(actual, dtype=np.float64) - np.asarray(persistence, dtype=np.float64)  # [N, H]
    return [np.nanquantile(residuals[:, k], quantiles).tolist() for k in range(residuals.shape[1])]
