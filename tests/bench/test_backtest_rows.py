"""The backtest rows' coverage interval: drawn over forecast origins, read from backtest.csv."""

from __future__ import annotations

import csv

import pytest

from seqconv.bench.backtest import coverage_interval


def _write(path, origins: list[bool], steps: int = 5, series: str = "s") -> None:
    """One fold per origin, each with ``steps`` rows whose actual lies inside [q0.1, q0.9] iff the origin's flag."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["series", "fold", "cutoff", "date", "step", "actual", "forecast", "q0.1", "q0.5", "q0.9"])
        for fold, inside in enumerate(origins):
            for step in range(1, steps + 1):
                actual = 1.0 if inside else 5.0
                writer.writerow([series, fold, "2020-01-01", "2020-01-02", step, actual, 1.0, 0.0, 1.0, 2.0])


def test_the_interval_resamples_whole_origins_not_points(tmp_path):
    # 20 origins, half of them covered in all 5 steps: 20 independent draws, not 100
    path = tmp_path / "backtest.csv"
    _write(path, [True, False] * 10)
    low, high = coverage_interval(path)
    assert low <= 0.5 <= high
    # a binomial of 20 draws at p=0.5 has a 95% interval of about 0.28-0.72; 100 independent points, 0.40-0.60
    assert low < 0.35 and high > 0.65


def test_all_or_nothing_origins_give_the_bounds(tmp_path):
    path = tmp_path / "backtest.csv"
    _write(path, [True] * 6)
    assert coverage_interval(path) == (1.0, 1.0)
    _write(path, [True, False])
    assert coverage_interval(path) == (0.0, 1.0)


def test_one_origin_is_its_own_coverage_and_no_quantiles_is_an_error(tmp_path):
    path = tmp_path / "backtest.csv"
    _write(path, [False])
    assert coverage_interval(path) == (0.0, 0.0)
    path.write_text("series,fold,cutoff,date,step,actual,forecast\ns,0,2020-01-01,2020-01-02,1,1.0,1.0\n")
    with pytest.raises(ValueError, match="no quantile columns"):
        coverage_interval(path)
