import itertools
import math

import pytest
import torch

from seqconv.layers import ConvNormAct, SeparableConvNormAct, check_bcl

GRID = list(itertools.product([1, 2, 3, 5], [1, 2, 3], [1, 2, 4], [1, 2], ["same", "valid", "causal"]))


@pytest.mark.parametrize(("kernel_size", "stride", "dilation", "groups", "padding"), GRID)
def test_output_length_follows_the_documented_formula(kernel_size, stride, dilation, groups, padding):
    block = ConvNormAct(4, 6, kernel_size, stride=stride, dilation=dilation, groups=groups, padding=padding).eval()
    for length in (17, 32):
        span = dilation * (kernel_size - 1) + 1
        if padding == "valid":
            expected = (length - span) // stride + 1
        else:
            expected = math.ceil(length / stride)
        out = block(torch.randn(3, 4, length))
        assert out.shape == (3, 6, expected)
        assert block.output_length(length) == expected


@pytest.mark.parametrize("padding", ["same", "valid", "causal"])
def test_separable_block_matches_plain_block_shape_with_fewer_weights(padding):
    plain = ConvNormAct(16, 32, 5, dilation=2, padding=padding)
    separable = SeparableConvNormAct(16, 32, 5, dilation=2, padding=padding)
    x = torch.randn(2, 16, 40)
    assert separable(x).shape == plain(x).shape
    assert sum(p.numel() for p in separable.parameters()) < sum(p.numel() for p in plain.parameters()) / 3


def test_same_padding_keeps_length_and_centres_the_kernel():
    block = ConvNormAct(1, 1, 3, padding="same", norm="none", act="none", bias=False)
    with torch.no_grad():
        block.conv.weight.copy_(torch.tensor([[[0.0, 1.0, 0.0]]]))  # identity kernel
    x = torch.randn(1, 1, 10)
    torch.testing.assert_close(block(x), x)


def test_causal_padding_is_left_only():
    block = ConvNormAct(1, 1, 3, dilation=2, padding="causal", norm="none", act="none", bias=False)
    assert block.pad == (4, 0)
    with torch.no_grad():
        block.conv.weight.copy_(torch.tensor([[[1.0, 0.0, 0.0]]]))  # picks x[t - 4]
    x = torch.arange(10.0).view(1, 1, 10)
    expected = torch.cat([torch.zeros(4), torch.arange(6.0)]).view(1, 1, 10)
    torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groups": 3}, "groups=3 must divide"),
        ({"padding": "full"}, "choose one of ['same', 'valid', 'causal']"),
        ({"norm": "instance"}, "choose one of ['batch', 'group', 'layer', 'none']"),
        ({"act": "swishh"}, "unknown activation act='swishh'"),
        ({"dropout": 1.5}, "dropout must be in [0, 1)"),
        ({"kernel_size": 0}, "kernel_size must be a positive integer"),
        ({"padding": "causal", "norm": "group", "num_groups": 2}, "would let the future leak"),
        ({"norm": "group", "num_groups": 5}, "divisible by num_groups"),
    ],
)
def test_invalid_options_fail_at_construction(kwargs, message):
    args = {"in_channels": 4, "out_channels": 8, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=None) as err:
        ConvNormAct(**args)
    assert message in str(err.value)


def test_kernel_longer_than_input_gets_a_clear_message():
    block = ConvNormAct(2, 2, 5, padding="valid")
    with pytest.raises(ValueError, match="shorter than the kernel span 5"):
        block(torch.randn(1, 2, 4))


def test_channels_last_input_suggests_transpose():
    block = ConvNormAct(3, 8, 3)
    with pytest.raises(ValueError, match=r"did you mean x.transpose\(1, 2\)"):
        block(torch.randn(2, 50, 3))


def test_two_dimensional_input_is_rejected_with_the_expected_layout():
    with pytest.raises(ValueError, match=r"expects input of shape \[B, C, L\].*unsqueeze\(1\)"):
        check_bcl(torch.randn(2, 50), 1, "Model")


def test_bias_defaults_to_off_when_a_norm_follows():
    assert ConvNormAct(2, 2, 3, norm="batch").conv.bias is None
    assert ConvNormAct(2, 2, 3, norm="none").conv.bias is not None


@pytest.mark.parametrize("spatial", [False, True])
def test_spatial_dropout_zeroes_whole_channels_and_element_dropout_single_values(spatial):
    torch.manual_seed(0)
    block = ConvNormAct(4, 64, 1, norm="none", act="none", dropout=0.5, spatial_dropout=spatial)
    with torch.no_grad():
        block.conv.weight.fill_(1.0)
        block.conv.bias.fill_(1.0)
    x = torch.ones(8, 4, 50)  # every pre-dropout value is 5
    y = block(x)  # [8, 64, 50]
    assert set(y.unique().tolist()) == {0.0, 10.0}  # dropped, or kept and scaled by 1 / (1 - p)
    dropped = y == 0
    channel_wise = (dropped.all(dim=-1) | (~dropped).all(dim=-1)).all()  # each (item, channel): all or none
    assert bool(channel_wise) is spatial
    assert 0.3 < dropped.float().mean() < 0.7
    block.eval()
    assert torch.equal(block(x), torch.full((8, 64, 50), 5.0))
