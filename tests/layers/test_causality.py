"""Causal blocks: changing inputs after step t never changes outputs up to t."""

import pytest
import torch

from seqconv.layers import ConvNormAct, ResidualBlock, SeparableConvNormAct, TemporalConvNet, receptive_field
from seqconv.models import TCNForecaster

CAUSAL_BLOCKS = {
    "conv": lambda: ConvNormAct(3, 5, 4, dilation=3, padding="causal", norm="batch"),
    "conv_layer_norm": lambda: ConvNormAct(3, 5, 3, padding="causal", norm="layer"),
    "separable": lambda: SeparableConvNormAct(3, 6, 5, dilation=2, padding="causal"),
    "residual": lambda: ResidualBlock(3, 5, 3, dilation=4, padding="causal", norm="layer"),
    "tcn_stack": lambda: TemporalConvNet(3, [8, 8, 8], kernel_size=3, norm="batch"),
    "tcn_model_features": lambda: TCNForecaster(3, channels=[8, 8, 8]).forward_features,
    "tcn_model_sequence": lambda: TCNForecaster(3, channels=[8, 8, 8]).forward_sequence,
}


def _eval(fn):
    owner = getattr(fn, "__self__", fn)
    owner.eval()
    return fn


@pytest.mark.parametrize("name", sorted(CAUSAL_BLOCKS))
@pytest.mark.parametrize("t", [0, 7, 20, 38])
def test_future_inputs_do_not_change_past_outputs(name, t):
    torch.manual_seed(0)
    fn = _eval(CAUSAL_BLOCKS[name]())
    x = torch.randn(2, 3, 40)
    y = x.clone()
    y[:, :, t + 1 :] = torch.randn_like(y[:, :, t + 1 :]) * 10
    with torch.no_grad():
        out_x, out_y = fn(x), fn(y)
    torch.testing.assert_close(out_x[..., : t + 1], out_y[..., : t + 1])
    if t < 38:  # the future did change something, so the test can fail
        assert not torch.allclose(out_x[..., t + 1 :], out_y[..., t + 1 :])


def test_same_padding_is_not_causal():
    """Control: the causality test detects a non-causal block."""
    block = ConvNormAct(3, 5, 3, padding="same").eval()
    x = torch.randn(1, 3, 20)
    y = x.clone()
    y[..., 11:] += 1.0
    with torch.no_grad():
        assert not torch.allclose(block(x)[..., :11], block(y)[..., :11])


def _measured_receptive_field(fn, channels: int, length: int = 200) -> int:
    x = torch.randn(1, channels, length, requires_grad=True)
    fn(x)[0, :, -1].sum().backward()
    touched = (x.grad[0].abs().sum(dim=0) > 0).nonzero()
    return length - int(touched.min())


@pytest.mark.parametrize(("kernel_size", "base", "depth"), [(3, 2, 4), (2, 2, 3), (5, 3, 2)])
def test_receptive_field_formula_matches_gradient_reach(kernel_size, base, depth):
    torch.manual_seed(0)
    net = TemporalConvNet(2, [4] * depth, kernel_size=kernel_size, dilation_base=base, norm="none").eval()
    expected = 1 + 2 * (kernel_size - 1) * sum(base**i for i in range(depth))
    assert net.geometry()[0] == expected == receptive_field(net)
    assert _measured_receptive_field(net, 2) == expected


def test_tcn_forecaster_reports_its_receptive_field():
    model = TCNForecaster(1, channels=[8, 8, 8, 8], kernel_size=3).eval()
    assert model.receptive_field() == 61 == _measured_receptive_field(model.forward_sequence, 1)
