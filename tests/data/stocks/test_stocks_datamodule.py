"""The stocks datamodule: chronological splits, no leakage, correct targets."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqconv.data import DataError, StocksDataModule, SyntheticStocksDataModule


def _csv(tmp_path, close: np.ndarray, name: str = "s.csv"):
    dates = pd.bdate_range("2001-01-01", periods=len(close))
    frame = pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Close": close, "Volume": np.arange(len(close)) + 1.0})
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _walk(n: int, seed: int = 0) -> np.ndarray:
    return 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, n)))


def test_builtin_sp500_splits_chronologically():
    dm = StocksDataModule()
    dm.setup()
    assert dm.periods["train"][0] == "2000-01-04"  # the first day is consumed by the first log return
    assert dm.periods["train"][1] < dm.periods["val"][0] <= dm.periods["val"][1] < dm.periods["test"][0]
    assert dm.periods["test"][1] == "2020-04-17"


@pytest.mark.parametrize("transform", ["log_return", "level"])
def test_targets_match_a_naive_computation(tmp_path, transform):
    close = _walk(300)
    dm = StocksDataModule(path=str(_csv(tmp_path, close)), transform=transform, window=10, horizon=3)
    dm.setup()
    prices = close[1:] if transform == "log_return" else close
    test = dm.datasets["test"]
    test_lo = round(len(prices) * 0.85)
    item = test.__getitems__([0, 5])
    scaler = dm.preprocessor.target_scaler
    assert item["y"].shape == item["future"].shape == (2, 3)  # direct multi-horizon: steps 1..3 at once
    for k, i in enumerate([0, 5]):
        t = test_lo + i + 9  # last step of the window
        assert item["last"][k].item() == pytest.approx(prices[t], rel=1e-6)
        for step in (1, 2, 3):  # each step's target is built by the same transform as one step ahead
            assert item["future"][k, step - 1].item() == pytest.approx(prices[t + step], rel=1e-6)
            raw = prices[t + step] if transform == "level" else np.log(prices[t + step] / prices[t])
            scaled = (raw - scaler.mean[step - 1]) / scaler.std[step - 1]  # one scaler per step
            assert item["y"][k, step - 1].item() == pytest.approx(scaled, rel=1e-4, abs=1e-5)


def test_no_window_or_target_crosses_a_split_boundary(tmp_path):
    close = _walk(400)
    dm = StocksDataModule(path=str(_csv(tmp_path, close)), transform="level", window=20, horizon=5)
    dm.setup()
    bounds = [0, 280, 340, 400]
    for (lo, hi), split in zip(zip(bounds[:-1], bounds[1:], strict=True), ["train", "val", "test"], strict=True):
        ds = dm.datasets[split]
        assert len(ds) == (hi - lo) - 20 - 5 + 1
        last = ds.__getitems__([len(ds) - 1])
        assert last["future"][0, -1].item() == pytest.approx(
            close[hi - 1], rel=1e-6
        )  # the last target is the split's last row
        first = ds.__getitems__([0])
        scaled_first_input = first["x"][0, 0, 0].item()
        assert scaled_first_input == pytest.approx(
            dm.preprocessor.feature_scaler.transform(np.array([[close[lo]]]))[0, 0], rel=1e-5
        )


def test_scaler_is_unaffected_by_test_period_data(tmp_path):
    close = _walk(500)
    changed = close.copy()
    changed[-120:] *= 50  # a wild test period (and part of validation)
    dms = []
    for name, series in (("a.csv", close), ("b.csv", changed)):
        dm = StocksDataModule(path=str(_csv(tmp_path, series, name)), transform="level", window=10)
        dm.setup()
        dms.append(dm)
    assert dms[0].preprocessor.feature_scaler == dms[1].preprocessor.feature_scaler
    assert dms[0].preprocessor.target_scaler == dms[1].preprocessor.target_scaler
    torch.testing.assert_close(dms[0].datasets["train"].windows, dms[1].datasets["train"].windows)
    assert not torch.allclose(dms[0].datasets["test"].windows, dms[1].datasets["test"].windows)


def test_multichannel_features(tmp_path):
    dm = StocksDataModule(path=str(_csv(tmp_path, _walk(200))), features=["Close", "Volume"], window=8)
    dm.setup()
    assert dm.dims == {"in_channels": 2, "input_length": 8, "out_features": 1}
    assert dm.datasets["train"][0]["x"].shape == (2, 8)


def test_series_shorter_than_window_plus_horizon(tmp_path):
    dm = StocksDataModule(path=str(_csv(tmp_path, _walk(60))), window=30)
    with pytest.raises(DataError, match=r"the val split has 9 rows.*fewer than window \+ horizon = 30 \+ 1"):
        dm.setup()


def test_non_positive_values_have_no_log_return(tmp_path):
    close = _walk(100)
    close[50] = 0.0
    dm = StocksDataModule(path=str(_csv(tmp_path, close)))
    with pytest.raises(DataError, match="non-positive value 0.0.*data.transform=level"):
        dm.setup()


def test_split_by_date(tmp_path):
    dm = StocksDataModule(
        path=str(_csv(tmp_path, _walk(300))), window=5, val_start="2001-09-03", test_start="2001-11-01"
    )
    dm.setup()
    assert dm.periods["val"][0] == "2001-09-03"
    assert dm.periods["test"][0] == "2001-11-01"


def test_scalers_round_trip_through_state_dict(tmp_path):
    path = str(_csv(tmp_path, _walk(300)))
    dm = StocksDataModule(path=path)
    dm.setup()
    restored = StocksDataModule(path=path)
    restored.load_state_dict(dm.state_dict())
    assert (
        restored.preprocessor.feature_scaler == dm.preprocessor.feature_scaler
        and restored.preprocessor.target_scaler == dm.preprocessor.target_scaler
    )


def test_synthetic_random_walk_range_and_seed():
    a, b = SyntheticStocksDataModule(transform="level"), SyntheticStocksDataModule(transform="level")
    frame = a._load_frame()
    assert frame["close"].min() == pytest.approx(2800) and frame["close"].max() == pytest.approx(3500)
    assert frame.equals(b._load_frame())
    assert not frame.equals(SyntheticStocksDataModule(seed=1)._load_frame())


def test_the_interval_baseline_and_mase_scale_are_the_training_rows_by_hand(tmp_path):
    """The task's interval baseline (quantiles of actual - persistence per step) and MASE's scale (the one-step
    naive MAE) come from the training rows alone: recomputed by hand, and unchanged by a wild later period."""
    close = _walk(400, seed=3)
    found = []
    for name, series in (("a.csv", close), ("b.csv", np.concatenate([close[:290], close[290:] * 50]))):
        dm = StocksDataModule(path=str(_csv(tmp_path, series, name)), window=10, horizon=2)
        dm.preprocessor.quantiles = [0.1, 0.5, 0.9]
        dm.setup()
        found.append(dm.task_kwargs)
    prices = close[1:]  # the model rows (a log return needs the day before)
    train_rows = round(len(prices) * (1 - 0.15 - 0.15))  # 279 of 399: the first price changed above is row 289
    origins = range(train_rows - 2)  # forecasts whose two steps both lie in the training rows
    by_hand = [np.quantile([prices[t + k] - prices[t] for t in origins], [0.1, 0.5, 0.9]) for k in (1, 2)]
    for kwargs in found:
        np.testing.assert_allclose(kwargs["residual_quantiles"][0], by_hand, rtol=1e-6)
        assert kwargs["naive_mae"] == pytest.approx(np.abs(np.diff(prices[:train_rows])).mean(), rel=1e-9)
