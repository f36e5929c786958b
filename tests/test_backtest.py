"""Walk-forward folds: each fold's model, scalers, inputs and forecasts depend on nothing after its cutoff, no
test span overlaps its training span, and bad fold settings name the fold and the sizes."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqconv.backtest import aggregate_scores, fold_forecast, plan_folds, plot_backtest
from seqconv.data.stocks import StocksDataModule
from seqconv.errors import ConfigError
from seqconv.models import TCNForecaster

ROWS, WINDOW, HORIZON = 300, 10, 3


def _csv(path, close):
    path.parent.mkdir(parents=True, exist_ok=True)
    dates = pd.bdate_range("2010-01-01", periods=len(close)).strftime("%Y-%m-%d")
    pd.DataFrame({"Date": dates, "Close": close, "Volume": np.linspace(1e6, 2e6, len(close))}).to_csv(path, index=False)
    return path, list(dates)


def _fold(path, cutoff, **kwargs):
    dm = StocksDataModule(path=str(path), cutoff=cutoff, window=WINDOW, horizon=HORIZON, **kwargs)
    dm.setup()
    return dm


@pytest.mark.parametrize(
    ("transform", "target_transform"),
    [("log_return", None), ("level", None), ("log_return", "abs_log_return"), ("level", "log_return")],
)
def test_rewriting_every_value_after_the_cutoff_changes_nothing_the_fold_learns_or_forecasts(
    tmp_path, transform, target_transform
):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, ROWS)))
    original, dates = _csv(tmp_path / "a" / "prices.csv", close)
    cut = 200
    rewritten = close.copy()
    rewritten[cut + 1 :] = rewritten[cut + 1 :] * 1.7 + np.random.default_rng(1).normal(0, 5, ROWS - cut - 1)
    changed, _ = _csv(tmp_path / "b" / "prices.csv", rewritten)  # the same series name
    options = {"transform": transform, "target_transform": target_transform, "features": ["close", "volume"]}
    a, b = _fold(original, dates[cut], **options), _fold(changed, dates[cut], **options)

    assert a.preprocessor.state_dict() == b.preprocessor.state_dict()  # scalers fit on the fold's rows only
    for split in ("train", "val"):
        for key in ("x", "y", "last", "future"):
            items = list(range(len(a.datasets[split])))
            torch.testing.assert_close(
                a.datasets[split].__getitems__(items)[key], b.datasets[split].__getitems__(items)[key]
            )
    test_a, test_b = a.datasets["test"].__getitems__([0]), b.datasets["test"].__getitems__([0])
    torch.testing.assert_close(test_a["x"], test_b["x"])  # the forecast's inputs end at the cutoff
    for key in [k for k in test_a if k.startswith("base_")]:
        torch.testing.assert_close(test_a[key], test_b[key])  # so do the baselines' inputs
    assert not torch.allclose(test_a["future"], test_b["future"])  # the rewrite did reach the forecast span
    torch.manual_seed(0)
    net = TCNForecaster(2, HORIZON, channels=[4, 4]).eval()
    forecast_a = fold_forecast(plan_folds(a.row_dates(), HORIZON, WINDOW, 0.15, cutoffs=[dates[cut]])[0], net, a, {})
    forecast_b = fold_forecast(plan_folds(b.row_dates(), HORIZON, WINDOW, 0.15, cutoffs=[dates[cut]])[0], net, b, {})
    torch.testing.assert_close(forecast_a.answers, forecast_b.answers)
    assert forecast_a.dates == forecast_b.dates == [dates[cut + 1 : cut + 1 + HORIZON]]


def test_no_fold_trains_on_its_test_span_and_folds_walk_forward(tmp_path):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, ROWS)))
    path, dates = _csv(tmp_path / "a.csv", close)
    dm = StocksDataModule(path=str(path), window=WINDOW, horizon=HORIZON)
    plan = plan_folds(dm.row_dates(), HORIZON, WINDOW, 0.15, folds=4, step=20)
    assert [f.cutoff for f in plan] == [dates[ROWS - 1 - HORIZON - 20 * (3 - i)] for i in range(4)]
    for fold in plan:
        fold_dm = _fold(path, fold.cutoff)
        forecast = fold_forecast(fold, torch.nn.Linear(WINDOW, HORIZON).eval(), fold_dm, {})
        assert fold_dm.periods["val"][1] == fold.cutoff  # training and validation end at the cutoff ...
        assert min(forecast.dates[0]) > fold.cutoff  # ... and the forecast span starts after it
    sliding = plan_folds(dm.row_dates(), HORIZON, WINDOW, 0.15, folds=3, step=30, mode="sliding", train_rows=120)
    assert {f.train_rows for f in sliding} == {120} and sliding[0].train_start < sliding[1].train_start
    reuse = plan_folds(dm.row_dates(), HORIZON, WINDOW, 0.15, folds=5, refit_every=2)
    assert [f.model_fold for f in reuse] == [0, 0, 2, 2, 4]
    assert [f.model_fold for f in plan_folds(dm.row_dates(), HORIZON, WINDOW, 0.15, folds=3, refit=False)] == [0] * 3


def test_the_aggregate_pools_every_fold_point(tmp_path):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, ROWS)))
    path, _ = _csv(tmp_path / "a.csv", close)
    plan = plan_folds(StocksDataModule(path=str(path)).row_dates(), HORIZON, WINDOW, 0.15, folds=3, step=15)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(WINDOW, HORIZON)).eval()
    forecasts = [fold_forecast(fold, net, _fold(path, fold.cutoff), {}) for fold in plan]
    aggregate = aggregate_scores(forecasts, {}, _fold(path, plan[-1].cutoff))
    errors = torch.cat([(f.answers - f.batch["future"]).reshape(-1) for f in forecasts])
    assert aggregate["mse"] == pytest.approx(float((errors.double() ** 2).mean()), rel=1e-5)
    persistence = torch.cat([(f.batch["base_persistence"] - f.batch["future"]).reshape(-1) for f in forecasts])
    assert aggregate["persistence_mse"] == pytest.approx(float((persistence.double() ** 2).mean()), rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"folds": 3, "step": 120}, r"fold 0 \(cutoff .*\): its \d+ rows give \d+ training and \d+ validation rows"),
        # the first cutoff would fall before the first row (it wrapped around to the last rows' dates, or crashed)
        ({"folds": 3, "step": 150}, r"backtest.folds=3 cutoffs 150 rows apart need 304 rows, the data has 299 "),
        ({"folds": 3, "step": 1000}, r"need 2004 rows, the data has 299 \(.* to .*\); use fewer folds"),
        ({"cutoffs": ["2010-09-01", "2010-06-01"]}, "must be sorted"),
        ({"cutoffs": ["2030-01-01"]}, "outside the data"),
        ({"mode": "rolling"}, "unknown backtest.window='rolling'"),
        ({"step": 0}, "backtest.step must be >= 1"),
    ],
)
def test_bad_fold_settings_are_config_errors(tmp_path, kwargs, fragment):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, ROWS)))
    path, _ = _csv(tmp_path / "a.csv", close)
    with pytest.raises(ConfigError, match=fragment):
        plan_folds(StocksDataModule(path=str(path)).row_dates(), HORIZON, WINDOW, 0.15, **kwargs)


def test_a_panel_fold_cannot_see_past_its_cutoff_in_any_series(tmp_path):
    rng = np.random.default_rng(5)
    closes = {name: level * np.exp(np.cumsum(rng.normal(0, 0.01, ROWS))) for name, level in (("x", 20.0), ("y", 700.0))}
    cut = 180
    for folder, rewrite in (("a", False), ("b", True)):
        for name, close in closes.items():
            close = close.copy()
            if rewrite:  # every value after the cutoff, in every series
                close[cut + 1 :] = close[cut + 1 :] * 0.5 + 3.0
            _, dates = _csv(tmp_path / folder / f"{name}.csv", close)
    a, b = _fold(tmp_path / "a", dates[cut]), _fold(tmp_path / "b", dates[cut])
    assert a.preprocessor.series == ["x", "y"] and a.preprocessor.state_dict() == b.preprocessor.state_dict()
    torch.manual_seed(0)
    net = TCNForecaster(1, HORIZON, channels=[4, 4]).eval()
    fold = plan_folds(a.row_dates(), HORIZON, WINDOW, 0.15, cutoffs=[dates[cut]])[0]
    forecast_a, forecast_b = fold_forecast(fold, net, a, {}), fold_forecast(fold, net, b, {})
    assert forecast_a.series == ["x", "y"]
    torch.testing.assert_close(forecast_a.answers, forecast_b.answers)
    assert not torch.allclose(forecast_a.batch["future"], forecast_b.batch["future"])


def test_the_backtest_figure_draws_each_folds_forecast_with_its_quantile_band(tmp_path, monkeypatch):
    from seqconv.tasks.figures import plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep the figure to look at it
    rng = np.random.default_rng(3)
    rows = []
    for fold, cutoff in enumerate(("2020-01-06", "2020-01-13")):
        dates = pd.bdate_range(pd.Timestamp(cutoff) + pd.Timedelta(days=1), periods=3)
        for step, date in enumerate(dates, start=1):
            forecast = 100 + rng.normal()
            rows.append({
                "series": "s", "fold": fold, "cutoff": cutoff, "date": str(date.date()), "step": step,
                "actual": 100 + rng.normal(), "forecast": forecast, "q0.1": forecast - step, "q0.5": forecast,
                "q0.9": forecast + 2 * step, "persistence": 100.0,
            })  # fmt: skip
    path = plot_backtest(tmp_path, rows, [0.1, 0.5, 0.9], "price")
    assert path == tmp_path / "backtest.png" and path.stat().st_size > 0
    (fig,) = figures
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # one band per fold
    for band, fold in zip(ax.collections, (0, 1), strict=True):
        own = [r for r in rows if r["fold"] == fold]
        heights = band.get_paths()[0].vertices[:, 1]
        assert heights.min() == pytest.approx(min(r["q0.1"] for r in own))
        assert heights.max() == pytest.approx(max(r["q0.9"] for r in own))
    forecast_lines = [line for line in ax.get_lines() if line.get_color() == "tab:blue"]
    assert [list(line.get_ydata()) for line in forecast_lines] == [
        [r["forecast"] for r in rows if r["fold"] == fold] for fold in (0, 1)
    ]
    assert {"actual", "model", "persistence", "0.1-0.9"} <= {t.get_text() for t in ax.get_legend().get_texts()}
    monkeypatch.undo()
    plt.close(fig)
