"""A panel of series, one global model: each series keeps the scalers of its own training rows, every series is
split at the same calendar dates, short or disjoint series are named, and predict forecasts every series."""

import numpy as np
import pandas as pd
import pytest
import torch

from seqconv.data import DataError, StandardScaler, StocksDataModule
from seqconv.data.stocks import PanelDataset
from seqconv.export import forecast_csv


def _series(folder, name, start, rows, level, seed):
    folder.mkdir(parents=True, exist_ok=True)
    close = level * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, rows)))
    dates = pd.bdate_range(start, periods=rows).strftime("%Y-%m-%d")
    path = folder / f"{name}.csv"
    pd.DataFrame({"Date": dates, "Close": close}).to_csv(path, index=False)
    return path


@pytest.fixture
def panel(tmp_path):
    folder = tmp_path / "panel"
    paths = [
        _series(folder, "aaa", "2010-01-01", 300, 100.0, 0),
        _series(folder, "bbb", "2010-03-01", 280, 5.0, 1),  # starts later, another price level
        _series(folder, "ccc", "2009-11-02", 330, 2000.0, 2),
    ]
    return folder, paths


def test_each_series_keeps_its_own_scalers_and_all_share_the_calendar_cuts(panel):
    folder, paths = panel
    dm = StocksDataModule(path=str(folder), window=10, horizon=2)
    dm.setup()
    assert dm.preprocessor.series == ["aaa", "bbb", "ccc"] and isinstance(dm.datasets["train"], PanelDataset)
    calendar = dm.row_dates()
    val_cut, test_cut = calendar[round(len(calendar) * 0.70)], calendar[round(len(calendar) * 0.85)]
    for path in paths:  # the same series alone, cut at the panel's dates, fits the same scalers
        alone = StocksDataModule(
            path=str(path), window=10, horizon=2, val_start=str(val_cut.date()), test_start=str(test_cut.date())
        )
        alone.setup()
        assert dm.preprocessor.scalers[path.stem] == (
            alone.preprocessor.feature_scaler,
            alone.preprocessor.target_scaler,
        )
    for name, dates in dm.series_dates.items():
        assert dates[0] >= calendar[0] and dates[-1] <= calendar[-1], name
    assert dm.periods["test"][0] >= str(test_cut.date())  # no series' test period precedes another's training end
    batch = dm.datasets["test"].__getitems__(list(range(len(dm.datasets["test"]))))
    levels = {int(s): float(batch["last"][batch["series"] == s].mean()) for s in batch["series"].unique()}
    assert levels[1] < 10 < levels[0] < 200 < levels[2]  # items keep their series (and its price level)
    for s, name in enumerate(dm.preprocessor.series):  # and each item carries its own series' target scale
        mine = batch["series"] == s
        torch.testing.assert_close(
            batch["target_mean"][mine][0], torch.tensor(dm.preprocessor.scalers[name][1].mean).float()
        )
    assert dm.task_kwargs["series"] == ["aaa", "bbb", "ccc"]
    listed = StocksDataModule(path=[str(p) for p in paths], window=10, horizon=2)
    listed.setup()
    assert listed.preprocessor.state_dict() == dm.preprocessor.state_dict()  # a list of CSVs = their folder


def test_a_short_series_is_named_or_skipped(panel, caplog):
    folder, _ = panel
    _series(folder, "tiny", "2010-06-01", 40, 50.0, 3)
    with pytest.raises(DataError, match=r"tiny: the split points give .*data.on_short_series=skip to leave it out"):
        StocksDataModule(path=str(folder), window=10, horizon=2).setup()
    dm = StocksDataModule(path=str(folder), window=10, horizon=2, on_short_series="skip")
    dm.setup()
    assert dm.preprocessor.series == ["aaa", "bbb", "ccc"] and "series tiny left out" in caplog.text


def test_a_series_too_short_for_a_fold_is_named_before_any_fold_trains_or_skipped(tmp_path):
    """check_folds gives the error that training the fold would give (fold, cutoff, series) up front; with skip a
    fold needs one series long enough."""
    folder = tmp_path / "folds"
    _series(folder, "long", "2012-01-02", 500, 100.0, 0)
    _series(folder, "late", "2013-01-01", 240, 5.0, 1)  # joins the panel a year later
    dm = StocksDataModule(path=str(folder), window=20, horizon=3)
    dates = dm.row_dates()
    early, late = str(dates[-200].date()), str(dates[-10].date())  # "late" has about 35 rows up to the first
    dm.check_folds([(1, late, None)])  # both series long enough
    with pytest.raises(DataError, match=rf"fold 0 \(cutoff {early}\): late: the (train|val) split has \d+ rows"):
        dm.check_folds([(0, early, None), (1, late, None)])
    with pytest.raises(DataError, match=r"^late: the (train|val) split has .* data.on_short_series=skip to leave"):
        StocksDataModule(path=str(folder), window=20, horizon=3, cutoff=early).setup()  # what training would say
    skip = StocksDataModule(path=str(folder), window=20, horizon=3, on_short_series="skip")
    skip.check_folds([(0, early, None), (1, late, None)])  # "long" carries fold 0
    with pytest.raises(DataError, match=r"fold 2 \(cutoff .*\): every series is too short for its splits"):
        skip.check_folds([(2, str(dates[30].date()), None)])
    with pytest.raises(DataError, match=r"fold 3 .*: late: no rows from 2014-01-01 on"):
        dm.check_folds([(3, late, "2014-01-01")])  # a sliding window that starts after the series ends


def test_series_without_common_dates_are_refused(tmp_path):
    folder = tmp_path / "apart"
    _series(folder, "old", "2000-01-03", 200, 10.0, 0)
    _series(folder, "new", "2015-01-01", 200, 10.0, 1)
    with pytest.raises(DataError, match="the series have no dates in common"):
        StocksDataModule(path=str(folder), window=10).setup()
    with pytest.raises(DataError, match="is a folder without \\*.csv files"):
        StocksDataModule(path=str(tmp_path)).setup()


def test_predict_forecasts_every_series_of_a_folder_with_its_own_scalers(panel):
    folder, _ = panel
    dm = StocksDataModule(path=str(folder), window=10, horizon=2, transform="level")
    dm.setup()
    pre = dm.preprocessor
    for name in pre.series:  # identity scalers except each series' target mean: the forecast says whose it used
        pre.scalers[name] = (StandardScaler([0.0], [1.0]), StandardScaler([float(ord(name[0]))] * 2, [1.0, 1.0]))
    rows = forecast_csv(lambda x: torch.zeros(len(x), 2), pre, folder)
    assert [(r["series"], r["step"]) for r in rows] == [(s, k) for s in ("aaa", "bbb", "ccc") for k in (1, 2)]
    assert {r["series"]: r["forecast"] for r in rows} == {"aaa": ord("a"), "bbb": ord("b"), "ccc": ord("c")}
    stranger = folder.parent / "zzz.csv"
    stranger.write_text((folder / "aaa.csv").read_text())
    with pytest.raises(DataError, match=r"series 'zzz' is not one the model was trained on \(aaa, bbb, ccc\)"):
        forecast_csv(lambda x: torch.zeros(len(x), 2), pre, stranger)
