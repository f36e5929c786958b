import torch

from seqconv.layers import Dropout
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


def test_dropout_is_per_value_by_default_and_spatial_on_request():
    def dropout_types(model: torch.nn.Module) -> set[type]:
        return {type(m) for m in model.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)}

    assert dropout_types(TCNForecaster(1, 1)) == {Dropout}  # seqconv.layers.Dropout: per value
    assert dropout_types(TCNForecaster(1, 1, spatial_dropout=True)) == {torch.nn.Dropout1d}
    assert dropout_types(TCNForecaster(1, 1, dropout=0.0)) == set()
