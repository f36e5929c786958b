import pytest
import torch

from seqconv.layers import GlobalPool1d


@pytest.mark.parametrize(("pool_type", "channels"), [("avg", 3), ("max", 3), ("avgmax", 6)])
def test_shapes(pool_type, channels):
    assert GlobalPool1d(pool_type)(torch.randn(2, 3, 9)).shape == (2, channels)


def test_mask_ignores_padded_steps():
    x = torch.tensor([[[1.0, 2.0, 100.0]]])
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(GlobalPool1d("max")(x, mask), torch.tensor([[2.0]]))
    torch.testing.assert_close(GlobalPool1d("avg")(x, mask), torch.tensor([[1.5]]))
    torch.testing.assert_close(GlobalPool1d("avgmax")(x, mask), torch.tensor([[1.5, 2.0]]))


def test_unknown_pool_type_lists_choices():
    with pytest.raises(ValueError, match=r"choose one of \['avg', 'max', 'avgmax'\]"):
        GlobalPool1d("mean")
