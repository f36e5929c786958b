"""ChannelLayerNorm: a LayerNorm over the channels of each time step, handed on as a plain [B, C, L] tensor."""

import torch
from torch import nn

from seqconv.layers import ChannelLayerNorm


def test_channel_layer_norm_normalises_each_time_step_over_its_channels_alone():
    torch.manual_seed(0)
    norm = ChannelLayerNorm(6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(3, 6, 11, requires_grad=True)
    y = norm(x)
    reference = nn.LayerNorm(6)
    reference.load_state_dict(norm.state_dict())
    x_ref = x.detach().clone().requires_grad_()
    expected = torch.stack([reference(x_ref[:, :, t]) for t in range(11)], dim=-1)  # one step at a time
    torch.testing.assert_close(y, expected)
    weights = torch.randn_like(y)
    (y * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(norm.weight.grad, reference.weight.grad)


def test_channel_layer_norm_output_is_laid_out_as_b_c_l_in_memory():
    """The next element-wise ops (activation, dropout, residual sum) run on one layout, not a transposed view."""
    y = ChannelLayerNorm(8)(torch.randn(4, 8, 30))
    assert y.shape == (4, 8, 30) and y.is_contiguous()
