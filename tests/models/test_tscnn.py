import pytest
import torch
from torch import nn

from seqconv.models import TimeSeriesCNN


def test_classic_architecture_and_inferred_flatten_size():
    model = TimeSeriesCNN(in_channels=1, input_length=100)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0]) for c in convs] == [(1, 64, 3), (64, 128, 3)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(128 * 25, 50), (50, 1)]
    assert model(torch.randn(5, 1, 100)).shape == (5, 1)


@pytest.mark.parametrize(("channels", "length"), [(1, 37), (5, 64), (3, 4)])
def test_any_channels_and_window(channels, length):
    model = TimeSeriesCNN(channels, length, norm="batch", dropout=0.2)
    assert model(torch.randn(2, channels, length)).shape == (2, 1)


def test_window_too_short_for_the_pooling_fails_at_construction():
    with pytest.raises(ValueError, match="input_length=3 is too short"):
        TimeSeriesCNN(1, 3)


def test_wrong_length_at_forward_names_the_fixed_length():
    with pytest.raises(ValueError, match="built for windows of 100 steps"):
        TimeSeriesCNN(1, 100)(torch.randn(2, 1, 50))


def test_batch_consistency():
    torch.manual_seed(0)
    model = TimeSeriesCNN(2, 30, norm="batch").eval()
    x = torch.randn(6, 2, 30)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(6)])
    torch.testing.assert_close(batched, single)
