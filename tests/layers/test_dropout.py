"""seqconv's per-value Dropout: torch.nn.Dropout's contract (drop rate, scale, expectation, identity in eval
mode, seeded repeatability, gradients through the mask), with its mask drawn 16 bits per value."""

import pytest
import torch
from torch import nn

from seqconv.layers import Dropout, create_dropout


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5])
def test_drops_each_value_with_probability_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    x = torch.ones(200, 50, 101)  # 1,010,000 values: an odd count, not a multiple of the 4 lanes per word
    y = Dropout(p).train()(x)
    dropped = y == 0
    rate = dropped.double().mean().item()
    assert abs(rate - p) < 5 * (p * (1 - p) / x.numel()) ** 0.5  # five standard errors
    kept = y[~dropped].unique()
    effective = round(p * 65536) / 65536
    assert kept.numel() == 1 and kept.item() == pytest.approx(1 / (1 - effective), rel=1e-6)
    assert y.mean().item() == pytest.approx(1.0, abs=5e-3)  # the expectation is kept


def test_the_four_lanes_of_a_word_drop_independently():
    torch.manual_seed(1)
    dropped = (Dropout(0.5).train()(torch.ones(400_000)) == 0).double().view(-1, 4)  # one row per 64-bit word
    correlation = torch.corrcoef(dropped.T)  # [4, 4] between the lanes
    assert (correlation - torch.eye(4)).abs().max() < 0.01
    assert (dropped.mean(dim=0) - 0.5).abs().max() < 0.005  # every lane, the top one included, is uniform


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_mask_follows_the_documented_rule_from_the_generator_s_words(dtype):
    """Each value's 16-bit lane of torch's 64-bit random words decides it: kept (and scaled) when the lane, read as
    a signed draw, is at least round(p * 65536) - 32768; the mask and its scale are in the input's dtype, also for
    a non-contiguous input."""
    p, lanes = 0.1, 2**16
    x = torch.randn(6, 30, 5).to(dtype).transpose(1, 2)  # [B, C, L] as a transposed view, like a LayerNorm's output
    torch.manual_seed(5)
    y = Dropout(p).train()(x)
    torch.manual_seed(5)
    words = torch.empty((x.numel() + 3) // 4, dtype=torch.int64).random_(-(2**63), None)
    draws = words.view(torch.int16)[: x.numel()].view(x.shape)
    dropped = round(p * lanes)
    scale = torch.tensor(lanes / (lanes - dropped), dtype=dtype)  # the scale in the input's precision
    expected = x * torch.where(draws >= dropped - lanes // 2, scale, torch.zeros((), dtype=dtype))
    assert y.dtype == dtype and torch.equal(y, expected)


def test_identity_in_eval_mode_and_at_p_zero():
    x = torch.randn(4, 3, 10)
    assert torch.equal(Dropout(0.3).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)


def test_seeded_masks_repeat_and_gradients_pass_through_the_mask():
    x = torch.randn(8, 16, 30, requires_grad=True)
    drop = Dropout(0.2).train()
    torch.manual_seed(3)
    first = drop(x)
    torch.manual_seed(3)
    second = drop(x)
    assert torch.equal(first, second)
    first.sum().backward()
    mask = first.detach() / x.detach()  # 0 or the scale, per value
    torch.testing.assert_close(x.grad, mask)


def test_inplace_and_scripted_like_nn_dropout():
    torch.manual_seed(4)
    x = torch.randn(2, 3, 40)
    out = Dropout(0.5, inplace=True).train()(x)
    assert out.data_ptr() == x.data_ptr() and ((x == 0) | (x.abs() > 0)).all()
    scripted = torch.jit.script(Dropout(0.5).train())
    y = scripted(torch.ones(1000))
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert isinstance(Dropout(0.5), nn.Dropout) and repr(Dropout(0.5)) == "Dropout(p=0.5, inplace=False)"


def test_create_dropout_picks_per_value_or_spatial():
    assert type(create_dropout(0.1)) is Dropout
    assert type(create_dropout(0.1, spatial=True)) is nn.Dropout1d
    assert type(create_dropout(0.0)) is nn.Identity
