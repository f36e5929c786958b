import numpy as np
import pytest
import torch

from seqconv.data import sliding_windows


def _naive(series: np.ndarray, length: int, step: int) -> np.ndarray:
    out = []
    for start in range(0, series.shape[1] - length + 1, step):
        out.append(series[:, start : start + length])
    return np.stack(out)


@pytest.mark.parametrize(
    ("channels", "n", "length", "step"), [(1, 10, 3, 1), (3, 25, 7, 2), (2, 9, 9, 1), (4, 30, 5, 4)]
)
def test_windows_equal_a_naive_loop(channels, n, length, step):
    series = np.random.default_rng(0).standard_normal((channels, n)).astype(np.float32)
    windows = sliding_windows(torch.from_numpy(series), length, step)
    np.testing.assert_array_equal(windows.numpy(), _naive(series, length, step))


def test_windows_are_a_view_not_a_copy():
    series = torch.arange(1000.0).view(1, -1)
    windows = sliding_windows(series, 100)
    assert windows.shape == (901, 1, 100)
    assert windows.untyped_storage().data_ptr() == series.untyped_storage().data_ptr()
    series[0, 150] = -1.0
    assert windows[100, 0, 50] == -1.0


def test_window_longer_than_series_is_refused():
    with pytest.raises(ValueError, match="exceeds the series length"):
        sliding_windows(torch.zeros(1, 5), 6)
