"""Causal layers stream: chunked ``stream`` equals ``forward``, a zero state is the causal zero padding, the state
is explicit, and a layer that cannot stream says what to change when streaming is asked of it."""

import pytest
import torch
from torch import nn

from seqconv.layers import (
    ChannelLayerNorm,
    ConvNormAct,
    ResidualBlock,
    SeparableConvNormAct,
    TemporalConvNet,
    check_norm_streams,
)
from seqconv.models import TCNForecaster

TOL = 1e-5

LAYERS = {
    "conv": lambda norm: ConvNormAct(3, 5, 4, dilation=3, padding="causal", norm=norm, act="gelu"),
    "conv_k2": lambda norm: ConvNormAct(3, 4, 2, padding="causal", norm=norm),
    "pointwise": lambda norm: ConvNormAct(3, 4, 1, norm=norm),  # a span of 1 streams in any padding mode
    "separable": lambda norm: SeparableConvNormAct(3, 6, 3, dilation=2, padding="causal", norm=norm),
    "residual": lambda norm: ResidualBlock(3, 5, 3, dilation=2, padding="causal", norm=norm),
    "residual_identity": lambda norm: ResidualBlock(4, 4, 2, dilation=3, padding="causal", norm=norm),
    "tcn": lambda norm: TemporalConvNet(3, [6, 6, 8], kernel_size=3, norm=norm),
    "forecaster": lambda norm: TCNForecaster(3, 2, channels=(6, 6), norm=norm),
}


