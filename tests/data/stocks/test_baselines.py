"""The naive baselines equal hand computations, and never use a value after their forecast origin."""

import math

import numpy as np
import pytest

from seqconv.data.stocks import StocksDataModule, baseline_forecasts, forecast_targets
from seqconv.data.stocks.baselines import EWMA_LAMBDA, naive_mae, persistence_residual_quantiles


def test_each_baseline_equals_a_hand_computation():
    a = np.array([10.0, 12.0, 11.0, 15.0, 14.0])
    out = baseline_forecasts(a, horizon=2, train_end=3, season=2, volatility=True)
    assert set(out) == {"persistence", "drift", "mean", "seasonal", "ewma"}
    np.testing.assert_allclose(out["persistence"][3], [15.0, 15.0])
    np.testing.assert_allclose(out["drift"][3], [15.0 + 5 / 3, 15.0 + 10 / 3])  # slope (15 - 10) / 3
    np.testing.assert_allclose(out["drift"][0], [10.0, 10.0])  # no history yet: flat
    np.testing.assert_allclose(out["mean"][4], [11.0, 11.0])  # the training rows 10, 12, 11
    np.testing.assert_allclose(out["seasonal"][3], [14.0 - 3.0, 15.0])  # a[t + k - 2]: a[2] = 11, a[3] = 15
    assert np.isnan(out["seasonal"][0, 0])  # a[-1] does not exist
    s2 = 10.0**2
    for value in a[1:4]:
        s2 = EWMA_LAMBDA * s2 + (1 - EWMA_LAMBDA) * value**2
    np.testing.assert_allclose(out["ewma"][3], [math.sqrt(2 / math.pi * s2)] * 2)
    assert "seasonal" not in baseline_forecasts(a, 2, 3) and "ewma" not in baseline_forecasts(a, 2, 3)


def test_baselines_never_look_past_their_origin():
    rng = np.random.default_rng(0)
    a = np.abs(rng.normal(size=60))
    changed = a.copy()
    changed[40:] = 99.0  # rewrite everything after origin 39
    before = baseline_forecasts(a, 3, train_end=20, season=5, volatility=True)
    after = baseline_forecasts(changed, 3, train_end=20, season=5, volatility=True)
    for name in before:
        np.testing.assert_array_equal(before[name][:40], after[name][:40], err_msg=name)


def test_abs_log_return_targets_and_the_interval_and_mase_scales():
    p = np.array([100.0, 110.0, 99.0, 99.0, 108.9])
    targets = forecast_targets(p, 2, "abs_log_return")
    np.testing.assert_allclose(targets[0], [abs(np.log(1.1)), abs(np.log(0.9))])
    np.testing.assert_allclose(targets[2], [0.0, abs(np.log(1.1))])
    assert np.isnan(targets[3, 1]) and np.isnan(targets[4]).all()
    assert naive_mae(np.array([1.0, 3.0, 2.0])) == pytest.approx(1.5)
    actual = np.array([[1.0], [2.0], [3.0], [4.0]])
    assert persistence_residual_quantiles(actual, np.zeros((4, 1)), [0.0, 1.0]) == [[1.0, 4.0]]


def _csv(tmp_path, rows: int = 300):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, rows)))
    dates = np.datetime_as_string(np.arange("2001-01-01", rows, dtype="datetime64[D]"))
    path = tmp_path / "s.csv"
    path.write_text("Date,Close\n" + "\n".join(f"{d},{c}" for d, c in zip(dates, close, strict=True)) + "\n")
    return path, close


def test_a_volatility_target_batches_absolute_returns_with_the_ewma_baseline(tmp_path):
    path, close = _csv(tmp_path)
    dm = StocksDataModule(path=str(path), target_transform="abs_log_return", window=10, horizon=2, season=5)
    dm.setup()
    assert dm.task_kwargs["baselines"] == ["persistence", "drift", "mean", "seasonal", "ewma"]
    assert dm.task_kwargs["target_transform"] == "abs_log_return" and dm.dims["out_features"] == 2
    r = np.abs(np.diff(np.log(close)))  # r[j] = |log(p[j + 1] / p[j])|, row j of the log-return inputs
    test = dm.datasets["test"]
    item = test.__getitems__([3])
    origin = round(len(r) * 0.85) + 3 + 9
    np.testing.assert_allclose(item["future"][0].numpy(), r[origin + 1 : origin + 3], rtol=1e-5)
    np.testing.assert_allclose(item["base_persistence"][0].numpy(), [r[origin]] * 2, rtol=1e-5)
