import torch

from seqconv.models import TCNForecaster


def test_any_length_and_last_step_forecast():
    model = TCNForecaster(3, out_features=2).eval()
    for length in (1, 10, 200):
        assert model(torch.randn(4, 3, length)).shape == (4, 2)
    x = torch.randn(2, 3, 50)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.forward_sequence(x)[:, :, -1])


def test_batch_consistency():
    torch.manual_seed(0)
    model = TCNForecaster(1).eval()
    x = torch.randn(5, 1, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch.cat([model(x[i : i + 1]) for i in range(5)]))