def _offline(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return layer.forward_sequence(x) if isinstance(layer, TCNForecaster) else layer(x)


def _build(name: str, norm: str = "batch", seed: int = 0) -> nn.Module:
    """The layer in eval mode with non-trivial norm weights and BatchNorm statistics, so no norm bug hides."""
    torch.manual_seed(seed)
    layer = LAYERS[name](norm)
    with torch.no_grad():
        for module in layer.modules():
            if isinstance(module, nn.BatchNorm1d | nn.LayerNorm):
                nn.init.uniform_(module.weight, 0.5, 1.5)
                nn.init.uniform_(module.bias, -0.3, 0.3)
        layer.train()
        for _ in range(3):
            _offline(layer, 2 * torch.randn(4, layer.in_channels, 30) + 1)  # running statistics away from (0, 1)
    return layer.eval()


def _random_chunks(x: torch.Tensor, seed: int) -> tuple[torch.Tensor, ...]:
    """``x`` ``[B, C, L]`` cut at random places into chunks of random lengths ``>= 1``."""
    generator = torch.Generator().manual_seed(seed)
    length = x.shape[-1]
    count = int(torch.randint(1, length // 2, (1,), generator=generator))
    cuts = (torch.randperm(length - 1, generator=generator)[:count] + 1).sort().values
    return torch.tensor_split(x, cuts.tolist(), dim=-1)


def _stream(layer: nn.Module, chunks: tuple[torch.Tensor, ...]) -> torch.Tensor:
    state, outputs = layer.initial_state(chunks[0].shape[0]), []
    for chunk in chunks:
        y, state = layer.stream(chunk, state)
        outputs.append(y)
    return torch.cat(outputs, dim=-1)  # [B, C_out, L]


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chunked_stream_equals_forward(name, norm, seed):
    layer = _build(name, norm, seed)
    x = torch.randn(2, layer.in_channels, 41)
    torch.testing.assert_close(_stream(layer, _random_chunks(x, seed)), _offline(layer, x), atol=TOL, rtol=0)


@pytest.mark.parametrize("name", ["conv", "residual", "forecaster"])
def test_one_step_at_a_time_equals_forward(name):
    layer = _build(name)
    x = torch.randn(3, layer.in_channels, 25)
    torch.testing.assert_close(_stream(layer, x.split(1, dim=-1)), _offline(layer, x), atol=TOL, rtol=0)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_zero_state_is_the_offline_zero_padding(name):
    layer = _build(name)
    x = torch.randn(2, layer.in_channels, 19)
    state = layer.initial_state(2)
    assert [tuple(s.shape) for s in state] == [(2, c, p) for c, p in layer.state_shapes()]
    assert all(not s.any() for s in state)
    y, _ = layer.stream(x, state)
    torch.testing.assert_close(y, _offline(layer, x), atol=TOL, rtol=0)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_the_state_holds_the_receptive_field(name):
    layer = _build(name)
    field = layer.receptive_field() if isinstance(layer, TCNForecaster) else layer.geometry()[0]
    assert 1 + sum(p for _, p in layer.state_shapes()) == field


def test_a_conv_state_is_its_last_inputs_in_place_of_the_zero_padding():
    conv = _build("conv")  # kernel_size=4, dilation=3: P = 9 steps
    assert conv.state_shapes() == [(3, 9)]
    x = torch.randn(2, 3, 30)
    zeros = torch.zeros(2, 3, 9)
    from_zeros, state = conv.stream(x[:, :, :20], [zeros])
    prefixed = conv(torch.cat([zeros, x[:, :, :20]], dim=-1))[:, :, 9:]  # explicit zeros = the causal padding
    torch.testing.assert_close(from_zeros, prefixed, atol=TOL, rtol=0)
    torch.testing.assert_close(state[0], x[:, :, 11:20], atol=0, rtol=0)
    short, state = conv.stream(x[:, :, 20:24], state)  # a chunk shorter than the state keeps older inputs
    torch.testing.assert_close(state[0], x[:, :, 15:24], atol=0, rtol=0)
    torch.testing.assert_close(short, conv(x[:, :, :24])[:, :, 20:], atol=TOL, rtol=0)


def test_a_span_of_one_needs_no_state():
    assert ConvNormAct(3, 4, 1, padding="same").eval().state_shapes() == []
    assert ResidualBlock(3, 4, 1, padding="causal").eval().state_shapes() == []


def test_stream_is_a_pure_function_of_its_state():
    layer = _build("tcn")
    x = torch.randn(2, 3, 7)
    state = [torch.randn_like(s) for s in layer.initial_state(2)]
    before = [s.clone() for s in state]
    first, first_state = layer.stream(x, state)
    again, again_state = layer.stream(x, state)
    torch.testing.assert_close(first, again, atol=0, rtol=0)
    for s, b, n1, n2 in zip(state, before, first_state, again_state, strict=True):
        torch.testing.assert_close(s, b, atol=0, rtol=0)  # the input state is never written to
        torch.testing.assert_close(n1, n2, atol=0, rtol=0)


REFUSED = {
    "centred": (
        lambda: ConvNormAct(2, 2, 3, padding="same"),
        r"ConvNormAct: cannot stream padding='same' with kernel_size=3: each output depends on 1 future inputs; "
        r"build it with padding='causal'",
    ),
    "valid": (
        lambda: ConvNormAct(2, 2, 3, dilation=2, padding="valid"),
        r"padding='valid'.*drops the first 4 outputs.*padding='causal'",
    ),
    "strided": (lambda: ConvNormAct(2, 2, 3, stride=2, padding="causal"), r"stride=2.*build it with stride=1"),
    "group_norm": (
        lambda: ConvNormAct(4, 4, 1, norm="group", num_groups=2),
        r"ConvNormAct\.norm: cannot stream a layer normalised by GroupNorm.*use norm='layer'",
    ),
    "batch_norm_training": (
        lambda: ConvNormAct(2, 2, 3, padding="causal", norm="batch").train(),
        r"ConvNormAct\.norm: BatchNorm1d in train mode.*call \.eval\(\) before streaming",
    ),
    "residual_centred": (
        lambda: ResidualBlock(2, 4, 3, padding="same"),
        r"ResidualBlock\.conv1: cannot stream padding='same'",
    ),
    "residual_strided": (
        lambda: ResidualBlock(2, 4, 3, stride=2, padding="causal"),
        r"ResidualBlock\.conv1: cannot stream a strided conv \(stride=2\)",
    ),
    "separable_centred": (
        lambda: SeparableConvNormAct(2, 4, 3, padding="same"),
        r"SeparableConvNormAct\.depthwise: cannot stream padding='same'",
    ),
    "tcn_training": (
        lambda: TemporalConvNet(2, [4, 4], norm="batch").train(),
        r"TemporalConvNet\.blocks\.0\.conv1\.norm: BatchNorm1d in train mode.*\.eval\(\)",
    ),
    "forecaster_training": (
        lambda: TCNForecaster(2, channels=(4,), norm="batch").train(),
        r"TCNForecaster\.tcn\.blocks\.0\.conv1\.norm: BatchNorm1d in train mode",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_layer_that_cannot_stream_says_what_to_change_when_asked_to(name):
    build, message = REFUSED[name]
    layer = build()
    x = torch.randn(1, layer.in_channels, 5)
    for ask in (
        layer.check_streamable,
        layer.state_shapes,
        lambda: layer.initial_state(1),
        lambda: layer.stream(x, []),
    ):
        with pytest.raises(ValueError, match=message):
            ask()


def test_batch_norm_streams_again_once_in_eval_mode():
    layer = _build("residual", "batch")
    x = torch.randn(2, 3, 12)
    state = layer.initial_state(2)
    layer.train()
    with pytest.raises(ValueError, match="train mode"):
        layer.stream(x, state)
    y, _ = layer.eval().stream(x, state)
    torch.testing.assert_close(y, layer(x), atol=TOL, rtol=0)


def test_stream_checks_its_inputs():
    layer = _build("residual")  # in 3 channels; states [B, 3, 4] and [B, 5, 4]
    state = layer.initial_state(2)
    with pytest.raises(ValueError, match=r"expects 2 state tensors .*got 1; start from initial_state"):
        layer.stream(torch.randn(2, 3, 4), state[:1])
    with pytest.raises(ValueError, match=r"state\[1\] must be \[B, C, P\] = \[3, 5, 4\].*got \(2, 5, 4\)"):
        layer.stream(torch.randn(3, 3, 4), [torch.zeros(3, 3, 4), state[1]])
    with pytest.raises(ValueError, match="transpose"):
        layer.stream(torch.randn(2, 4, 3), state)
    with pytest.raises(ValueError, match="empty chunk"):
        layer.stream(torch.randn(2, 3, 0), state)


@pytest.mark.parametrize(
    "norm",
    [ChannelLayerNorm(4), nn.Identity(), nn.BatchNorm1d(4).eval()],
    ids=["channel_layer_norm", "identity", "batch_norm_eval"],
)
def test_per_step_norms_stream(norm):
    check_norm_streams(norm, "here")
    x = torch.randn(2, 4, 15)
    chunks = torch.cat([norm(chunk) for chunk in _random_chunks(x, 0)], dim=-1)
    torch.testing.assert_close(chunks, norm(x), atol=TOL, rtol=0)


@pytest.mark.parametrize(
    ("norm", "message"),
    [
        (nn.BatchNorm1d(4), r"here: BatchNorm1d in train mode .*call \.eval\(\)"),
        (nn.BatchNorm1d(4, track_running_stats=False).eval(), "BatchNorm1d without running statistics"),
        (nn.GroupNorm(2, 4), "GroupNorm, which pools statistics over time steps; use norm='layer'"),
        (nn.InstanceNorm1d(4), "InstanceNorm1d"),
    ],
    ids=["batch_norm_training", "batch_norm_no_stats", "group_norm", "instance_norm"],
)
def test_norms_that_mix_time_steps_cannot_stream(norm, message):
    with pytest.raises(ValueError, match=message):
        check_norm_streams(norm, "here")
