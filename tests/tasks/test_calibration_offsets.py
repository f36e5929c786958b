"""Conformal quantile offsets (task.calibration=conformal): the order statistics split conformal prediction
prescribes, the coverage guarantee on the calibration items, nominal coverage on fresh exchangeable data however
wrong the network's quantiles are, and the preprocessor that carries the offsets to every reader."""

import numpy as np
import pytest
import torch

from seqconv.data.stocks import StocksPreprocessor
from seqconv.data.stocks.preprocessor import split_output
from seqconv.tasks.calibration import fit_quantile_offsets

LEVELS = [0.1, 0.5, 0.9]


def _quantiles(n: int, horizon: int, low: float, high: float) -> torch.Tensor:
    """``[n, H, 3]`` constant quantiles ``low, 0, high``."""
    return torch.tensor([low, 0.0, high]).expand(n, horizon, 3).clone()


@pytest.mark.parametrize(("n", "lower_rank", "upper_rank"), [(10, 1, 10), (19, 2, 18)])
def test_offsets_are_the_conformal_order_statistics_of_the_residuals(n, lower_rank, upper_rank):
    # 0.1: the floor((n + 1) 0.1)-th smallest residual, 0.9: the ceil((n + 1) 0.9)-th (n = 10: 1st and 10th, where
    # the plain empirical quantiles would take the 1st and 9th; n = 19: 2nd and 18th, not the 1st and 18th)
    target = torch.as_tensor(np.random.default_rng(n).permutation(n).astype(float))[:, None]  # [n, H = 1]
    quantiles = _quantiles(n, 1, -1.0, 1.0)
    offsets = fit_quantile_offsets(quantiles, target, LEVELS)
    below = sorted((target[:, 0] - -1.0).tolist())  # residuals y - q of the lowest level
    above = sorted((target[:, 0] - 1.0).tolist())
    assert offsets.tolist() == [[below[lower_rank - 1], 0.0, above[upper_rank - 1]]]


@pytest.mark.parametrize(("low", "high"), [(-3.0, 3.0), (-0.2, 0.2), (-1.0, 2.5)])
def test_the_calibration_items_are_covered_at_least_nominally_and_fresh_ones_nominally(low, high):
    rng = np.random.default_rng(0)
    horizon, n = 2, 4000
    scale = torch.tensor([1.0, 2.0])  # step 2 twice as uncertain as step 1
    target = torch.as_tensor(rng.standard_normal((n, horizon))) * scale
    quantiles = _quantiles(n, horizon, low, high)  # far too wide, far too narrow, skewed
    offsets = fit_quantile_offsets(quantiles, target, LEVELS)
    shifted = split_output(quantiles.reshape(n, -1), horizon, LEVELS, offsets)
    inside = (target >= shifted[..., 0]) & (target <= shifted[..., 2])  # [n, H]
    assert (inside.double().mean(dim=0) >= 0.8).all()  # the finite-sample guarantee, per step
    assert ((target < shifted[..., 0]).double().mean(dim=0) <= 0.1).all()
    assert ((target > shifted[..., 2]).double().mean(dim=0) <= 0.1).all()
    fresh = torch.as_tensor(rng.standard_normal((n, horizon))) * scale
    covered = ((fresh >= shifted[..., 0]) & (fresh <= shifted[..., 2])).double().mean(dim=0)
    torch.testing.assert_close(covered, torch.full((horizon,), 0.8, dtype=torch.float64), atol=0.03, rtol=0)
    assert (offsets[:, 1] == 0).all()  # the point forecast is left as the network gives it


def test_offsets_never_make_quantiles_cross_nor_move_the_point_forecast():
    output = torch.tensor([[-1.0, 0.0, 1.0], [1.0, -2.0, 0.5]])  # [B, H * Q], H = 1; the second row unsorted
    shifted = split_output(output, 1, LEVELS, [[2.5, 0.0, -2.5]])  # alone, the shifts would cross the median
    assert shifted.tolist() == [[[0.0, 0.0, 0.0]], [[0.5, 0.5, 0.5]]]  # the bounds stop at the point forecast
    levels = [0.05, 0.25, 0.5, 0.75, 0.95]
    output = torch.tensor([[-2.0, -1.0, 0.0, 1.0, 2.0]])
    shifted = split_output(output, 1, levels, [[1.5, -0.5, 0.0, 0.25, -3.0]])
    assert shifted.tolist() == [[[-1.5, -1.5, 0.0, 1.25, 1.25]]]  # monotone on each side, the median kept


def test_the_preprocessor_carries_the_offsets_through_its_state():
    pre = StocksPreprocessor(horizon=2, quantiles=LEVELS)
    pre.set_quantile_offsets([[-0.5, 0.0, 0.25], [-0.75, 0.0, 0.5]])
    state = pre.state_dict()
    restored = StocksPreprocessor.from_state(state)
    assert restored.quantile_offsets == [[-0.5, 0.0, 0.25], [-0.75, 0.0, 0.5]]
    output = torch.zeros(1, 6)
    assert restored.split_output(output).tolist() == [[[-0.5, 0.0, 0.25], [-0.75, 0.0, 0.5]]]
    assert restored.output_spec()["quantile_offsets"] == restored.quantile_offsets
    del state["quantile_offsets"]  # a checkpoint written before calibration existed
    assert StocksPreprocessor.from_state(state).quantile_offsets is None


@pytest.mark.parametrize(
    "offsets", [[[0.0, 0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0, float("nan")], [0.0, 0.0, 0.0]]]
)
def test_offsets_of_the_wrong_shape_or_not_finite_are_refused(offsets):
    pre = StocksPreprocessor(horizon=2, quantiles=LEVELS)
    with pytest.raises(ValueError, match="quantile offsets must be"):
        pre.set_quantile_offsets(offsets)
