"""QuantileScores' CRPS against the closed form of a normal forecast, which it approximates from quantiles."""

import math

import pytest
import torch
from scipy.stats import norm

from seqconv.tasks.forecast_metrics import QuantileScores


def _normal_crps(mean: float, std: float, y: float) -> float:
    """Gneiting & Raftery (2007): CRPS(N(mean, std^2), y) = std * (z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi))."""
    z = (y - mean) / std
    return std * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


@pytest.mark.parametrize(("mean", "std", "y"), [(0.0, 1.0, 0.0), (0.0, 1.0, 2.5), (10.0, 3.0, 4.0), (-2.0, 0.5, -2.2)])
def test_crps_from_many_quantile_levels_matches_the_closed_form_of_a_normal_forecast(mean, std, y):
    levels = [(i + 0.5) / 2000 for i in range(2000)]  # midpoints: the mean over levels is the integral over (0, 1)
    quantiles = torch.tensor(norm.ppf(levels, loc=mean, scale=std)).view(1, 1, -1)  # [B=1, H=1, Q]
    scores = QuantileScores(levels)
    scores.update(quantiles, torch.tensor([[y]]))
    assert scores.compute()["crps"].item() == pytest.approx(_normal_crps(mean, std, y), rel=2e-3)


def test_crps_of_a_point_forecast_is_its_absolute_error():
    """With every level at one value the forecast is a point, and its CRPS is the absolute error."""
    scores = QuantileScores([(i + 0.5) / 100 for i in range(100)])
    scores.update(torch.full((2, 1, 100), 3.0), torch.tensor([[5.0], [1.5]]))
    assert scores.compute()["crps"].item() == pytest.approx((2.0 + 1.5) / 2)
